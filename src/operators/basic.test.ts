import { describe, expect, it } from 'vitest'
import { fromArray } from '../connectors/array-source.ts'
import { memorySink, runAndCollect } from '../testing/index.ts'
import { Pipeline } from '../api/pipeline.ts'
import { count, max, sum } from './aggregate.ts'
import { tumbling } from './window/assigners.ts'
import { isSluiceError } from '../errors.ts'

describe('map, filter, flatMap', () => {
  it('transform records in order', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('n', fromArray([1, 2, 3, 4, 5, 6]))
        .map('double', (x) => x * 2)
        .filter('big', (x) => x > 4)
        .flatMap<string>('twice', (x, c) => {
          c.collect(`${x}a`)
          c.collect(`${x}b`)
        }),
    )
    expect(out).toEqual(['6a', '6b', '8a', '8b', '10a', '10b', '12a', '12b'])
  })

  it('handles more records than one batch and one channel hold', async () => {
    const input = Array.from({ length: 100_000 }, (_, i) => i)
    const out = await runAndCollect((p) =>
      p
        .source('n', fromArray(input))
        .keyBy((x) => x % 7)
        .aggregate('sum', sum((x: number) => x), (k, v) => ({ k, v })),
    )
    expect(out.length).toBe(100_000)
    const last = new Map<number, number>()
    for (const r of out) last.set(r.k, r.v)
    for (let k = 0; k < 7; k++) {
      let expected = 0
      for (const x of input) if (x % 7 === k) expected += x
      expect(last.get(k)).toBe(expected)
    }
  })
})

describe('rolling keyed aggregates', () => {
  it('emits the updated value per key after every record', async () => {
    const out = await runAndCollect((p) => p.source('w', fromArray(['a', 'b', 'a', 'a', 'b'])).keyBy((w) => w).aggregate('count', count()))
    expect(out).toEqual([
      { key: 'a', value: 1 },
      { key: 'b', value: 1 },
      { key: 'a', value: 2 },
      { key: 'a', value: 3 },
      { key: 'b', value: 2 },
    ])
  })

  it('sum, max and reduce', async () => {
    const rows = [
      { k: 1, v: 5 },
      { k: 1, v: 3 },
      { k: 2, v: 10 },
      { k: 1, v: 9 },
    ]
    const sums = await runAndCollect((p) => p.source('r', fromArray(rows)).keyBy((r) => r.k).aggregate('s', sum((r: { v: number }) => r.v), (k, v) => `${k}:${v}`))
    expect(sums).toEqual(['1:5', '1:8', '2:10', '1:17'])
    const maxes = await runAndCollect((p) => p.source('r', fromArray(rows)).keyBy((r) => r.k).aggregate('m', max((r: { v: number }) => r.v), (k, v) => `${k}:${v}`))
    expect(maxes).toEqual(['1:5', '1:5', '2:10', '1:9'])
    const reduced = await runAndCollect((p) => p.source('r', fromArray(rows)).keyBy((r) => r.k).reduce('red', (a, b) => ({ k: a.k, v: a.v + b.v })))
    expect(reduced.map((r) => r.v)).toEqual([5, 8, 10, 17])
  })
})

describe('error policies', () => {
  const parse = (s: string): number => {
    const n = Number(s)
    if (Number.isNaN(n)) throw new Error(`not a number: ${s}`)
    return n
  }

  it("'fail' stops the job with the operator, the record position and the cause", async () => {
    const p = new Pipeline('t')
    p.source('lines', fromArray(['1', '2', 'x', '4'])).map('parse', parse).to('out', memorySink())
    const err = await p.run().done.then(
      () => null,
      (e: unknown) => e,
    )
    expect(isSluiceError(err)).toBe(true)
    expect((err as { code: string }).code).toBe('RECORD_FAILED')
    expect(String((err as Error).message)).toMatch(/operator "parse" failed on input record #3: not a number: x/)
  })

  it("'skip' drops the bad record and counts it", async () => {
    const p = new Pipeline('t')
    const sink = memorySink<number>()
    p.source('lines', fromArray(['1', 'x', '3', 'y'])).map('parse', parse, { onError: 'skip' }).to('out', sink)
    const r = await p.run().done
    expect(sink.records).toEqual([1, 3])
    const m = r.metrics.operators.find((o) => o.operator === 'parse')
    expect(m?.skipped).toBe(2)
    expect(m?.errors).toBe(2)
  })

  it("'dead-letter' writes the record, reason and position to the dead-letter sink", async () => {
    const dead = memorySink<{ operator: string; position: string; reason: string; record: unknown }>()
    const p = new Pipeline('t', { deadLetter: dead })
    const sink = memorySink<number>()
    p.source('lines', fromArray(['1', 'x', '3'])).map('parse', parse, { onError: 'dead-letter' }).to('out', sink)
    const r = await p.run().done
    expect(sink.records).toEqual([1, 3])
    expect(dead.records).toEqual([{ operator: 'parse', position: 'input record #2', reason: 'not a number: x', record: 'x' }])
    expect(r.metrics.operators.find((o) => o.operator === 'parse')?.deadLettered).toBe(1)
  })
})

describe('build-time validation', () => {
  it('rejects duplicate ids', () => {
    const p = new Pipeline('t')
    const s = p.source('a', fromArray([1]))
    s.map('m', (x) => x)
    expect(() => s.map('m', (x) => x)).toThrow(/JOB_DUPLICATE_ID/)
  })

  it('a stream that was not keyed has no window(): windows come after keyBy(), or windowAll()', () => {
    const p = new Pipeline('t')
    const s = p.source('a', fromArray([1]))
    // @ts-expect-error window() is on KeyedStream only
    expect(s.window).toBeUndefined()
    expect(s.windowAll(tumbling(10)).reduce('sum', (a, b) => a + b)).toBeDefined()
  })

  it('rejects a job with no sink, and dead-letter without a dead-letter sink', () => {
    const p = new Pipeline('t')
    p.source('a', fromArray([1])).map('m', (x) => x)
    expect(() => p.run()).toThrow(/JOB_NO_SINK/)
    const q = new Pipeline('t')
    q.source('a', fromArray([1])).map('m', (x) => x, { onError: 'dead-letter' }).to('o', memorySink())
    expect(() => q.run()).toThrow(/ERROR_POLICY_INVALID.*dead-letter sink/)
  })

  it('rejects invalid ids and options', () => {
    const p = new Pipeline('t')
    expect(() => p.source('has space', fromArray([1]))).toThrow(/JOB_INVALID_ID/)
    const s = p.source('ok', fromArray([1]))
    expect(() => s.map('m', (x) => x, { onError: 'explode' as 'skip' })).toThrow(/onError must be one of/)
  })
})
