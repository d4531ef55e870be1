import { describe, expect, it } from 'vitest'
import type { Clock } from '../time/clock.ts'
import { generatorSource } from './generator-source.ts'
import { readSource, sourceContract, TestSourceContext } from './source-contract.ts'

sourceContract('generatorSource', (records) => generatorSource((n) => records[n], { count: records.length }),
  Array.from({ length: 100 }, (_, i) => ({ n: i })))

/** A clock the test sets by hand; the reader's real setTimeout waits are short and not asserted on. */
class FakeClock implements Clock {
  constructor(public ms = 0) {}
  now(): number {
    return this.ms
  }
}

describe('generatorSource', () => {
  it('generates fn(0) .. fn(count - 1) and declares its size', async () => {
    const source = generatorSource((n) => n * n, { count: 5 })
    expect(source.bounded).toBe(true)
    expect(source.expectedRecords).toBe(5)
    expect(await readSource(source)).toEqual([0, 1, 4, 9, 16])
  })

  it('is unbounded without a count', () => {
    const source = generatorSource((n) => n)
    expect(source.bounded).toBe(false)
    expect(source.expectedRecords).toBeUndefined()
    const out: number[] = []
    expect(source.open(new TestSourceContext()).read(out, 1000)).toBe(1000)
  })

  it('emits only the records due by the clock when rate-limited', async () => {
    const clock = new FakeClock(5_000)
    const reader = generatorSource((n) => n, { ratePerSecond: 100, count: 1000 }).open(new TestSourceContext('fail', clock))
    const out: number[] = []
    clock.ms += 1000
    expect(reader.read(out, 1000)).toBe(100)
    clock.ms += 50
    expect(reader.read(out, 3)).toBe(3)
    expect(reader.read(out, 1000)).toBe(2)
    expect(out).toEqual(Array.from({ length: 105 }, (_, i) => i))
    expect(reader.position()).toBe('index 105')
  })

  it('waits when nothing is due, then emits what has come due', async () => {
    const clock = new FakeClock(0)
    const reader = generatorSource((n) => n, { ratePerSecond: 200 }).open(new TestSourceContext('fail', clock))
    const out: number[] = []
    const waiting = reader.read(out, 1000)
    expect(waiting).toBeInstanceOf(Promise)
    clock.ms = 20
    expect(await waiting).toBe(4)
    expect(await reader.read(out, 1000)).toBe(0) // the clock has not moved: nothing more is due
  })

  it('releases at most one second of records after a stall instead of a flood', () => {
    const clock = new FakeClock(0)
    const reader = generatorSource((n) => n, { ratePerSecond: 10 }).open(new TestSourceContext('fail', clock))
    const out: number[] = []
    clock.ms = 60_000
    expect(reader.read(out, 1000)).toBe(10)
    clock.ms += 500
    expect(reader.read(out, 1000)).toBe(5)
  })

  it('stops at count even when more would be due', async () => {
    const clock = new FakeClock(0)
    const reader = generatorSource((n) => n, { ratePerSecond: 1000, count: 7 }).open(new TestSourceContext('fail', clock))
    clock.ms = 1000
    const out: number[] = []
    expect(reader.read(out, 1000)).toBe(7)
    expect(reader.read(out, 1000)).toBe(-1)
  })

  it('resumes from { next } and restarts its rate schedule there', async () => {
    expect(await readSource(generatorSource((n) => n * 2, { count: 6 }), new TestSourceContext())).toEqual([0, 2, 4, 6, 8, 10])
    const resumed = generatorSource((n) => n * 2, { count: 6 }).open(new TestSourceContext(), { next: 4 })
    const out: number[] = []
    expect(resumed.read(out, 10)).toBe(2)
    expect(out).toEqual([8, 10])
    expect(resumed.snapshotPosition?.()).toEqual({ next: 6 })

    const clock = new FakeClock(1_000)
    const limited = generatorSource((n) => n, { ratePerSecond: 100 }).open(new TestSourceContext('fail', clock), { next: 500 })
    const due: number[] = []
    clock.ms += 50
    expect(limited.read(due, 1000)).toBe(5)
    expect(due).toEqual([500, 501, 502, 503, 504])
  })

  it('refuses a position past count or of another shape', () => {
    const source = generatorSource((n) => n, { count: 5 })
    expect(() => source.open(new TestSourceContext(), { next: 6 })).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('only 5 records') }))
    expect(() => source.open(new TestSourceContext(), { index: 1 })).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('next must be') }))
  })

  it('rejects a negative count or a rate that is not positive', () => {
    expect(() => generatorSource((n) => n, { count: -1 })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
    expect(() => generatorSource((n) => n, { ratePerSecond: 0 })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
    expect(() => generatorSource((n) => n, { ratePerSecond: Number.NaN })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })
})
