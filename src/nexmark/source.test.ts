import { describe, it, expect } from 'vitest'
import { nexmarkSource } from './source.ts'
import type { SourceContext, SourcePosition, SourceReader } from '../connectors/spi.ts'
import { ManualClock } from '../time/clock.ts'
import { NexmarkGenerator } from './generator.ts'
import { eventTime, type NexmarkEvent } from './model.ts'
import { expectResumesFromSnapshots, sourceContract } from '../connectors/source-contract.ts'

const ctx: SourceContext = {
  sourceId: 'nexmark',
  subtaskIndex: 0,
  parallelism: 1,
  clock: new ManualClock(0),
  reportBadRecord: () => { throw new Error('the generator never produces bad records') },
}

async function readAll(reader: SourceReader<NexmarkEvent>, batch: number): Promise<NexmarkEvent[]> {
  const out: NexmarkEvent[] = []
  for (;;) {
    const n = await reader.read(out, batch)
    if (n === -1) return out
    expect(n).toBeGreaterThan(0)
  }
}

function generate(seed: number, first: number, count: number): NexmarkEvent[] {
  const out: NexmarkEvent[] = []
  new NexmarkGenerator({ seed }, first, count).next(out, count)
  return out
}

// The events are a prefix of one seeded run, so a source of records.length events is exactly them;
// 3500 events end in a partial block, which split readers must handle.
sourceContract('nexmarkSource', (records) => nexmarkSource({ events: records.length, seed: 7 }), generate(7, 0, 3500), { parallelism: [2, 3] })

describe('nexmarkSource', () => {
  it('reads a bounded run to the end, then returns -1', async () => {
    const source = nexmarkSource({ events: 2500, seed: 3 })
    expect(source.kind).toBe('nexmark')
    expect(source.bounded).toBe(true)
    expect(source.expectedRecords).toBe(2500)
    const reader = await source.open(ctx)
    expect(reader.position()).toBe('event 0')
    const events = await readAll(reader, 1000)
    expect(events).toEqual(generate(3, 0, 2500))
    expect(reader.position()).toBe('event 2500')
    expect(await reader.read([], 10)).toBe(-1)
  })

  it('starts at firstEventNumber, so parallel readers together give the sequential run', async () => {
    const halves = await Promise.all([
      nexmarkSource({ events: 700, seed: 5 }),
      nexmarkSource({ events: 800, seed: 5, firstEventNumber: 700 }),
    ].map(async (s) => readAll(await s.open(ctx), 333)))
    expect(halves.flat()).toEqual(generate(5, 0, 1500))
  })

  it('passes rate and base time to the generator', async () => {
    const reader = await nexmarkSource({ events: 3, eventsPerSecond: 1000, baseTimeMs: 0 }).open(ctx)
    const events = await readAll(reader, 10)
    expect(events.map((e) => e.auction?.dateTime ?? e.bid?.dateTime ?? e.person?.dateTime)).toEqual([0, 1, 2])
  })

  it('is unbounded by default and never runs dry', async () => {
    const source = nexmarkSource()
    expect(source.bounded).toBe(false)
    expect(source.expectedRecords).toBeUndefined()
    const reader = await source.open(ctx)
    const out: NexmarkEvent[] = []
    for (let i = 0; i < 5; i++) expect(await reader.read(out, 512)).toBe(512)
    expect(reader.position()).toBe('event 2560')
  })

  it('reads nothing for a zero-event run', async () => {
    const source = nexmarkSource({ events: 0 })
    expect(source.bounded).toBe(true)
    expect(source.expectedRecords).toBe(0)
    expect(await (await source.open(ctx)).read([], 10)).toBe(-1)
  })

  it('rejects bad options when built', () => {
    expect(() => nexmarkSource({ events: -1 })).toThrow(/CONNECTOR_OPTION_INVALID/)
    expect(() => nexmarkSource({ events: 1.5 })).toThrow(/events/)
    expect(() => nexmarkSource({ eventsPerSecond: -5 })).toThrow(/eventsPerSecond/)
    expect(() => nexmarkSource({ firstEventNumber: -1 })).toThrow(/firstEventNumber/)
  })
})

describe('nexmark source split across subtasks', () => {
  it('the union of p readers is exactly the sequential run, each reader in event-time order', async () => {
    const sequential = await readAll(await nexmarkSource({ events: 7_777, seed: 5 }).open(ctx), 512)
    for (const p of [2, 3]) {
      const shares: NexmarkEvent[][] = []
      for (let i = 0; i < p; i++) shares.push(await readAll(await nexmarkSource({ events: 7_777, seed: 5 }).open({ ...ctx, subtaskIndex: i, parallelism: p }), 300))
      const key = (e: NexmarkEvent): string => JSON.stringify(e)
      expect(shares.flat().map(key).sort()).toEqual(sequential.map(key).sort())
      for (const share of shares) {
        expect(share.length).toBeGreaterThan(0)
        const times = share.map((e) => (e.bid ?? e.auction ?? e.person)!.dateTime)
        for (let k = 1; k < times.length; k++) expect(times[k]).toBeGreaterThanOrEqual(times[k - 1])
      }
    }
  })
})

describe('nexmark source positions', () => {
  it('resumes from every snapshot, also ones taken exactly at a block end, when split', async () => {
    for (const p of [1, 2, 3]) {
      for (let k = 0; k < p; k++) {
        const share = await expectResumesFromSnapshots(nexmarkSource({ events: 4321, seed: 9 }), () => ({ ...ctx, subtaskIndex: k, parallelism: p }), [250], Infinity)
        expect(share.length).toBeGreaterThan(0)
      }
    }
  })

  it('names the next event in the position, or the start of the next own block when a block is done', async () => {
    const reader = await nexmarkSource({ events: 5000 }).open({ ...ctx, subtaskIndex: 1, parallelism: 2 })
    expect(reader.snapshotPosition!()).toEqual({ eventNumber: 1000 })
    const out: NexmarkEvent[] = []
    expect(reader.read(out, 400)).toBe(400)
    expect(reader.snapshotPosition!()).toEqual({ eventNumber: 1400 })
    expect(reader.read(out, 1000)).toBe(600)
    expect(reader.snapshotPosition!()).toEqual({ eventNumber: 3000 })
    await readAll(reader, 1000)
    expect(reader.snapshotPosition!()).toEqual({ eventNumber: 5000 })
  })

  it('resumes an unbounded run', async () => {
    const source = nexmarkSource({ seed: 4 })
    const reader = await source.open(ctx, { eventNumber: 123_456 })
    const out: NexmarkEvent[] = []
    expect(reader.read(out, 10)).toBe(10)
    expect(out).toEqual(generate(4, 123_456, 10))
    expect(reader.snapshotPosition!()).toEqual({ eventNumber: 123_466 })
  })

  it.each<[string, SourcePosition, number, number]>([
    ['another subtask\'s block', { eventNumber: 1500 }, 0, 2],
    ['an event past the end', { eventNumber: 5001 }, 0, 1],
    ['an event before the first', { eventNumber: 99 }, 0, 1],
    ['a malformed position', { eventNumber: 'x' }, 0, 1],
    ['a position of another source', { index: 3 }, 0, 1],
  ])('refuses %s with CHECKPOINT_INCOMPATIBLE', (_label, from, subtaskIndex, parallelism) => {
    const source = nexmarkSource({ events: 4900, firstEventNumber: 100 })
    expect(() => source.open({ ...ctx, subtaskIndex, parallelism }, from)).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE' }))
  })

  it('with eventTime wall-clock stamps each batch with the clock, keeping auctions\' durations and every other field', async () => {
    const clock = new ManualClock(1_765_000_000_000)
    const reader = await nexmarkSource({ events: 2000, seed: 5, eventTime: 'wall-clock' }).open({ ...ctx, clock })
    const generated = generate(5, 0, 2000)
    const out: NexmarkEvent[] = []
    expect(reader.read(out, 1000)).toBe(1000)
    clock.advance(250)
    expect(reader.read(out, 1000)).toBe(1000)
    expect(out.slice(0, 1000).map(eventTime)).toEqual(Array(1000).fill(1_765_000_000_000))
    expect(out.slice(1000).map(eventTime)).toEqual(Array(1000).fill(1_765_000_000_250))
    const i = out.findIndex((e) => e.auction !== null)
    expect(out[i].auction!.expires - out[i].auction!.dateTime).toBe(generated[i].auction!.expires - generated[i].auction!.dateTime)
    const untimed = (e: NexmarkEvent) => JSON.stringify(e, (k, v: unknown) => (k === 'dateTime' || k === 'expires' ? 0 : v))
    expect(out.map(untimed)).toEqual(generated.map(untimed))
    expect(reader.snapshotPosition!()).toEqual({ eventNumber: 2000 })
  })

  it('refuses an unknown eventTime', () => {
    expect(() => nexmarkSource({ eventTime: 'now' as 'generated' })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })
})
