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

  constructor(readonly capacity = 64) {
    this.counts = new Float64Array(capacity)
    this.errors = new Float64Array(capacity)
  }

  offer(key: unknown, weight = 1): void {
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
}

/** Adds summaries' [key, count] lists into one map. */
export function mergeTop(into: Map<string, number>, top: readonly (readonly [string, number])[]): void {
  for (const [k, n] of top) into.set(k, (into.get(k) ?? 0) + n)
}
