import { describe, expect, it } from 'vitest'
import { SeededRandom } from '../testing/random.ts'
import { SpaceSaving } from './top-k.ts'

describe('space-saving top-k', () => {
  it('finds the heavy keys of a skewed stream with their counts bounded from below', () => {
    const s = new SpaceSaving(64)
    const rnd = new SeededRandom(3)
    const truth = new Map<string, number>()
    for (let i = 0; i < 200_000; i++) {
      const r = rnd.float()
      const key = r < 0.3 ? 'whale' : r < 0.4 ? 'dolphin' : `k${Math.floor(rnd.float() * 50_000)}`
      truth.set(key, (truth.get(key) ?? 0) + 1)
      s.offer(key)
    }
    const top = s.top(5)
    expect(top[0][0]).toBe('whale')
    expect(top[1][0]).toBe('dolphin')
    for (const [k, n] of top) expect(n).toBeLessThanOrEqual(truth.get(k) as number)
    expect(top[0][1]).toBeGreaterThan(0.9 * (truth.get('whale') as number))
  })

  it('reports no hot keys for many equally frequent keys', () => {
    const s = new SpaceSaving(64)
    for (let round = 0; round < 50; round++) for (let k = 0; k < 10_000; k++) s.offer(`k${k}`)
    expect(s.top(10)).toEqual([])
  })

  it('weights count as that many occurrences (sampling)', () => {
    const s = new SpaceSaving(4)
    s.offer('a', 16)
    s.offer('b', 16)
    s.offer('a', 16)
    expect(s.top(2)).toEqual([['a', 32], ['b', 16]])
  })
})
