import { describe, expect, it } from 'vitest'
import { fromArray } from '../connectors/array-source.ts'
import { Pipeline } from '../api/pipeline.ts'
import { manualSource, memorySink, until } from '../testing/index.ts'
import { count } from '../operators/aggregate.ts'
import { tumbling } from '../operators/window/assigners.ts'
import { ManualClock } from './clock.ts'
import { boundedOutOfOrderness } from './watermarks.ts'

interface Ev {
  t: number
}
const strategy = (idleTimeoutMs?: number) => boundedOutOfOrderness<Ev>({ timestamp: (e) => e.t, maxOutOfOrdernessMs: 0, idleTimeoutMs })

describe('watermarks', () => {
  it('a task watermark is the minimum over its inputs', async () => {
    const fast = manualSource<Ev>()
    const slow = manualSource<Ev>()
    const p = new Pipeline('t')
    const sink = memorySink<string>()
    p.source('fast', fast, { watermarks: strategy() })
      .union('both', p.source('slow', slow, { watermarks: strategy() }))
      .keyBy(() => 0)
      .window(tumbling(1000))
      .aggregate('c', count(), (_k, w, n) => `${w.start}:${n}`)
      .to('o', sink)
    const job = p.run()
    fast.push({ t: 100 }, { t: 5000 })
    slow.push({ t: 200 })
    await until(() => job.metrics().operators.find((o) => o.operator === 'c')?.recordsIn === 3)
    // fast is at 4999 but slow holds the watermark at 199: nothing may fire yet.
    expect(sink.records).toEqual([])
    slow.push({ t: 3000 })
    await until(() => sink.records.length === 1)
    expect(sink.records).toEqual(['0:2'])
    fast.end()
    slow.end()
    await job.done
    expect(sink.records).toEqual(['0:2', '3000:1', '5000:1'])
  })

  it('an idle input stops holding the watermark back after the idle timeout', async () => {
    const clock = new ManualClock(0)
    const active = manualSource<Ev>()
    const idle = manualSource<Ev>()
    const p = new Pipeline('t')
    const sink = memorySink<string>()
    p.source('active', active, { watermarks: strategy(500) })
      .union('both', p.source('idle', idle, { watermarks: strategy(500) }))
      .keyBy(() => 0)
      .window(tumbling(1000))
      .aggregate('c', count(), (_k, w, n) => `${w.start}:${n}`)
      .to('o', sink)
    const job = p.run({ clock })
    active.push({ t: 100 }, { t: 2000 })
    await until(() => job.metrics().operators.find((o) => o.operator === 'c')?.recordsIn === 2)
    expect(sink.records).toEqual([])
    clock.advance(600) // both sources silent past the timeout; the idle one no longer counts
    active.push({ t: 2500 })
    await until(() => sink.records.length === 1)
    expect(sink.records).toEqual(['0:1'])
    active.end()
    idle.end()
    await job.done
  })

  it('the end of bounded input fires every open window (final watermark)', async () => {
    const p = new Pipeline('t')
    const sink = memorySink<string>()
    p.source('s', fromArray([{ t: 10 }, { t: 999_999 }]), { watermarks: boundedOutOfOrderness<Ev>({ timestamp: (e) => e.t, maxOutOfOrdernessMs: 1_000_000 }) })
      .keyBy(() => 0)
      .window(tumbling(1000))
      .aggregate('c', count(), (_k, w, n) => `${w.start}:${n}`)
      .to('o', sink)
    const r = await p.run().done
    expect(sink.records).toEqual(['0:1', '999000:1'])
    expect(r.status).toBe('finished')
  })

  it('records with an invalid timestamp are reported under the source policy', async () => {
    const p = new Pipeline('t')
    const sink = memorySink<Ev>()
    p.source('s', fromArray([{ t: 1 }, { t: Number.NaN }, { t: 3 }]), { watermarks: strategy(), onError: 'skip' }).to('o', sink)
    const r = await p.run().done
    expect(sink.records).toEqual([{ t: 1 }, { t: 3 }])
    expect(r.metrics.operators.find((o) => o.operator === 's')?.skipped).toBe(1)
    const q = new Pipeline('t')
    q.source('s', fromArray([{ t: 'soon' as unknown as number }]), { watermarks: strategy() }).to('o', memorySink())
    await expect(q.run().done).rejects.toThrow(/SOURCE_MALFORMED_RECORD.*TIMESTAMP_INVALID/)
  })
})
