import { describe, expect, it } from 'vitest'
import { fromArray } from '../../connectors/array-source.ts'
import { Pipeline } from '../../api/pipeline.ts'
import { ManualClock } from '../../time/clock.ts'
import { boundedOutOfOrderness } from '../../time/watermarks.ts'
import { manualSource, memorySink, runAndCollect, until } from '../../testing/index.ts'
import { count } from '../aggregate.ts'
import { outputTag } from '../types.ts'
import type { JoinBuilder } from '../../api/join-builder.ts'
import type { Stream } from '../../api/stream.ts'
import { globalWindow, session, sliding, tumbling } from './assigners.ts'

interface Ev {
  k: string
  t: number
}
const ev = (k: string, t: number): Ev => ({ k, t })
const wm = (maxOutOfOrdernessMs = 0) => boundedOutOfOrderness<Ev>({ timestamp: (e) => e.t, maxOutOfOrdernessMs })
const sortRows = <T>(rows: T[]): T[] => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

describe('tumbling and sliding windows (event time)', () => {
  const input = [ev('a', 0), ev('b', 1500), ev('a', 4999), ev('a', 5000), ev('b', 9999), ev('a', 12_000)]

  it('tumbling windows are epoch-aligned and half-open', async () => {
    const out = await runAndCollect((p) => p.source('s', fromArray(input), { watermarks: wm() }).keyBy((e) => e.k).window(tumbling(5000)).aggregate('c', count()))
    expect(sortRows(out)).toEqual(
      sortRows([
        { key: 'a', start: 0, end: 5000, value: 2 },
        { key: 'b', start: 0, end: 5000, value: 1 },
        { key: 'a', start: 5000, end: 10_000, value: 1 },
        { key: 'b', start: 5000, end: 10_000, value: 1 },
        { key: 'a', start: 10_000, end: 15_000, value: 1 },
      ]),
    )
  })

  it('sliding windows equal a brute-force count over every window', async () => {
    const rnd = (i: number) => (i * 7919) % 20_000
    const many = Array.from({ length: 2000 }, (_, i) => ev(`k${i % 5}`, rnd(i))).sort((x, y) => x.t - y.t)
    const out = await runAndCollect((p) => p.source('s', fromArray(many), { watermarks: wm() }).keyBy((e) => e.k).window(sliding(3000, 1000)).aggregate('c', count()))
    const expected: unknown[] = []
    for (let start = -2000; start < 20_000; start += 1000) {
      for (let k = 0; k < 5; k++) {
        const n = many.filter((e) => e.k === `k${k}` && e.t >= start && e.t < start + 3000).length
        if (n > 0) expected.push({ key: `k${k}`, start, end: start + 3000, value: n })
      }
    }
    expect(sortRows(out)).toEqual(sortRows(expected))
  })

  it('windows fire in order of their end as the watermark passes end - 1', async () => {
    const out = await runAndCollect((p) => p.source('s', fromArray(input), { watermarks: wm() }).keyBy(() => 0).window(tumbling(5000)).aggregate('c', count(), (_k, w, n) => `${w.end}:${n}`))
    expect(out).toEqual(['5000:3', '10000:2', '15000:1'])
  })

  it('process windows see all elements', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('s', fromArray(input), { watermarks: wm() })
        .keyBy((e) => e.k)
        .window(tumbling(5000))
        .process<string>('p', (key, w, els, o) => o.collect(`${key}@${w.start}:${els.map((e) => e.t).join(',')}`)),
    )
    expect(out.sort()).toEqual(['a@0:0,4999', 'a@10000:12000', 'a@5000:5000', 'b@0:1500', 'b@5000:9999'])
  })
})

describe('late data', () => {
  // Watermark = max timestamp - 1 (no out-of-orderness), so the record at 1000 after 6000 is late.
  const input = [ev('a', 100), ev('a', 6000), ev('a', 1000), ev('a', 7000)]

  it('drops late records by default and counts them', async () => {
    const p = new Pipeline('t')
    const sink = memorySink<unknown>()
    p.source('s', fromArray(input, { batchSize: 1 }), { watermarks: wm(), batchSize: 1 }).keyBy((e) => e.k).window(tumbling(5000)).aggregate('c', count(), (_k, w, n) => `${w.start}:${n}`).to('o', sink)
    const r = await p.run().done
    expect(sink.records).toEqual(['0:1', '5000:2'])
    expect(r.metrics.operators.find((o) => o.operator === 'c')?.lateDropped).toBe(1)
  })

  it('routes late records to a side output', async () => {
    const late = outputTag<Ev>('late')
    const p = new Pipeline('t')
    const main = memorySink<unknown>()
    const lateSink = memorySink<Ev>()
    const counted = p
      .source('s', fromArray(input, { batchSize: 1 }), { watermarks: wm(), batchSize: 1 })
      .keyBy((e) => e.k)
      .window(tumbling(5000))
      .sideOutputLateData(late)
      .aggregate('c', count(), (_k, w, n) => `${w.start}:${n}`)
    counted.to('o', main)
    counted.sideOutput(late).to('late-out', lateSink)
    await p.run().done
    expect(main.records).toEqual(['0:1', '5000:2'])
    expect(lateSink.records).toEqual([ev('a', 1000)])
  })

  it('allowed lateness re-fires the window with the late record included', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('s', fromArray(input, { batchSize: 1 }), { watermarks: wm(), batchSize: 1 })
        .keyBy((e) => e.k)
        .window(tumbling(5000))
        .allowedLateness(2000)
        .aggregate('c', count(), (_k, w, n) => `${w.start}:${n}`),
    )
    expect(out).toEqual(['0:1', '0:2', '5000:2'])
  })
})

describe('session windows', () => {
  it('merges sessions bridged by an out-of-order record', async () => {
    // Two sessions [0, 3000) and [5000, 8000) until the record at 2500 makes [2500, 5500) bridge them.
    const input = [ev('a', 0), ev('a', 5000), ev('a', 2500), ev('b', 1000), ev('a', 20_000)]
    const out = await runAndCollect((p) =>
      p.source('s', fromArray(input), { watermarks: wm(10_000) }).keyBy((e) => e.k).window(session(3000)).aggregate('c', count(), (k, w, n) => ({ k, start: w.start, end: w.end, n })),
    )
    expect(sortRows(out)).toEqual(
      sortRows([
        { k: 'a', start: 0, end: 8000, n: 3 },
        { k: 'b', start: 1000, end: 4000, n: 1 },
        { k: 'a', start: 20_000, end: 23_000, n: 1 },
      ]),
    )
  })

  it('sessions that touch merge (as in Flink); a longer gap starts a new session', async () => {
    const input = [ev('a', 0), ev('a', 3000), ev('a', 6001)]
    const out = await runAndCollect((p) => p.source('s', fromArray(input), { watermarks: wm() }).keyBy((e) => e.k).window(session(3000)).aggregate('c', count(), (_k, w, n) => `${w.start}-${w.end}:${n}`))
    expect(out).toEqual(['0-6000:2', '6001-9001:1'])
  })
})

describe('count windows', () => {
  it('fire every N records per key and do not fire partial windows', async () => {
    const input = ['a', 'b', 'a', 'a', 'b', 'a', 'a']
    const out = await runAndCollect((p) => p.source('s', fromArray(input)).keyBy((x) => x).window(globalWindow({ count: 2 })).aggregate('c', count(), (k, _w, n) => `${k}:${n}`))
    expect(out).toEqual(['a:2', 'b:2', 'a:2'])
  })
})

describe('processing-time windows', () => {
  it('fire when the injected clock passes the window end', async () => {
    const clock = new ManualClock(0)
    const src = manualSource<string>()
    const p = new Pipeline('t')
    const sink = memorySink<string>()
    p.source('s', src).keyBy((x) => x).window(tumbling(1000, { time: 'processing' })).aggregate('c', count(), (k, w, n) => `${k}@${w.start}:${n}`).to('o', sink)
    const job = p.run({ clock })
    src.push('a', 'a', 'b')
    await until(() => job.metrics().operators.find((o) => o.operator === 'c')?.recordsIn === 3)
    expect(sink.records).toEqual([])
    clock.advance(1000)
    await until(() => sink.records.length === 2)
    expect(sink.records.sort()).toEqual(['a@0:2', 'b@0:1'])
    src.push('a')
    await until(() => job.metrics().operators.find((o) => o.operator === 'c')?.recordsIn === 4)
    src.end()
    await job.done
    expect(sink.records.sort()).toEqual(['a@0:2', 'a@1000:1', 'b@0:1'])
  })

  it('sliding processing-time windows keep firing over old panes without new records', async () => {
    const clock = new ManualClock(0)
    const src = manualSource<string>()
    const p = new Pipeline('t')
    const sink = memorySink<string>()
    p.source('s', src).keyBy((x) => x).window(sliding(3000, 1000, { time: 'processing' })).aggregate('c', count(), (k, w, n) => `${k}@${w.start}:${n}`).to('o', sink)
    const job = p.run({ clock })
    src.push('a')
    await until(() => job.metrics().operators.find((o) => o.operator === 'c')?.recordsIn === 1)
    for (let t = 1; t <= 3; t++) {
      clock.advance(1000)
      await until(() => sink.records.length === t)
    }
    expect(sink.records).toEqual(['a@-2000:1', 'a@-1000:1', 'a@0:1'])
    src.end()
    await job.done
    expect(sink.records).toHaveLength(3)
  })

  it('regression: a record late for some sliding windows does not re-fire them without allowed lateness', async () => {
    // Watermark reaches 3999 after t=4000; then t=2500 is late for [0, 3000) but not for [2000, 5000).
    const input = [ev('a', 100), ev('a', 4000), ev('a', 2500), ev('a', 9000)]
    const out = await runAndCollect((p) =>
      p.source('s', fromArray(input, { batchSize: 1 }), { watermarks: wm(), batchSize: 1 }).keyBy((e) => e.k).window(sliding(3000, 1000)).aggregate('c', count(), (_k, w, n) => `${w.start}:${n}`),
    )
    const fires = out.filter((r) => r.startsWith('0:'))
    expect(fires).toEqual(['0:1'])
    expect(out).toContain('2000:2')
  })
})

describe('invalid windows and joins are refused when the job is built', () => {
  const codeOf = (f: () => unknown): unknown => {
    try {
      f()
    } catch (e) {
      return (e as { code?: unknown }).code
    }
    return 'nothing thrown'
  }
  const keyed = () => new Pipeline('t').source('s', fromArray([ev('a', 0)]), { watermarks: wm() }).keyBy((e) => e.k)
  const noMerge = { create: () => 0, add: (a: number) => a + 1, result: (a: number) => a }

  it('WINDOW_INVALID for a bad size, slide, gap, time or count, and a merging window without merge()', () => {
    expect(codeOf(() => tumbling(0))).toBe('WINDOW_INVALID')
    expect(codeOf(() => sliding(1000, 2000))).toBe('WINDOW_INVALID')
    expect(codeOf(() => session(1.5))).toBe('WINDOW_INVALID')
    expect(codeOf(() => tumbling(1000, { time: 'wall' as 'event' }))).toBe('WINDOW_INVALID')
    expect(codeOf(() => globalWindow({ count: 0 }))).toBe('WINDOW_INVALID')
    expect(codeOf(() => keyed().window(sliding(1000, 500)).aggregate('w', noMerge, { twoPhase: false }))).toBe('WINDOW_INVALID')
    expect(codeOf(() => keyed().window(session(1000)).aggregate('w', noMerge))).toBe('WINDOW_INVALID')
  })

  it('JOIN_INVALID for interval bounds or a join TTL when the join is built, for a window join over sessions when the job runs', async () => {
    const join = (p = new Pipeline('t')): JoinBuilder<string, Ev, Ev> => {
      const side = (id: string) => p.source(id, fromArray([ev('a', 0)]), { watermarks: wm() }).keyBy((e) => e.k)
      return side('l').join(side('r'))
    }
    expect(codeOf(() => join().between(10, -10))).toBe('JOIN_INVALID')
    expect(codeOf(() => join().between(0, Number.NaN))).toBe('JOIN_INVALID')
    expect(codeOf(() => join().apply('j', (l, r) => [l, r], { ttlMs: -1 }))).toBe('JOIN_INVALID')
    expect(codeOf(() => join().apply('j', (l, r) => [l, r], { ttlMs: 0 }))).toBe('JOIN_INVALID')
    const runJoin = async (build: (j: JoinBuilder<string, Ev, Ev>) => Stream<Ev[]>): Promise<unknown> => {
      const p = new Pipeline('t')
      build(join(p)).to('out', memorySink())
      try {
        await p.run().done
      } catch (e) {
        return (e as { code?: unknown }).code
      }
      return 'nothing thrown'
    }
    expect(await runJoin((j) => j.window(session(1000)).apply('j', (l, r) => [l, r]))).toBe('JOIN_INVALID')
  })
})
