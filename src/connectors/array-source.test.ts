import { describe, expect, it } from 'vitest'
import { fromArray, fromIterable } from './array-source.ts'
import { readSource, sourceContract, TestSourceContext } from './source-contract.ts'

const numbers = Array.from({ length: 100 }, (_, i) => i)

sourceContract('fromArray', (records) => fromArray(records), numbers)
sourceContract('fromArray, batchSize 3', (records) => fromArray(records, { batchSize: 3 }), numbers)
sourceContract('fromIterable over a Set', (records) => fromIterable(new Set(records)), numbers)

describe('fromIterable', () => {
  it('never returns more than batchSize records per read', async () => {
    const reader = fromArray(numbers, { batchSize: 3 }).open(new TestSourceContext())
    const out: number[] = []
    expect(reader.read(out, 100)).toBe(3)
    expect(reader.read(out, 2)).toBe(2)
    expect(reader.position()).toBe('index 5')
  })

  it('knows its size only for arrays', () => {
    expect(fromArray([1, 2, 3]).expectedRecords).toBe(3)
    expect(fromIterable(new Set([1, 2])).expectedRecords).toBeUndefined()
  })

  it('reads a generator lazily and lets it clean up when closed early', async () => {
    let produced = 0
    let cleanedUp = false
    function* naturals(): Generator<number> {
      try {
        for (let i = 0; ; i++) {
          produced++
          yield i
        }
      } finally {
        cleanedUp = true
      }
    }
    const reader = fromIterable(naturals()).open(new TestSourceContext())
    const out: number[] = []
    expect(reader.read(out, 4)).toBe(4)
    expect(produced).toBe(4)
    reader.close?.()
    expect(cleanedUp).toBe(true)
    expect(reader.read(out, 4)).toBe(-1)
  })

  it('replays an array from the start on every open', async () => {
    const source = fromArray(['a', 'b'])
    expect(await readSource(source, new TestSourceContext())).toEqual(['a', 'b'])
    expect(await readSource(source, new TestSourceContext())).toEqual(['a', 'b'])
  })

  it('rejects a bad batchSize or a non-iterable', () => {
    expect(() => fromArray([1], { batchSize: 0 })).toThrow(expect.objectContaining({ code: 'JOB_INVALID_OPTION' }))
    expect(() => fromIterable(42 as unknown as number[])).toThrow(expect.objectContaining({ code: 'JOB_INVALID_OPTION' }))
  })
})
