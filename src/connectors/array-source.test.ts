import { describe, expect, it } from 'vitest'
import { fromArray, fromIterable } from './array-source.ts'
import { readSource, sourceContract, TestSourceContext } from './source-contract.ts'

const numbers = Array.from({ length: 100 }, (_, i) => i)

sourceContract('fromArray', (records) => fromArray(records), numbers)
sourceContract('fromArray, batchSize 3', (records) => fromArray(records, { batchSize: 3 }), numbers)
sourceContract('fromIterable over a Set', (records) => fromIterable(new Set(records)), numbers)
sourceContract('fromIterable over a re-iterable object declared replayable', (records) =>
  fromIterable({ [Symbol.iterator]: () => records[Symbol.iterator]() }, { replayable: true, batchSize: 6 }), numbers)
sourceContract('fromIterable over a generator object', (records) => fromIterable((function* () { yield* records })()), numbers, { replayable: false })

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

  it('is replayable for arrays and built-in collections, not for other iterables unless declared', () => {
    expect(fromArray([1]).replayable).toBe(true)
    expect(fromIterable(new Map([[1, 2]])).replayable).toBe(true)
    expect(fromIterable(new Uint8Array(3)).replayable).toBe(true)
    expect(fromIterable('abc').replayable).toBe(true)
    expect(fromIterable({ [Symbol.iterator]: () => [1][Symbol.iterator]() }).replayable).toBe(false)
    expect(fromIterable((function* () { yield 1 })()).replayable).toBe(false)
    expect(fromArray([1], { replayable: false }).replayable).toBe(false)
  })

  it('refuses replayable: true for an iterator, and a position for a source that is not replayable', () => {
    expect(() => fromIterable((function* () { yield 1 })(), { replayable: true })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
    const oneShot = fromIterable((function* () { yield 1 })())
    expect(() => oneShot.open(new TestSourceContext(), { index: 0 })).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('not replayable') }))
    expect(oneShot.open(new TestSourceContext()).snapshotPosition).toBeUndefined()
  })

  it('resumes an array by index and another iterable by skipping, and refuses a position past the end', async () => {
    expect(fromArray(['a', 'b', 'c']).open(new TestSourceContext(), { index: 2 }).read([], 10)).toBe(1)
    expect(await readSource(fromIterable(new Set(['a', 'b', 'c'])), new TestSourceContext())).toEqual(['a', 'b', 'c'])
    const resumed = fromIterable(new Set(['a', 'b', 'c'])).open(new TestSourceContext(), { index: 1 })
    const out: string[] = []
    resumed.read(out, 10)
    expect(out).toEqual(['b', 'c'])
    expect(resumed.snapshotPosition?.()).toEqual({ index: 3 })
    expect(() => fromArray([1, 2]).open(new TestSourceContext(), { index: 3 })).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('only 2 items') }))
    expect(() => fromIterable(new Set([1, 2])).open(new TestSourceContext(), { index: 3 })).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE' }))
    expect(() => fromArray([1, 2]).open(new TestSourceContext(), { next: 1 })).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE' }))
  })

  it('rejects a bad batchSize or a non-iterable', () => {
    expect(() => fromArray([1], { batchSize: 0 })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
    expect(() => fromIterable(42 as unknown as number[])).toThrow(expect.objectContaining({ code: 'JOB_ARGUMENT_INVALID' }))
  })
})
