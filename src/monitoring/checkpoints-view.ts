/** The checkpoints part of the job view: counts, the last checkpoint's figures, the history, the restore. */
import type { CheckpointRecord, CheckpointRestore, CheckpointStats } from '../runtime/checkpoint/stats.ts'
import type { CheckpointRecordView, CheckpointView, JobView } from './types.ts'
import { nonNegative, round, roundN } from './view-parts.ts'

export function checkpointView(s: CheckpointStats | null): JobView['checkpoints'] {
  if (s === null) return null
  const r = s.restore
  const newest = s.history[s.history.length - 1]
  const lastFailure: CheckpointView['lastFailure'] = newest?.status === 'failed' ? { id: newest.id, triggeredAt: newest.triggeredAt, reason: newest.failure ?? 'unknown' } : null
  return {
    intervalMs: s.intervalMs,
    timeoutMs: s.timeoutMs,
    lastFailure,
    completed: s.completed,
    failed: s.failed,
    lastId: s.lastId,
    lastDurationMs: roundN(s.lastDurationMs),
    lastSizeBytes: s.lastSizeBytes,
    lastAlignmentMs: roundN(s.lastAlignmentMs),
    lastStartDelayMs: nonNegative(s.lastStartDelayMs),
    lastSyncMs: roundN(s.lastSyncMs),
    restarts: s.restarts ?? 0,
    restoredFrom: s.restoredFrom,
    restore: r === null ? null : { time: r.time, checkpointId: r.checkpointId, savepoint: r.savepoint, takenAt: r.takenAt, loadMs: round(r.loadMs), sizeBytes: r.sizeBytes },
  }
}

export function recordView(r: CheckpointRecord): CheckpointRecordView {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    triggeredAt: r.triggeredAt,
    durationMs: round(r.durationMs),
    sizeBytes: r.sizeBytes,
    alignmentMs: roundN(r.alignmentMs),
    startDelayMs: nonNegative(r.startDelayMs),
    syncMs: roundN(r.syncMs),
    acknowledged: r.acknowledged,
    tasks: r.tasks,
    failure: r.failure,
  }
}

/** "restored from checkpoint 12 (taken 2026-…, 3.2 MiB, loaded in 41 ms)", or "started from savepoint /path (…)". */
export function restoreMessage(r: CheckpointRestore, restarts: number): string {
  const details = `taken ${new Date(r.takenAt).toISOString()}, ${bytes(r.sizeBytes)}, loaded in ${round(r.loadMs)} ms`
  if (r.savepoint !== null) return `started from savepoint ${r.savepoint} (checkpoint ${r.checkpointId}, ${details})`
  return `restored from checkpoint ${r.checkpointId}${restarts > 0 ? ` after restart ${restarts}` : ''} (${details})`
}

/** 512 B, 3.2 KiB, 41.5 MiB. */
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let x = n
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024
    i++
  }
  return i === 0 ? `${x} B` : `${Math.round(x * 10) / 10} ${units[i]}`
}
