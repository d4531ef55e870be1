import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../time/clock.ts'
import { LruCache } from './lru-cache.ts'

const clock = (): ManualClock => new ManualClock(1_000)

describe('LruCache', () => {
  it('serves what was set and counts hits and misses', () => {
    const c = new LruCache<string, number>({ maxEntries: 10 }, () => 0)
    expect(c.get('a')).toBeUndefined()
    c.set('a', 1)
    expect(c.get('a')?.value).toBe(1)
    expect(c.get('a')?.value).toBe(1)
    expect(c.get('b')).toBeUndefined()
    expect({ hits: c.hits, misses: c.misses, size: c.size }).toEqual({ hits: 2, misses: 2, size: 1 })
  })

  it('evicts the least recently used entry beyond maxEntries, a get counting as a use', () => {
    const c = new LruCache<number, string>({ maxEntries: 3 }, () => 0)
    c.set(1, 'one')
    c.set(2, 'two')
    c.set(3, 'three')
    c.get(1)
    c.set(4, 'four')
    expect(c.size).toBe(3)
    expect(c.get(2)).toBeUndefined()
    expect([1, 3, 4].map((k) => c.get(k)?.value)).toEqual(['one', 'three', 'four'])
    c.set(3, 'THREE')
    c.set(5, 'five')
    expect(c.get(1)).toBeUndefined()
    expect([3, 4, 5].map((k) => c.get(k)?.value)).toEqual(['THREE', 'four', 'five'])
  })

  it('holds one entry with maxEntries 1', () => {
    const c = new LruCache<string, number>({ maxEntries: 1 }, () => 0)
    c.set('a', 1)
    c.set('b', 2)
    expect(c.size).toBe(1)
    expect(c.get('a')).toBeUndefined()
    expect(c.get('b')?.value).toBe(2)
  })

  it('drops an entry ttlMs after it was set, reads not extending it; setting again renews it', () => {
    const t = clock()
    const c = new LruCache<string, number>({ maxEntries: 10, ttlMs: 100 }, () => t.now())
    c.set('a', 1)
    t.advance(99)
    expect(c.get('a')?.value).toBe(1)
    t.advance(1)
    expect(c.get('a')).toBeUndefined()
    expect(c.size).toBe(0)
    c.set('a', 2)
    t.advance(60)
    c.set('a', 3)
    t.advance(60)
    expect(c.get('a')?.value).toBe(3)
    expect({ hits: c.hits, misses: c.misses }).toEqual({ hits: 2, misses: 1 })
  })

  it('drops stale entries at the old end when setting, so they do not hold room', () => {
    const t = clock()
    const c = new LruCache<number, number>({ maxEntries: 100, ttlMs: 10 }, () => t.now())
    for (let k = 0; k < 50; k++) c.set(k, k)
    t.advance(10)
    c.set(100, 100)
    expect(c.size).toBe(1)
  })

  it('caches a miss (undefined) by default, and with cacheMisses false a miss only removes the key', () => {
    const misses = new LruCache<string, number | undefined>({ maxEntries: 10 }, () => 0)
    misses.set('gone', undefined)
    const hit = misses.get('gone')
    expect(hit).toBeDefined()
    expect(hit?.value).toBeUndefined()
    expect(misses.size).toBe(1)
    const noMisses = new LruCache<string, number | undefined>({ maxEntries: 10, cacheMisses: false }, () => 0)
    noMisses.set('k', 1)
    noMisses.set('k', undefined)
    noMisses.set('gone', undefined)
    expect(noMisses.get('k')).toBeUndefined()
    expect(noMisses.get('gone')).toBeUndefined()
    expect(noMisses.size).toBe(0)
  })

  it('deletes and clears', () => {
    const c = new LruCache<string, number>({ maxEntries: 10 }, () => 0)
    c.set('a', 1)
    c.set('b', 2)
    expect(c.delete('a')).toBe(true)
    expect(c.delete('a')).toBe(false)
    c.clear()
    expect(c.size).toBe(0)
  })

  it('refuses a maxEntries below 1 and a ttlMs that is not positive', () => {
    expect(() => new LruCache({ maxEntries: 0 }, () => 0)).toThrow(/maxEntries/)
    expect(() => new LruCache({ maxEntries: 1.5 }, () => 0)).toThrow(/maxEntries/)
    expect(() => new LruCache({ maxEntries: 1, ttlMs: 0 }, () => 0)).toThrow(/ttlMs/)
  })
})
