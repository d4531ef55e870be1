import { describe, expect, it } from 'vitest'
import { hashKey, keyGroupOf, subtaskOfKeyGroup } from './key-groups.ts'

describe('key groups', () => {
  it('hash by value, stably', () => {
    expect(hashKey(42)).toBe(hashKey(42))
    expect(hashKey(0)).toBe(hashKey(-0))
    expect(hashKey('auction')).toBe(hashKey('auc' + 'tion'))
    expect(hashKey(1.5)).not.toBe(hashKey(2.5))
    expect(hashKey({ a: 1 })).toBe(hashKey({ a: 1 }))
    // Pinned values: the hash must never change silently (state would land in other key groups).
    expect([hashKey(1), hashKey(1000), hashKey('a'), hashKey(1e15)]).toMatchSnapshot()
  })

  it('spread integer keys evenly over key groups and subtasks', () => {
    const perSubtask = [0, 0, 0, 0]
    const groups = new Set<number>()
    for (let k = 1000; k < 101_000; k++) {
      const g = keyGroupOf(k, 128)
      groups.add(g)
      perSubtask[subtaskOfKeyGroup(g, 128, 4)]++
    }
    expect(groups.size).toBe(128)
    for (const n of perSubtask) expect(Math.abs(n - 25_000)).toBeLessThan(1500)
  })

  it('assign contiguous key-group ranges to subtasks', () => {
    const owners = Array.from({ length: 128 }, (_, g) => subtaskOfKeyGroup(g, 128, 3))
    expect(owners[0]).toBe(0)
    expect(owners[127]).toBe(2)
    for (let g = 1; g < 128; g++) expect(owners[g] - owners[g - 1]).toBeGreaterThanOrEqual(0)
    expect(new Set(owners).size).toBe(3)
  })
})
