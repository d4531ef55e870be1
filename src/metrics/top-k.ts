/**
 * Space-saving top-k (Metwally et al.): the heaviest keys of a stream in fixed memory. `capacity`
 * counters; a new key when all are taken replaces the smallest and inherits its count, which is
 * then its possible overcount. `top()` reports only keys certainly among the heaviest, with their
 * guaranteed counts, so a stream of many equally frequent keys shows no hot keys rather than 64
 * made-up ones. Summaries from
 * several subtasks merge by adding counts per key.
 */
export class SpaceSaving {
  private readonly keys: unknown[] = []
  private readonly counts: Float64Array
  /** Per slot, the count inherited when its key took the slot over (its possible overcount). */
  private readonly errors: Float64Array
  /** Keys as they come (primitives compare by value); turned into text only when reported. */
  private readonly slot = new Map<unknown, number>()
  /** Calls to offer(): the sample size when each call is one sampled record. */
  private offers = 0

  constructor(readonly capacity = 64) {
    this.counts = new Float64Array(capacity)
    this.errors = new Float64Array(capacity)
  }

  offer(key: unknown, weight = 1): void {
    this.offers++
    const s = this.slot.get(key)
    if (s !== undefined) {
      this.counts[s] += weight
      return
    }
    const n = this.keys.length
    if (n < this.capacity) {
      this.slot.set(key, n)
      this.keys.push(key)
      this.counts[n] = weight
      return
    }
    let min = 0
    const c = this.counts
    for (let i = 1; i < n; i++) if (c[i] < c[min]) min = i
    this.slot.delete(this.keys[min])
    this.keys[min] = key
    this.slot.set(key, min)
    this.errors[min] = c[min]
    c[min] += weight
  }

  /**
   * The top `k` as [key, guaranteed count] pairs, heaviest first: only keys whose guaranteed count
   * reaches the smallest counter (which bounds any key not tracked) — keys certainly among the
   * heaviest (Metwally's guaranteed top-k). Until the counters are all taken every count is exact.
   */
  top(k: number): [string, number][] {
    const n = this.keys.length
    let floor = 0
    if (n === this.capacity) {
      floor = Number.POSITIVE_INFINITY
      for (let i = 0; i < n; i++) if (this.counts[i] < floor) floor = this.counts[i]
    }
    const out: [string, number][] = []
    for (let i = 0; i < n; i++) {
      const sure = this.counts[i] - this.errors[i]
      if (sure > 0 && sure >= floor) out.push([String(this.keys[i]), sure])
    }
    out.sort((a, b) => b[1] - a[1])
    return out.slice(0, k)
  }

  get total(): number {
    let t = 0
    for (let i = 0; i < this.keys.length; i++) t += this.counts[i]
    return t
  }

  /** What a metrics snapshot carries: the top `k`, the weight and number of samples, the keys seen. */
  summary(k: number): HotKeySummary {
    return { keys: this.top(k), total: this.total, samples: this.offers, distinct: this.keys.length }
  }
}

/**
 * A space-saving summary as it crosses threads: `keys` with guaranteed counts (in the same weight
 * as `total`), `samples` offers behind them, `distinct` keys tracked (at most the capacity: a full
 * summary has seen at least that many).
 */
export interface HotKeySummary {
  keys: [string, number][]
  total: number
  samples: number
  distinct: number
}

/** A hot key as reported: its estimated records and its share of the sampled records. */
export interface HotKey { key: string; count: number; share: number }

/** Fewer sampled records than this report no hot key: a share from a dozen samples says nothing. */
export const HOT_KEY_MIN_SAMPLES = 100
/**
 * z of the Wilson interval: 2.81 is a two-sided 99.5 % interval, so that among the 10 keys tested
 * (HOT_KEYS_TESTED) a key of exactly the uniform share is reported in under 5 % of snapshots (Bonferroni).
 */
export const HOT_KEY_Z = 2.81
export const HOT_KEYS_TESTED = 10

/**
 * Merges the summaries of one operator's producers and keeps the keys that certainly stand out:
 * - shares are of the sampled records (`count / total`), so they never sum above 100 %;
 * - with fewer than HOT_KEY_MIN_SAMPLES samples, no key is reported;
 * - a key is reported when the lower bound of its share's Wilson score interval (z = HOT_KEY_Z)
 *   is above the share every key would have if all were equally frequent: 1 / the number of
 *   distinct keys seen, or 1 / capacity when the summary is full (then there are more, so the true
 *   uniform share is smaller: the test errs towards reporting nothing).
 * Returns the heaviest first, at most HOT_KEYS_TESTED, and the number of sampled records.
 */
export function hotKeysOf(summaries: readonly HotKeySummary[]): { keys: HotKey[]; samples: number } {
  const counts = new Map<string, number>()
  let total = 0
  let samples = 0
  let distinct = 1
  for (const s of summaries) {
    mergeTop(counts, s.keys)
    total += s.total
    samples += s.samples
    distinct = Math.max(distinct, s.distinct)
  }
  if (samples < HOT_KEY_MIN_SAMPLES || total <= 0) return { keys: [], samples }
  const uniform = 1 / distinct
  const keys = [...counts].sort((a, b) => b[1] - a[1]).slice(0, HOT_KEYS_TESTED)
    .map(([key, count]) => ({ key, count: Math.round(count), share: Math.min(1, count / total) }))
    .filter((k) => wilsonLower(k.share, samples, HOT_KEY_Z) > uniform)
  return { keys, samples }
}

/** Lower bound of the Wilson score interval of a proportion `p` observed in `n` trials. */
export function wilsonLower(p: number, n: number, z: number): number {
  const z2 = z * z
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n)
}

/** Adds summaries' [key, count] lists into one map. */
export function mergeTop(into: Map<string, number>, top: readonly (readonly [string, number])[]): void {
  for (const [k, n] of top) into.set(k, (into.get(k) ?? 0) + n)
}
