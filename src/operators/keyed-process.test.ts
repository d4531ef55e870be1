import { describe, expect, it } from 'vitest'
import { fromArray } from '../connectors/array-source.ts'
import { Pipeline } from '../api/pipeline.ts'
import { ManualClock } from '../time/clock.ts'
import { boundedOutOfOrderness } from '../time/watermarks.ts'
import { manualSource, memorySink, runAndCollect, until } from '../testing/index.ts'
import type { ListState, MapState, ReducingState, ValueState } from '../state/keyed-state.ts'
import { outputTag } from './types.ts'

interface Ev {
  k: string
  t: number
  v: number
}
const e = (k: string, t: number, v = 1): Ev => ({ k, t, v })
const wm = boundedOutOfOrderness<Ev>({ timestamp: (x) => x.t })

describe('keyed process functions', () => {
  it('keep per-key value, list, map and reducing state', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('s', fromArray([e('a', 1, 5), e('b', 2, 7), e('a', 3, 2), e('a', 4, 5)]))
        .keyBy((x) => x.k)
        .process<string>('st', () => {
          let last: ValueState<number>
          let all: ListState<number>
          let counts: MapState<number, number>
          let total: ReducingState<number>
          return {
            open: ({ state }) => {
              last = state.value('last')
              all = state.list('all')
              counts = state.map('counts')
              total = state.reducing('total', (a, b) => a + b)
            },
            processElement: (x, ctx) => {
              const prev = last.get()
              last.set(x.v)
              all.add(x.v)
              counts.set(x.v, (counts.get(x.v) ?? 0) + 1)
              total.add(x.v)
              ctx.emit(`${ctx.key}: prev=${prev} all=${all.get().join('+')} seen(${x.v})=${counts.get(x.v)} total=${total.get()}`)
            },
          }
        }),
    )
    expect(out).toEqual([
      'a: prev=undefined all=5 seen(5)=1 total=5',
      'b: prev=undefined all=7 seen(7)=1 total=7',
      'a: prev=5 all=5+2 seen(2)=1 total=7',
      'a: prev=2 all=5+2+5 seen(5)=2 total=12',
    ])
  })

  it('fire event-time timers in time order when the watermark passes them', async () => {
    const out = await runAndCollect((p) =>
      p
        .source('s', fromArray([e('a', 1000), e('b', 500), e('a', 1200), e('c', 5000)]), { watermarks: wm })
        .keyBy((x) => x.k)
        .process<string>('timers', {
          processElement: (x, ctx) => {
            ctx.timers.registerEventTimeTimer(x.t + 100)
            ctx.timers.registerEventTimeTimer(x.t + 100) // duplicates are one timer
          },
          onTimer: (t, ctx) => ctx.emit(`${ctx.key}@${t} wm=${ctx.timers.currentWatermark()}`),
        }),
    )
    // The watermark after e('c', 5000) is 4999: timers up to 1300 fire then; c's at 5100 fires at the end.
    expect(out).toEqual(['b@600 wm=4999', 'a@1100 wm=4999', 'a@1300 wm=4999', `c@5100 wm=${Number.POSITIVE_INFINITY}`])
  })

  it('fire processing-time timers from the injected clock', async () => {
    const clock = new ManualClock(10_000)
    const src = manualSource<Ev>()
    const p = new Pipeline('t')
    const sink = memorySink<string>()
    p.source('s', src)
      .keyBy((x) => x.k)
      .process<string>('pt', {
        processElement: (_x, ctx) => ctx.timers.registerProcessingTimeTimer(ctx.timers.currentProcessingTime() + 1000),
        onTimer: (t, ctx) => ctx.emit(`${ctx.key}@${t}/${ctx.timeDomain}`),
      })
      .to('o', sink)
    const job = p.run({ clock })
    src.push(e('a', 0))
    await until(() => job.metrics().operators.find((o) => o.operator === 'pt')?.recordsIn === 1)
    clock.advance(999)
    // A record read after the advance proves the task has run since: a timer due at 10 999 would have fired.
    src.push(e('b', 0))
    await until(() => job.metrics().operators.find((o) => o.operator === 'pt')?.recordsIn === 2)
    expect(sink.records).toEqual([])
    clock.advance(1)
    await until(() => sink.records.length === 1)
    expect(sink.records).toEqual(['a@11000/processing'])
    src.end()
    await job.done
  })

  it('expire state after its TTL (processing time)', async () => {
    const clock = new ManualClock(0)
    const src = manualSource<Ev>()
    const p = new Pipeline('t')
    const sink = memorySink<string>()
    p.source('s', src)
      .keyBy((x) => x.k)
      .process<string>('ttl', () => {
        let seen: ValueState<number>
        return {
          open: ({ state }) => {
            seen = state.value('seen', { ttl: { ttlMs: 1000 } })
          },
          processElement: (x, ctx) => {
            ctx.emit(`${x.v}: ${seen.get() ?? 'none'}`)
            seen.set(x.v)
          },
        }
      })
      .to('o', sink)
    const job = p.run({ clock })
    src.push(e('a', 0, 1))
    await until(() => sink.records.length === 1)
    clock.advance(500)
    src.push(e('a', 0, 2))
    await until(() => sink.records.length === 2)
    clock.advance(1000)
    src.push(e('a', 0, 3))
    await until(() => sink.records.length === 3)
    src.end()
    await job.done
    expect(sink.records).toEqual(['1: none', '2: 1', '3: none'])
  })

  it('connect: two inputs share keyed state', async () => {
    const left = [{ id: 1, name: 'x' }, { id: 2, name: 'y' }]
    const right = [{ ref: 2, n: 10 }, { ref: 1, n: 20 }, { ref: 3, n: 30 }]
    const out = await runAndCollect((p) =>
      p
        .source('l', fromArray(left))
        .keyBy((l) => l.id)
        .connect(p.source('r', fromArray(right)).keyBy((r) => r.ref))
        .process<string>('co', () => {
          let name: ValueState<string>
          let pending: ListState<number>
          return {
            open: ({ state }) => {
              name = state.value('name')
              pending = state.list('pending')
            },
            processElement1: (l, ctx) => {
              name.set(l.name)
              for (const n of pending.get()) ctx.emit(`${l.name}:${n}`)
              pending.clear()
            },
            processElement2: (r, ctx) => {
              const nm = name.get()
              if (nm === undefined) pending.add(r.n)
              else ctx.emit(`${nm}:${r.n}`)
            },
          }
        }),
    )
    expect(out.sort()).toEqual(['x:20', 'y:10'])
  })

  it('emit to a side output that another branch consumes', async () => {
    const big = outputTag<Ev>('big')
    const p = new Pipeline('t')
    const main = memorySink<string>()
    const side = memorySink<Ev>()
    const processed = p
      .source('s', fromArray([e('a', 1, 5), e('b', 2, 500), e('a', 3, 7)]))
      .keyBy((x) => x.k)
      .process<string>('split', {
        processElement: (x, ctx) => {
          if (x.v > 100) ctx.emitSide(big, x)
          else ctx.emit(`${ctx.key}:${x.v}`)
        },
      })
    processed.to('main', main)
    processed.sideOutput(big).to('side', side)
    await p.run().done
    expect(main.records).toEqual(['a:5', 'a:7'])
    expect(side.records).toEqual([e('b', 2, 500)])
  })
})
