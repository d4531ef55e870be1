/** Seeded randomness for tests and benchmark data (mulberry32: small, fast, reproducible). */

/** The next 32-bit output after `state`, with the advanced state. */
function step(state: number): [number, number] {
  const s = (state + 0x6d2b79f5) >>> 0
  let t = s
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return [s, (t ^ (t >>> 14)) >>> 0]
}

/** A seeded generator of uniform 32-bit integers. */
export class SeededRandom {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  u32(): number {
    const [s, v] = step(this.state)
    this.state = s
    return v
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296
  }
}

/** A seeded function returning floats in [0, 1). */
export function seededFloats(seed: number): () => number {
  const r = new SeededRandom(seed)
  return () => r.float()
}
