import { describe, it, expect } from 'vitest'
import { nexmarkSource } from './nexmark-source.ts'
import type { SourceContext, SourceReader } from './spi.ts'
import { ManualClock } from '../time/clock.ts'
import { NexmarkGenerator } from '../nexmark/generator.ts'
import type { NexmarkEvent } from '../nexmark/model.ts'

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
    expect(() => nexmarkSource({ events: -1 })).toThrow(/JOB_INVALID_OPTION/)
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
