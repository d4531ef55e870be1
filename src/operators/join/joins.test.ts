import { describe, expect, it } from 'vitest'
import { fromArray } from '../../connectors/array-source.ts'
import { boundedOutOfOrderness } from '../../time/watermarks.ts'
import { manualSource, memorySink, runAndCollect, until } from '../../testing/index.ts'
import { Pipeline } from '../../api/pipeline.ts'
import { tumbling } from '../window/assigners.ts'

interface L {
  k: number
  t: number
  l: string
}
interface R {
  k: number
  t: number
  r: string
}
const lw = boundedOutOfOrderness<L>({ timestamp: (x) => x.t, maxOutOfOrdernessMs: 100_000 })
const rw = boundedOutOfOrderness<R>({ timestamp: (x) => x.t, maxOutOfOrdernessMs: 100_000 })
const lefts: L[] = [
  { k: 1, t: 100, l: 'a' },
  { k: 1, t: 1500, l: 'b' },
  { k: 2, t: 200, l: 'c' },
]
const rights: R[] = [
  { k: 1, t: 300, r: 'X' },
  { k: 1, t: 900, r: 'Y' },
  { k: 2, t: 1100, r: 'Z' },
  { k: 3, t: 100, r: 'W' },
]

describe('joins', () => {
  it('window join pairs records of the same key and window', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('l', fromArray(lefts), { watermarks: lw })
        .keyBy((x) => x.k)
        .join(p.source('r', fromArray(rights), { watermarks: rw }).keyBy((x) => x.k))
        .window(tumbling(1000))
        .apply('wj', (l, r) => `${l.l}${r.r}`),
    )
    expect(out.sort()).toEqual(['aX', 'aY'])
  })

  it('window co-group sees both sides at once', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('l', fromArray(lefts), { watermarks: lw })
        .keyBy((x) => x.k)
        .join(p.source('r', fromArray(rights), { watermarks: rw }).keyBy((x) => x.k))
        .window(tumbling(2000))
        .coGroup<string>('cg', (k, ls, rs, w, o) => o.collect(`${k}@${w.start}: ${ls.length}x${rs.length}`)),
    )
    expect(out.sort()).toEqual(['1@0: 2x2', '2@0: 1x1'])
  })

  it('interval join matches right records within [t + lower, t + upper]', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('l', fromArray(lefts), { watermarks: lw })
        .keyBy((x) => x.k)
        .join(p.source('r', fromArray(rights), { watermarks: rw }).keyBy((x) => x.k))
        .between(-200, 800)
        .apply('ij', (l, r) => `${l.l}${r.r}`),
    )
    // a@100 matches X@300 and Y@900; b@1500 matches nothing in [1300, 2300]; c@200 matches Z@1100? no: 1100 > 1000.
    expect(out.sort()).toEqual(['aX', 'aY'])
  })

  it('unbounded join emits a match whichever side arrives first', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('l', fromArray(lefts))
        .keyBy((x) => x.k)
        .join(p.source('r', fromArray(rights)).keyBy((x) => x.k))
        .apply('uj', (l, r) => `${l.l}${r.r}`),
    )
    expect(out.sort()).toEqual(['aX', 'aY', 'bX', 'bY', 'cZ'])
  })

  it('unbounded join with an event-time TTL forgets records once the watermark passes time + ttl', async () => {
    const run = async (ttlMs: number | undefined): Promise<string[]> => {
      const left = manualSource<L>()
      const right = manualSource<R>()
      const p = new Pipeline('t')
      const sink = memorySink<string>()
      p.source('l', left, { watermarks: boundedOutOfOrderness<L>({ timestamp: (x) => x.t }) })
        .keyBy((x) => x.k)
        .join(p.source('r', right, { watermarks: boundedOutOfOrderness<R>({ timestamp: (x) => x.t }) }).keyBy((x) => x.k))
        .apply('uj', (l, r) => `${l.l}${r.r}`, { ttlMs })
        .to('o', sink)
      const job = p.run()
      left.push({ k: 1, t: 0, l: 'old' }, { k: 9, t: 10_000, l: 'tick' })
      right.push({ k: 8, t: 10_000, r: 'tock' })
      await until(() => (job.metrics().tasks.find((t) => t.task === 'uj')?.watermark ?? 0) >= 9999)
      right.push({ k: 1, t: 20_000, r: 'late' })
      left.end()
      right.end()
      await job.done
      return sink.records
    }
    expect(await run(undefined)).toEqual(['oldlate'])
    expect(await run(5000)).toEqual([])
  })
})
