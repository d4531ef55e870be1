/**
 * Rule 1c, I/O-bound. A sink awaiting its writes (or a source its reads) leaves its thread free for
 * other work, so neither more CPU nor another thread helps it; fewer, larger requests or more of
 * them in flight at once (parallel subtasks, even on one thread) do.
 */
import type { Evidence } from '../evidence.ts'
import { ancestors, type Context, type Scored } from './context.ts'
import { loadOf, scaledParallelism } from './measure.ts'
import { names, parallelismOf, round } from './text.ts'

export function ioBound(ctx: Context): Scored[] {
  const ops = ctx.view.operators
  const sinkTasks = new Set(ops.filter((op) => op.kind === 'sink').map((op) => op.task))
  const out: Scored[] = []
  for (const op of ops) {
    // Operators chained into a task share its times: the calls it awaits are its sink's, or its source's when it has no sink.
    if (op.kind === 'operator' || (op.kind === 'source' && sinkTasks.has(op.task))) continue
    const load = loadOf(ctx, op.id)
    if (load === null || !load.waiting) continue
    const waitMs = Math.max(load.waitingMs, load.hotWaitingMs)
    const percent = Math.round(waitMs / 10)
    const above = ancestors(ctx, op.id)
    const upstream = ops.filter((o) => above.has(o.id) && loadOf(ctx, o.id)?.backpressured === true).map((o) => o.id)
    const limits = load.saturated || upstream.length > 0
    const sink = op.kind === 'sink'
    const evidence: Evidence = {
      waitingMsPerSecond: Math.round(waitMs),
      waitingPercent: percent,
      busyMsPerSecond: Math.round(load.busyMs),
      parallelism: op.parallelism,
      [sink ? 'recordsInPerSecond' : 'recordsOutPerSecond']: round(sink ? op.recordsInPerSecond : op.recordsOutPerSecond),
    }
    if (upstream.length > 0) evidence.backpressuredUpstream = upstream.join(', ')
    const q = scaledParallelism(ctx, op.parallelism, load.busyMs + load.waitingMs)
    if (limits) evidence.recommendedParallelism = q
    const what = sink ? 'writes' : 'reads'
    const held = upstream.length > 0 ? ` while ${names(upstream)} upstream ${upstream.length > 1 ? 'are' : 'is'} backpressured` : limits ? ', so it cannot take records faster' : ', with time to spare'
    const target = limits ? q : op.parallelism * 2
    const more = `${limits ? ` from ${op.parallelism} to ${q}` : ''} (${parallelismOf(op, target)})`
    out.push({
      score: waitMs / ctx.o.waitingMsPerSecond,
      finding: {
        kind: 'io-bound', severity: limits ? 'critical' : 'info', operator: op.id, evidence,
        title: `the ${sink ? 'sink' : 'source'} \`${op.id}\` waits on I/O ${percent} % of the time (${Math.round(waitMs)} ms/s awaiting its ${what}, ${Math.round(load.busyMs)} ms/s busy on its thread)${held}`,
        recommendation: sink
          ? `batch its writes (fewer, larger requests) or raise its parallelism${more} so more writes are in flight at once; the system it writes to is the limit, so more CPU or threads will not help`
          : `read bigger batches (fewer, larger requests: \`batchSize\` in the options of \`source('${op.id}', …)\`) or, if \`${op.id}\` is splittable (several files or partitions), raise its parallelism${more} so more reads are in flight at once; more CPU will not help`,
        action: limits && sink ? { kind: 'set-parallelism', operator: op.id, parallelism: q } : null,
      },
    })
  }
  return out
}
