/**
 * A latency histogram with logarithmic buckets: 8 buckets per power of two of microseconds, from
 * 1 µs to ~2^31 µs (~36 min), so any percentile is within ~9 % of the true value. Recording is a
 * log2 and an array increment; histograms merge by adding counts, so subtasks on different
 * threads can be combined and a window is the difference of two cumulative snapshots.
 */

const SUB = 8
const MAX_EXP = 31
/** Percentiles of a distribution, and how many samples they come from. */
export interface Percentiles { p50: number; p90: number; p99: number; max: number; count: number }

export const BUCKETS = MAX_EXP * SUB + 1

export function bucketOf(ms: number): number {
  const us = ms * 1000
  if (!(us >= 1)) return 0
  const b = Math.floor(Math.log2(us) * SUB) + 1
  return b < BUCKETS ? b : BUCKETS - 1
}

/** The upper edge of bucket b, in ms. */
export function bucketUpperMs(b: number): number {
  return b === 0 ? 0.001 : 2 ** (b / SUB) / 1000
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS)
  count = 0
  maxMs = 0

  record(ms: number): void {
    this.counts[bucketOf(ms)]++
    this.count++
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
