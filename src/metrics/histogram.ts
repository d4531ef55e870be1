/**
 * A latency histogram with logarithmic buckets: 8 per power of two, from 1/1280 ms (0.78 µs) to
 * 2^31 of those (~28 min), so any percentile is within ~9 % of the true value. Recording is a log2,
 * an array increment and an add; histograms merge by adding counts, so subtasks on different
 * threads can be combined and a window is the difference of two cumulative snapshots.
 *
 * The unit is chosen so that every bound of the Prometheus buckets (0.1 ms × 2^k, PROMETHEUS_BOUNDS_MS)
 * is an edge of these buckets: the exported `_bucket{le}` counts are exact, not interpolated.
 */

/** Percentiles of a distribution, and how many samples they come from. */
export interface Percentiles { p50: number; p90: number; p99: number; max: number; count: number }

const UNITS_PER_MS = 1280
const SUB = 8
const MAX_EXP = 31
export const BUCKETS = MAX_EXP * SUB + 1

/**
 * Bucket 0 holds samples ≤ 1 unit (and negative ones: clocks of two threads may disagree by a
 * little); bucket b ≥ 1 holds (2^((b-1)/8), 2^(b/8)] units, upper edge included as Prometheus' `le`.
 */
export function bucketOf(ms: number): number {
  const u = ms * UNITS_PER_MS
  if (!(u > 1)) return 0
  const b = Math.ceil(Math.log2(u) * SUB)
  return b < BUCKETS ? b : BUCKETS - 1
}

/** The upper edge of bucket b, in ms. */
export function bucketUpperMs(b: number): number {
  return 2 ** (b / SUB) / UNITS_PER_MS
}

/**
 * The `le` bounds of the exported Prometheus histograms, ms: 0.1 ms × 2^k up to ~105 s (21 bounds,
 * then +Inf), so latencies from a fast in-thread hop to a stalled minute each land in a bucket.
 */
export const PROMETHEUS_BOUNDS_MS: readonly number[] = Array.from({ length: 21 }, (_, k) => 0.1 * 2 ** k)

/** Fine bucket whose upper edge is each Prometheus bound (0.1 ms = 2^7 units, and 8 buckets per doubling). */
const BOUND_BUCKETS = PROMETHEUS_BOUNDS_MS.map((_, k) => (7 + k) * SUB)

export class Histogram {
  readonly counts = new Float64Array(BUCKETS)
  count = 0
  /** Sum of the samples (negative ones as 0), for Prometheus' `_sum`. */
  sumMs = 0
  maxMs = 0

  record(ms: number): void {
    this.counts[bucketOf(ms)]++
    this.count++
    if (ms > 0) this.sumMs += ms
    if (ms > this.maxMs) this.maxMs = ms
  }

  /** Cumulative counts as a sparse list [bucket, count, ...] (cheap to post between threads). */
  sparse(): number[] {
    const out: number[] = []
    const c = this.counts
    for (let i = 0; i < c.length; i++) if (c[i] > 0) out.push(i, c[i])
    return out
  }
}

/** Dense counts from sparse lists, summed. */
export function addSparse(into: Float64Array, sparse: readonly number[]): void {
  for (let i = 0; i < sparse.length; i += 2) into[sparse[i]] += sparse[i + 1]
}

/**
 * Prometheus bucket counts of dense counts: for each bound of PROMETHEUS_BOUNDS_MS, the samples
 * at or below it (cumulative, as `_bucket{le}` is), then the total (`le="+Inf"`).
 */
export function prometheusBuckets(counts: Float64Array): number[] {
  const out: number[] = []
  let seen = 0
  let next = 0
  for (let i = 0; i < counts.length; i++) {
    while (next < BOUND_BUCKETS.length && BOUND_BUCKETS[next] < i) out[next++] = seen
    seen += counts[i]
  }
  while (next < BOUND_BUCKETS.length) out[next++] = seen
  out.push(seen)
  return out
}

/** Percentiles of dense counts (null when empty); `maxMs` is reported as the max when known. */
export function percentiles(counts: Float64Array, maxMs: number | null): Percentiles | null {
  let total = 0
  for (let i = 0; i < counts.length; i++) total += counts[i]
  if (total === 0) return null
  const at = (q: number): number => {
    const rank = Math.max(1, Math.ceil(q * total))
    let seen = 0
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]
      if (seen >= rank) return bucketUpperMs(i)
    }
    return bucketUpperMs(counts.length - 1)
  }
  let top = 0
  for (let i = counts.length - 1; i >= 0; i--) {
    if (counts[i] > 0) {
      top = bucketUpperMs(i)
      break
    }
  }
  const round = (x: number): number => Math.round(x * 1000) / 1000
  return { p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(maxMs ?? top), count: total }
}
