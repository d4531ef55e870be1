/**
 * Rule 1, the bottleneck (Flink's rule): an operator busy and not backpressured itself, with
 * backpressured operators upstream of it.
 */
import type { Evidence } from '../evidence.ts'
import type { Finding, OperatorView } from '../types.ts'
import { inputs, outputs, type Context, type Scored } from './context.ts'
import { loadOf, scaledParallelism, type Load } from './measure.ts'
import { hotKeysText, isOnePhaseWindowAggregate, skewOf } from './skew.ts'
import { names, onWorkers, parallelismOf, round } from './text.ts'

export function bottlenecks(ctx: Context): Scored[] {
  const loads = new Map<string, Load>()
  for (const op of ctx.view.operators) {
    const l = loadOf(ctx, op.id)
    if (l !== null) loads.set(op.id, l)
  }
  const backpressured = (id: string): boolean => loads.get(id)?.backpressured === true
  const upstreamOf = new Map<string, string[]>()
  for (const start of ctx.view.operators.map((op) => op.id).filter(backpressured)) {
    const seen = new Set([start])
    let frontier = [start]
    while (frontier.length > 0) {
      const next: string[] = []
      for (const e of frontier.flatMap((id) => outputs(ctx, id))) {
        if (seen.has(e.to)) continue
        seen.add(e.to)
        // An operator waiting on its service holds the backpressure: what lies past it is not the cause.
        if (ctx.waitingOnCalls.has(e.to)) continue
        // Walk past backpressured and quiet operators to the first busy one: tasks that share a
        // thread wait for it (not for a full queue), so the ones between need not look backpressured.
        if (backpressured(e.to)) next.push(e.to)
        else if (loads.get(e.to)?.busy === true) upstreamOf.set(e.to, [...(upstreamOf.get(e.to) ?? []), start])
        else next.push(e.to)
      }
      frontier = next
    }
  }
  return [...upstreamOf].map(([id, upstream]) => bottleneckFinding(ctx, ctx.ops.get(id) as OperatorView, loads.get(id) as Load, upstream, loads))
}

function bottleneckFinding(ctx: Context, op: OperatorView, load: Load, upstream: string[], loads: Map<string, Load>): Scored {
  const upstreamBp = Math.max(...upstream.map((id) => loads.get(id)?.backpressuredMs ?? 0))
  const evidence: Evidence = {
    busyMsPerSecond: Math.round(load.busyMs),
    hottestSubtaskBusyMsPerSecond: Math.round(load.hotBusyMs),
    upstreamBackpressuredMsPerSecond: Math.round(upstreamBp),
    recordsInPerSecond: round(op.recordsInPerSecond),
    parallelism: op.parallelism,
    backpressuredUpstream: upstream.join(', '),
  }
  const busy = `busy ${Math.round(Math.max(load.busyMs, load.hotBusyMs))} ms/s`
  const waiting = `${names(upstream)} upstream ${upstream.length > 1 ? 'are' : 'is'} backpressured`
  const score = Math.max(load.busyMs, load.hotBusyMs) / ctx.o.busyMsPerSecond
  const finding = (title: string, recommendation: string, action: Finding['action']): Scored =>
    ({ score, finding: { kind: 'bottleneck', severity: 'critical', title, operator: op.id, evidence, recommendation, action } })

  if (op.kind === 'sink') {
    return finding(`\`${op.id}\` is the bottleneck: the sink is ${busy} on its thread (encoding and handing over records, not awaiting writes) while ${waiting}`,
      `\`${op.id}\` spends its thread on each record: give it parallel writers (${parallelismOf(op, op.parallelism * 2)}, for a sink that allows several) or use a faster sink`, null)
  }
  if (hotKeyBlocksScaling(ctx, op, load)) {
    const keys = hotKeysText(op)
    if (keys !== null) {
      evidence.hotKeys = keys
      if (typeof op.hotKeysSampled === 'number') evidence.hotKeysSampled = op.hotKeysSampled
    }
    evidence.hotSubtask = load.hotSubtask
    return finding(`\`${op.id}\` is the bottleneck: ${busy} on ${keys === null ? `hot subtask ${load.hotSubtask}` : `hot keys ${keys}`} while ${waiting}`,
      `enable two-phase aggregation for \`${op.id}\` (give its aggregate a merge() and do not set twoPhase: false) so each upstream subtask pre-aggregates the hot key; more parallelism will not spread one key`,
      { kind: 'enable-two-phase', operator: op.id })
  }
  const q = scaledParallelism(ctx, op.parallelism, load.busyMs)
  evidence.recommendedParallelism = q
  const oneThread = ctx.view.workerCount === 0 ? `, and run the job ${onWorkers(q)}: it runs on one thread now` : ''
  return finding(`\`${op.id}\` is the bottleneck: ${busy} while ${waiting}`,
    `raise parallelism of \`${op.id}\` from ${op.parallelism} to ${q} (${parallelismOf(op, q)})${oneThread}`, { kind: 'set-parallelism', operator: op.id, parallelism: q })
}

/**
 * A one-phase window aggregate behind a hash exchange whose hottest key alone would keep one subtask
 * above the target, or whose subtasks are skewed: more parallelism cannot help, pre-aggregation can.
 */
function hotKeyBlocksScaling(ctx: Context, op: OperatorView, load: Load): boolean {
  if (!isOnePhaseWindowAggregate(op) || !inputs(ctx, op.id).some((e) => e.partitioning === 'hash')) return false
  const top = op.hotKeys?.[0]
  const keyLoadMs = top === undefined ? 0 : top.share * op.parallelism * load.busyMs
  return keyLoadMs >= ctx.o.targetBusyMsPerSecond || skewOf(ctx, op) !== null
}
