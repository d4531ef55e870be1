/** Nothing found: the one finding of a healthy job, with its throughput and busiest operator. */
import type { Evidence } from '../evidence.ts'
import type { Context, Scored } from './context.ts'
import { loadOf, type Load } from './measure.ts'
import { round } from './text.ts'

export function healthy(ctx: Context): Scored {
  const { view } = ctx
  const evidence: Evidence = { recordsPerSecond: round(view.recordsPerSecond) }
  if (view.latency !== null) evidence.latencyP99Ms = Math.round(view.latency.p99)
  const busiest = view.operators.map((op) => ({ op, load: loadOf(ctx, op.id) })).filter((x) => x.load !== null).sort((a, b) => (b.load as Load).busyMs - (a.load as Load).busyMs)[0]
  if (busiest !== undefined) {
    evidence.busiestOperator = busiest.op.id
    evidence.busiestBusyMsPerSecond = Math.round((busiest.load as Load).busyMs)
  }
  evidence.historySeconds = ctx.window.length
  const p99 = view.latency === null ? '' : `, p99 latency ${Math.round(view.latency.p99)} ms`
  return {
    score: 0,
    finding: {
      kind: 'healthy', severity: 'info', operator: null, action: null, evidence,
      title: `the job is healthy: ${round(view.recordsPerSecond)} records/s${p99}, no bottleneck, skew or stalled watermark`,
      recommendation: 'nothing to change',
    },
  }
}
