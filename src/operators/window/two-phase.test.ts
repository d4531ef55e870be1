import { describe, expect, it } from 'vitest'
import { Pipeline } from '../../api/pipeline.ts'
import { fromArray } from '../../connectors/array-source.ts'
import { boundedOutOfOrderness } from '../../time/watermarks.ts'
import { memorySink } from '../../testing/index.ts'
import { operatorTotal } from '../../metrics/task-metrics.ts'
import { avg, count } from '../aggregate.ts'
import { sliding, tumbling, type WindowAssigner } from './assigners.ts'

interface Ev {
  k: number
  t: number
  v: number
}
const strategy = boundedOutOfOrderness<Ev>({ timestamp: (e) => e.t, maxOutOfOrdernessMs: 500 })
// Mostly ordered, with some disorder and late records. The late ones are 20 s behind, far more
// than the event time a few batches span (1024 records ≈ 3 s): at parallelism > 1 the watermark
// is the minimum over channels and depends on how the scheduler interleaves them, so a record only
// a little late could be on time in one run and late in another (in any engine). These are late
// whatever the interleaving, so one and two phases must agree exactly.
// Only records from #7000 on are late, so none of them lands before the job's first watermarks.
const input: Ev[] = Array.from({ length: 20_000 }, (_, i) => ({ k: (i * 7) % 13 === 0 ? 0 : i % 29, t: i * 3 - (i >= 7000 && (i * 17) % 5 === 0 ? 20_000 : 0), v: i % 100 }))

// Late by 2 s: some within the allowed lateness of the sliding windows below (they re-fire).
const slightlyLate: Ev[] = Array.from({ length: 20_000 }, (_, i) => ({ k: i % 29, t: i * 3 - ((i * 17) % 5 === 0 ? 2000 : 0), v: i % 100 }))

async function run(assigner: WindowAssigner, twoPhase: boolean, parallelism: number, latenessMs = 300, events = input) {
  const p = new Pipeline('tp', { parallelism })
  const sink = memorySink<string>()
  p.source('s', fromArray(events), { watermarks: strategy })
    .keyBy((e) => e.k)
    .window(assigner)
    .allowedLateness(latenessMs)
    .aggregate('w', avg((e: Ev) => e.v), (k, w, a) => `${k}@${w.start}:${a.toFixed(6)}`, { twoPhase })
    .to('o', sink)
  const r = await p.run().done
  // A late record within the allowed lateness re-fires its window: one phase re-fires per late
  // record, two phases per late partial. The final value of every window is the same.
  const final = new Map<string, string>()
  for (const row of sink.records) final.set(row.slice(0, row.indexOf(':')), row)
  return { rows: [...sink.records].sort(), final: [...final.values()].sort(), metrics: r.metrics }
}

describe('two-phase window aggregation', () => {
  for (const assigner of [tumbling(1000), sliding(2000, 500)]) {
    it(`gives the same results as one phase (${assigner.kind}), at parallelism 1 and 3`, async () => {
      const one = await run(assigner, false, 1)
      expect(one.rows.length).toBeGreaterThan(100)
      for (const p of [1, 3]) {
        const two = await run(assigner, true, p)
        expect(two.final).toEqual(one.final)
        const late = (m: typeof one.metrics) => operatorTotal(m, 'w', 'lateDropped')
        expect(late(two.metrics)).toBe(late(one.metrics))
        if (assigner.kind === 'tumbling') expect(late(one.metrics)).toBeGreaterThan(0)
      }
    })
  }

  it('in one thread at parallelism 1, records late within the allowed lateness re-fire windows to the same final values', async () => {
    const one = await run(sliding(4000, 1000), false, 1, 2500, slightlyLate)
    const two = await run(sliding(4000, 1000), true, 1, 2500, slightlyLate)
    expect(one.rows.length).toBeGreaterThan(new Set(one.final).size)
    expect(two.final).toEqual(one.final)
  })

  it('without allowed lateness emits exactly the same rows', async () => {
    const one = await run(sliding(2000, 500), false, 1, 0)
    const two = await run(sliding(2000, 500), true, 2, 0)
    expect(two.rows).toEqual(one.rows)
  })

  it('sends partials, not records, across the keyBy exchange', async () => {
    const one = await run(tumbling(1000), false, 2)
    const two = await run(tumbling(1000), true, 2)
    const received = (m: typeof one.metrics) => operatorTotal(m, 'w', 'recordsIn')
    expect(received(one.metrics)).toBe(20_000)
    expect(received(two.metrics)).toBeLessThan(20_000 / 5)
  })

  it('shows in the plan, and is off with a late side output or twoPhase: false', () => {
    const p = new Pipeline('tp')
    p.source('s', fromArray(input), { watermarks: strategy }).keyBy((e) => e.k).window(tumbling(1000)).aggregate('w', count()).to('o', memorySink())
    expect(p.explain()).toMatch(/s \[source array, event time\] -> w-local \[window-combine\(pane 1000ms\)\]\n    w-local -> w: hash/)
    const q = new Pipeline('tp')
    q.source('s', fromArray(input), { watermarks: strategy }).keyBy((e) => e.k).window(tumbling(1000)).aggregate('w', count(), { twoPhase: false }).to('o', memorySink())
    expect(q.explain()).not.toMatch(/w-local/)
  })
})
