/**
 * The generator's randomness: a 32-bit counter-based PRNG (a hash of a Weyl sequence) that is
 * cheap to seed per event, so every event's fields depend only on `(seed, event id)`.
 */

export const INV_2_32 = 1 / 4294967296

/**
 * lowbias32 (C. Wellons): a fast 32-bit integer hash with good avalanche. Returns an int32 so
 * values held in fields stay small integers (no boxed doubles, no field-representation changes).
 */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d)
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b)
  return x ^ (x >>> 16)
}

/**
 * A counter-based PRNG: the state walks a Weyl sequence with an odd per-stream increment and
 * each output is its hash. Re-seeding is three hashes, cheap enough to do per event. Two streams
 * share draws only if both their 32-bit start and increment collide.
 */
export class Random32 {
  private state = 0
  private step = 1

  /** Starts the stream of `(key, lo, hi)`; state and increment come from independent hashes. */
  reseed(key: number, lo: number, hi: number): void {
    const a = mix32(lo ^ key)
    this.state = mix32((a + hi + 0x9e3779b9) | 0)
    this.step = mix32(((a ^ hi ^ 0x5bd1e995) + key) | 0) | 1
  }

  /** Uniform in [0, 2^32). */
  u32(): number {
    const s = (this.state = (this.state + this.step) | 0)
    return mix32(s) >>> 0
  }

  /** Uniform integer in [0, n); exact for n < 2^21. */
  int(n: number): number {
    return Math.floor(this.u32() * n * INV_2_32)
  }
}

/** Hashes all 53 bits of the seed into the 32-bit key every event stream is derived from. */
export function seedKey(seed: number): number {
  return mix32((seed | 0) ^ mix32((Math.floor(seed / 4294967296) + 0x2545f491) | 0))
}
