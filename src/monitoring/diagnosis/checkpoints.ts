/** Rule 8: checkpoints failing, or their snapshots taking much of the tasks' time. */
import type { Context, Scored } from './context.ts'
import { round } from './text.ts'

export function checkpoints(ctx: Context): Scored[] {
  const c = ctx.view.checkpoints
  if (c === null) return []
  const out: Scored[] = []
  // A checkpoint in flight when a task ends (a bounded job finishing) fails harmlessly.
  const f = ctx.view.status === 'running' && c.lastFailure !== null && !/task (ended|had ended)/.test(c.lastFailure.reason) ? c.lastFailure : null
  if (f !== null) {
    const timedOut = /timed out/.test(f.reason)
    const why = f.reason.replace(/^[A-Z_]+: /, '').split(': ')[0]
    out.push({
      score: 1 + c.failed / Math.max(1, c.completed),
      finding: {
        kind: 'checkpoints', severity: c.completed === 0 ? 'critical' : 'warning', operator: null, action: null,
        title: `checkpoints are failing: checkpoint ${f.id} failed (${why}); ${c.failed} failed, ${c.completed} completed`,
        evidence: { failed: c.failed, completed: c.completed, lastFailedId: f.id, timeoutMs: c.timeoutMs, ...(c.lastStartDelayMs === null ? {} : { lastStartDelayMs: c.lastStartDelayMs }) },
        recommendation: timedOut
          ? `a barrier waits behind the records queued ahead of it, so backpressure slows checkpoints down: remove the bottleneck (see the other findings), lower \`run({ channelCapacity })\` (default 16 384 records), or raise \`--checkpoint-timeout\` (from code, \`checkpoints: { timeoutMs }\`)`
          : `${f.reason}; after a failure the job resumes from checkpoint ${c.lastId === 0 ? '(none yet: from the start)' : c.lastId}`,
      },
    })
  }
  if (c.lastSyncMs !== null && c.intervalMs > 0 && c.lastSyncMs > ctx.o.checkpointSyncShare * c.intervalMs) {
    const share = c.lastSyncMs / c.intervalMs
    const interval = Math.ceil((c.lastSyncMs / ctx.o.checkpointSyncShare) / 1000)
    out.push({
      score: share / ctx.o.checkpointSyncShare,
      finding: {
        kind: 'checkpoints', severity: 'warning', operator: null, action: null,
        title: `checkpoint snapshots stop a task for ${Math.round(c.lastSyncMs)} ms every ${round(c.intervalMs / 1000)} s (${Math.round(share * 100)} % of its time)`,
        evidence: { lastSyncMs: Math.round(c.lastSyncMs), intervalMs: c.intervalMs, ...(c.lastSizeBytes === null ? {} : { lastSizeBytes: c.lastSizeBytes }) },
        recommendation: `take checkpoints less often (\`--checkpoint-interval ${interval}s\`, from code \`checkpoints: { intervalMs: ${interval * 1000} }\`, keeps it under ${Math.round(ctx.o.checkpointSyncShare * 100)} %), or keep less state (a TTL on keyed state: \`{ ttl: { ttlMs } }\`; shorter windows)`,
      },
    })
  }
  return out
}
