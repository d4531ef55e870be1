import { describe, expect, it } from 'vitest'
import { SeededRandom } from '../testing/random.ts'
import { HOT_KEY_MIN_SAMPLES, SpaceSaving, hotKeysOf, wilsonLower, type HotKeySummary } from './top-k.ts'

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

describe('hotKeysOf: which keys are reported, and their shares', () => {
  /** A summary of `n` samples drawn by `pick`, each standing for `stride` records (as the keyBy samples them). */
  function sampled(n: number, pick: (rnd: SeededRandom) => string, seed = 1, stride = 64): HotKeySummary {
    const s = new SpaceSaving(64)
    const rnd = new SeededRandom(seed)
    for (let i = 0; i < n; i++) s.offer(pick(rnd), stride)
    return s.summary(20)
  }

  it('reports nothing from a dozen samples, however lopsided (the 67 % / 27 % / 13 % of issue 13)', () => {
    const keys = ['a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'c']
    const s = new SpaceSaving(64)
    for (const k of keys) s.offer(k, 64)
    expect(hotKeysOf([s.summary(20)])).toEqual({ keys: [], samples: 12 })
    expect(HOT_KEY_MIN_SAMPLES).toBe(100)
  })

  it('gives shares of the sampled records, which never sum above 100 %', () => {
    const pick = (rnd: SeededRandom): string => {
      const r = rnd.float()
      return r < 0.5 ? 'whale' : r < 0.8 ? 'dolphin' : `k${Math.floor(rnd.float() * 1000)}`
    }
    const r = hotKeysOf([sampled(5000, pick)])
    expect(r.samples).toBe(5000)
    expect(r.keys.map((k) => k.key)).toEqual(['whale', 'dolphin'])
    expect(r.keys.reduce((a, k) => a + k.share, 0)).toBeLessThanOrEqual(1)
    expect(r.keys[0].share).toBeGreaterThan(0.45)
    expect(r.keys[0].count).toBe(Math.round(r.keys[0].share * 5000 * 64))
  })

  it('does not report keys that are equally frequent: in 200 runs of 500 samples over 5 keys, fewer than 5 % report any', () => {
    let reported = 0
    for (let seed = 1; seed <= 200; seed++) {
      if (hotKeysOf([sampled(500, (rnd) => `k${Math.floor(rnd.float() * 5)}`, seed)]).keys.length > 0) reported++
    }
    expect(reported).toBeLessThan(10)
  })

  it('does not report keys at or below the uniform share, however many samples: 50 % / 25 % / 25 % over 3 keys is one hot key', () => {
    const r = hotKeysOf([sampled(5000, (rnd) => (rnd.float() < 0.5 ? 'whale' : rnd.float() < 0.5 ? 'dolphin' : 'seal'))])
    expect(r.keys.map((k) => k.key)).toEqual(['whale'])
  })

  it('reports a key well above the uniform share, and not the many keys below it', () => {
    const r = hotKeysOf([sampled(2000, (rnd) => (rnd.float() < 0.2 ? 'whale' : `k${Math.floor(rnd.float() * 50_000)}`))])
    expect(r.keys.map((k) => k.key)).toEqual(['whale'])
    expect(r.keys[0].share).toBeGreaterThan(0.15)
  })

  it('adds the producers\' samples: two halves too small alone are enough together', () => {
    const half = (seed: number) => sampled(60, (rnd) => (rnd.float() < 0.9 ? 'hot' : `k${Math.floor(rnd.float() * 1000)}`), seed)
    expect(hotKeysOf([half(1)]).keys).toEqual([])
    const both = hotKeysOf([half(1), half(2)])
    expect(both.samples).toBe(120)
    expect(both.keys.map((k) => k.key)).toEqual(['hot'])
  })

  it('bounds a share by the Wilson score interval', () => {
    expect(wilsonLower(0.5, 100, 1.96)).toBeCloseTo(0.4038, 3)
    expect(wilsonLower(8 / 12, 12, 2.81)).toBeLessThan(0.3)
  })
})

