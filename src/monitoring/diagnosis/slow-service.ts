/**
 * Rule 1d, a slow service. An asynchronous operator (mapAsync, mapAsyncBatch, lookupJoin) whose
 * call slots are all in use most of the time, while its task waits for one to free, takes records
 * only as fast as the service answers: more calls in flight at once, or more records per call,
 * raise its throughput; more CPU or threads do not. The operator's task then waits (it is not busy)
 * and its upstream is backpressured, so diagnose() keeps the bottleneck, saturated-thread,
 * I/O-bound and source-bound rules from naming it, or anything chained into it, for this.
 */
import type { Evidence } from '../evidence.ts'
import type { CallsView } from '../types.ts'
import { ancestors, series, type Context, type Scored } from './context.ts'
import { loadOf, mean, sustained } from './measure.ts'
import { latencyText, names, round } from './text.ts'

/** Calls in flight per subtask at most (the `concurrency` option's range). */
const MAX_CONCURRENCY = 10_000

export function slowServices(ctx: Context): Scored[] {
  const out: Scored[] = []
  for (const op of ctx.view.operators) {
    const calls = op.calls
    if (calls === undefined || calls === null) continue
    const s = series(ctx.window, op.id).filter((x) => x.m.calls !== undefined)
    if (s.length < ctx.o.minSamples) continue
    const full = s.map((x) => x.m.calls?.fullRatio ?? 0)
    if (!sustained(ctx, full, ctx.o.callsFullRatio)) continue
    const load = loadOf(ctx, op.id)
    if (load === null || !load.waiting) continue
    const waitMs = Math.max(load.waitingMs, load.hotWaitingMs)
    const timeouts = mean(s.map((x) => x.m.calls?.timeoutsPerSecond ?? 0))
    const failures = mean(s.map((x) => x.m.calls?.failuresPerSecond ?? 0))
    const above = ancestors(ctx, op.id)
    const upstream = ctx.view.operators.filter((o) => above.has(o.id) && loadOf(ctx, o.id)?.backpressured === true).map((o) => o.id)
    const p99 = calls.latency?.p99 ?? null
    const evidence: Evidence = {}
    if (p99 !== null) evidence.callLatencyP99Ms = round(p99)
    Object.assign(evidence, {
      callsInFlight: calls.inFlight,
      callCapacity: calls.capacity,
      callsFullPercent: Math.round(mean(full) * 100),
      waitingMsPerSecond: Math.round(waitMs),
      callsPerSecond: round(calls.callsPerSecond),
      concurrency: calls.concurrency,
    })
    if (calls.maxBatch > 1) evidence.maxBatch = calls.maxBatch
    if (timeouts > 0) evidence.callTimeoutsPerSecond = round(timeouts)
    if (failures > 0) evidence.callFailuresPerSecond = round(failures)
    if (upstream.length > 0) evidence.backpressuredUpstream = upstream.join(', ')
    evidence.parallelism = op.parallelism
    const troubles = [timeouts > 0 ? `${round(timeouts)} timeouts/s` : '', failures > 0 ? `${round(failures)} failed records/s` : ''].filter((t) => t !== '')
    const latency = p99 === null ? `no call ended in the last ${ctx.o.windowSamples} s` : `p99 ${latencyText(p99)}`
    const raise = calls.maxBatch > 1 ? `raise concurrency (now ${calls.concurrency}) or maxBatch (now ${calls.maxBatch})` : `raise concurrency (now ${calls.concurrency}) or batch size`
    const held = upstream.length > 0 ? `; ${names(upstream)} upstream ${upstream.length > 1 ? 'are' : 'is'} backpressured` : ''
    out.push({
      score: waitMs / ctx.o.waitingMsPerSecond,
      finding: {
        kind: 'slow-service', severity: upstream.length > 0 ? 'critical' : 'warning', operator: op.id, evidence, action: null,
        title: `\`${op.id}\` waits on its calls: ${latency}, ${calls.inFlight} of ${calls.capacity} in flight${troubles.map((t) => `, ${t}`).join('')}: ${raise}${held}`,
        recommendation: recommendation(op.id, calls, troubles),
      },
    })
  }
  return out
}

function recommendation(id: string, calls: CallsView, troubles: readonly string[]): string {
  const more = Math.min(MAX_CONCURRENCY, calls.concurrency * 2)
  const concurrency = `more calls in flight at once (\`{ concurrency: ${more} }\` in the options of \`${id}\`, now ${calls.concurrency} per subtask)`
  const batch = calls.maxBatch > 1
    ? `more records per call (\`{ maxBatch: ${calls.maxBatch * 2} }\`, now ${calls.maxBatch})`
    : 'fewer, larger calls, if the service takes batches (`.mapAsyncBatch()` with `{ maxBatch: 100 }`)'
  const careful = troubles.length > 0 ? `; it already ${troubles.length > 1 ? 'times out and fails' : /timeouts/.test(troubles[0]) ? 'times out' : 'fails'} (${troubles.join(', ')}), so first check that the service can take more load` : ''
  return `give \`${id}\` ${concurrency} or ${batch}: the service's latency is the limit, so more CPU or threads will not help${careful}`
}
