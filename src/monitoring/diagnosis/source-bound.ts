/** Rule 2, source-bound: the sources are busy reading while nothing downstream is busy or backpressured. */
import type { Context, Scored } from './context.ts'
import { loadOf, scaledParallelism, type Load } from './measure.ts'
import { jobParallelism, names, parallelismOf, round } from './text.ts'

export function sourceBound(ctx: Context): Scored[] {
  const sources = ctx.view.operators.filter((op) => op.kind === 'source')
  const loads = sources.map((op) => loadOf(ctx, op.id))
  if (sources.length === 0 || loads.some((l) => l === null || !l.busy || l.backpressured)) return []
  // Operators chained into a source's task share its busy time; they are not "downstream" of it.
  const sourceTasks = new Set(sources.map((op) => op.task))
  for (const op of ctx.view.operators) {
    if (op.kind === 'source' || sourceTasks.has(op.task)) continue
    const l = loadOf(ctx, op.id)
    if (l !== null && (l.busy || l.backpressured)) return []
  }
  const busiest = sources.map((op, i) => ({ op, load: loads[i] as Load })).sort((a, b) => b.load.busyMs - a.load.busyMs)[0]
  const { op, load } = busiest
  const q = scaledParallelism(ctx, op.parallelism, load.busyMs)
  return [{
    score: load.busyMs / ctx.o.busyMsPerSecond,
    finding: {
      kind: 'source-bound', severity: 'info', operator: op.id,
      title: `the job is source-bound: ${names(sources.map((s) => s.id))} ${sources.length > 1 ? 'are' : 'is'} busy ${Math.round(load.busyMs)} ms/s reading while nothing downstream is busy or backpressured, so the sources cannot read faster`,
      evidence: { busyMsPerSecond: Math.round(load.busyMs), recordsPerSecond: round(ctx.view.recordsPerSecond), parallelism: op.parallelism, sources: sources.length },
      recommendation: `the source cannot keep up: if \`${op.id}\` is splittable (several files or partitions, or a generator), raise its parallelism from ${op.parallelism} to ${q} (${parallelismOf(op, q)}, or ${jobParallelism(q)} for the whole job); otherwise add partitions or use a faster source`,
      action: null,
    },
  }]
}
