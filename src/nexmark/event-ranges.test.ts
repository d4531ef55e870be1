import { describe, expect, it } from 'vitest'
import { splitEventRange } from './event-ranges.ts'

describe('splitEventRange', () => {
  it('covers [0, total) with contiguous ranges differing by at most one', () => {
    expect(splitEventRange(10, 3)).toEqual([{ first: 0, count: 4 }, { first: 4, count: 3 }, { first: 7, count: 3 }])
    expect(splitEventRange(2, 4)).toEqual([
      { first: 0, count: 1 }, { first: 1, count: 1 }, { first: 2, count: 0 }, { first: 2, count: 0 },
    ])
    expect(splitEventRange(0, 1)).toEqual([{ first: 0, count: 0 }])
  })

  it('rejects bad arguments', () => {
    expect(() => splitEventRange(Infinity, 2)).toThrow(/total/)
    expect(() => splitEventRange(10, 0)).toThrow(/parts/)
  })
})
