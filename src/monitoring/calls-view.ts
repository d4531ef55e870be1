/**
 * An asynchronous operator's calls in the job view (CallsView): its subtasks' cumulative call
 * metrics (metrics/call-metrics.ts) turned into rates over the last sample, gauges summed, and
 * latency percentiles and the cache hit ratio over the latency window, the way task latency is:
 * the difference of two cumulative histograms.
 */
import type { CallMetricsSnapshot } from '../metrics/call-metrics.ts'
import { addSparse, BUCKETS, percentiles } from '../metrics/histogram.ts'
import type { JobMetrics } from '../metrics/task-metrics.ts'
import type { CallsView } from './types.ts'
import { round } from './view-parts.ts'

/** An operator's call snapshots by subtask (empty: not asynchronous, or not reported yet). */
function callsOf(metrics: JobMetrics | null | undefined, id: string): Map<number, CallMetricsSnapshot> {
  const out = new Map<number, CallMetricsSnapshot>()
  for (const o of metrics?.operators ?? []) if (o.operator === id && o.calls !== undefined) out.set(o.subtask, o.calls)
  return out
}

/**
 * The calls of operator `id`: rates against `prev` (`dt` seconds before), percentiles and the cache
 * hit ratio against `oldest` (the start of the latency window); null when it makes no calls.
 */
export function callsView(id: string, cur: JobMetrics | null, prev: JobMetrics | null, oldest: JobMetrics | null, dt: number): CallsView | null {
  const now = callsOf(cur, id)
  if (now.size === 0) return null
  const before = callsOf(prev, id)
  const start = oldest === cur ? new Map<number, CallMetricsSnapshot>() : callsOf(oldest, id)
  const rate = (f: (c: CallMetricsSnapshot) => number): number => {
    if (dt <= 0) return 0
    let n = 0
    for (const [s, c] of now) n += Math.max(0, f(c) - f(before.get(s) ?? c))
    return round(n / dt)
  }
  const sum = (f: (c: CallMetricsSnapshot) => number): number => {
    let n = 0
    for (const c of now.values()) n += f(c)
    return n
  }
  let fullRatio = 0
  let hits = 0
  let lookups = 0
  const latency = new Float64Array(BUCKETS)
  for (const [s, c] of now) {
    const p = before.get(s)
    if (dt > 0 && p !== undefined) fullRatio = Math.max(fullRatio, Math.min(1, Math.max(0, (c.fullMs - p.fullMs) / (dt * 1000))))
    // A subtask whose counters went back (the job restarted) counts from zero.
    const o = start.get(s)
    const base = o !== undefined && o.calls <= c.calls ? o : null
    hits += c.cacheHits - (base?.cacheHits ?? 0)
    lookups += c.cacheHits + c.cacheMisses - (base === null ? 0 : base.cacheHits + base.cacheMisses)
    addSparse(latency, c.latency)
    if (base !== null) for (let i = 0; i < base.latency.length; i += 2) latency[base.latency[i]] -= base.latency[i + 1]
  }
  for (let i = 0; i < BUCKETS; i++) if (latency[i] < 0) latency[i] = 0
  const first = now.values().next().value as CallMetricsSnapshot
  return {
    callsPerSecond: rate((c) => c.calls),
    recordsPerSecond: rate((c) => c.callRecords),
    inFlight: sum((c) => c.inFlight),
    capacity: sum((c) => c.capacity),
    concurrency: first.capacity,
    maxBatch: first.maxBatch,
    held: sum((c) => c.held),
    fullRatio: Math.round(fullRatio * 1000) / 1000,
    timeoutsPerSecond: rate((c) => c.timeouts),
    retriesPerSecond: rate((c) => c.retries),
    failuresPerSecond: rate((c) => c.failures),
    calls: sum((c) => c.calls),
    timeouts: sum((c) => c.timeouts),
    retries: sum((c) => c.retries),
    failures: sum((c) => c.failures),
    cacheHitRatio: lookups > 0 ? Math.round((hits / lookups) * 1000) / 1000 : null,
    cacheEntries: sum((c) => c.cacheEntries),
    latency: percentiles(latency, null),
  }
}
