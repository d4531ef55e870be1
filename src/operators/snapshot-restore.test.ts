/**
 * Every stateful operator, snapshotted part-way through a deterministic input, encoded, decoded
 * and restored into fresh instances, produces what an uninterrupted run produces: exactly (same
 * order) when restored at the same parallelism, and as a multiset after rescaling (2 → 1, 2 → 3,
 * 3 → 2, 1 → 4 subtasks, records routed by key group).
 *
 * The cut always falls just before a watermark 300 ms behind the last one (which a task ignores,
 * but a restarted task, whose watermark starts at −∞, passes on, as after a restart whose sources'
 * watermarks start lower) and a batch with records behind the watermark, so a restored operator
 * must judge lateness, event-time TTL and timers by the watermark it had reached.
 */
import { describe, expect, it } from 'vitest'
import { avg, count, listAggregate, sum, type AggregateFunction } from './aggregate.ts'
import { KeyedProcessOperator, type OpenContext, type ProcessContext } from './keyed-process.ts'
import { RollingAggregateOperator } from './rolling-aggregate.ts'
import { outputTag, type Operator } from './types.ts'
import { CountWindowOperator } from './window/count-window.ts'
import { PaneWindowOperator } from './window/pane-window.ts'
import { SessionWindowOperator } from './window/session-window.ts'
import { aggregateWindowFunction } from './window/window-function.ts'
import { IntervalJoinOperator } from './join/interval-join.ts'
import { KeyedJoinOperator } from './join/keyed-join.ts'
import { pairsAsCoGroup, WindowJoinOperator } from './join/window-join.ts'
import { tumbling, sliding, type TimeWindow } from './window/assigners.ts'
import type { ListState, MapState, ReducingState, ValueState } from '../state/keyed-state.ts'
import { runUninterrupted, runWithRestore, sorted, type Emitted, type Step } from '../state/snapshot-test-support.ts'
import { SeededRandom } from '../testing/random.ts'
import { keyGroupOf, subtaskOfKeyGroup } from '../state/key-groups.ts'

type Key = string | number

interface Ev {
  k: Key
  t: number
  v: number
}

const keyOf = (e: Ev): Key => e.k
const START_MS = 50_000

/** Mixed keys: integers, strings and a few non-integer numbers. */
function keys(n: number): Key[] {
  return Array.from({ length: n }, (_, i) => (i % 5 === 4 ? i + 0.5 : i % 3 === 0 ? i * 7 : `k${i}`))
}

interface ScriptOptions {
  seed: number
  keyCount: number
  /** The keys to draw from; default keys(keyCount). */
  keys?: Key[]
  inputs?: number
  batches?: number
  perBatch?: number
  lateRate?: number
  /** How far behind its batch a late record is, at least. Default 50. */
  lateByMs?: number
  /** Batches with no records (the clock and watermark still move). */
  quiet?: (batch: number) => boolean
  /** Extra records: batch index → records per input. */
  extra?: (batch: number, input: number) => Ev[]
}

/**
 * Batch i holds records at i·100 + [0, 150) (a few late ones far behind), then the watermark
 * i·100 − 1 and the clock START_MS + (i + 1)·100. The cut is just before the middle batch.
 */
function script(o: ScriptOptions): { steps: Step[]; cut: number } {
  const r = new SeededRandom(o.seed)
  const ks = o.keys ?? keys(o.keyCount)
  const batches = o.batches ?? 24
  const steps: Step[] = []
  let cut = -1
  for (let i = 0; i < batches; i++) {
    if (i === batches >> 1) {
      cut = steps.length
      steps.push({ kind: 'watermark', time: (i - 1) * 100 - 1 - 300 })
    }
    const base = i * 100
    for (let input = 0; input < (o.inputs ?? 1); input++) {
      const records: Ev[] = []
      for (let j = 0; j < (o.quiet?.(i) === true ? 0 : (o.perBatch ?? 10)); j++) {
        let t = base + (r.u32() % 150)
        if (r.float() < (o.lateRate ?? 0.08)) t = base - (o.lateByMs ?? 50) - (r.u32() % 250)
        records.push({ k: ks[r.u32() % ks.length], t, v: r.u32() % 100 })
      }
      if (o.extra !== undefined) records.push(...o.extra(i, input))
      steps.push({ kind: 'batch', input, records, times: records.map((e) => e.t) })
    }
    // Another watermark below the restored one, now that timers may have been registered below it.
    if (i === batches >> 1) steps.push({ kind: 'watermark', time: base - 1 - 300 })
    steps.push({ kind: 'watermark', time: base - 1 })
    steps.push({ kind: 'clock', toMs: START_MS + (i + 1) * 100 })
  }
  return { steps, cut }
}

const RESCALES: [number, number][] = [
  [2, 1],
  [2, 3],
  [3, 2],
  [1, 4],
]

/** Runs the checks of the module comment; returns the uninterrupted output. */
function expectRestorable(make: () => Operator<unknown, unknown>, s: { steps: Step[]; cut: number }, inputs = 1): Emitted[] {
  const o = { make, keyOf: Array.from({ length: inputs }, () => keyOf as (v: never) => unknown), steps: s.steps, cut: s.cut, startMs: START_MS }
  const base = runUninterrupted(o)
  expect(base.emitted.length).toBeGreaterThan(20)
  const same = runWithRestore({ ...o, before: 1, after: 1 })
  expect(same.emitted).toEqual(base.emitted)
  expect(same.lateDropped).toBe(base.lateDropped)
  expect(same.snapshotBytes[0]).toBeGreaterThan(1)
  const want = sorted(base.emitted)
  for (const [before, after] of RESCALES) {
    const r = runWithRestore({ ...o, before, after })
    expect(sorted(r.emitted), `${before} -> ${after} subtasks`).toEqual(want)
    expect(r.lateDropped, `${before} -> ${after} subtasks`).toBe(base.lateDropped)
  }
  return base.emitted
}

const windowed = <R>(k: Key, w: TimeWindow, r: R) => ({ k, start: w.start, end: w.end, r })
const values: AggregateFunction<Ev, number[], number[]> = {
  create: () => [],
  add: (a, e) => {
    a.push(e.v)
    return a
  },
  merge: (a, b) => {
    for (const v of b) a.push(v)
    return a
  },
  result: (a) => a.slice().sort((x, y) => x - y),
}

describe('operator snapshots restore the same run', () => {
  it('rolling aggregate (object accumulators)', () => {
    expectRestorable(() => new RollingAggregateOperator(keyOf, avg<Ev>((e) => e.v), (k, r) => ({ k, r })) as Operator<unknown, unknown>, script({ seed: 1, keyCount: 12 }))
  })

  it('keyed process: value/map/list/reducing state, event- and processing-time TTL and timers', () => {
    const make = () => {
      let last: ValueState<number>
      let seen: MapState<number, number>
      let all: ListState<number>
      let total: ReducingState<number>
      const open = ({ state }: OpenContext) => {
        last = state.value('last', { ttl: { ttlMs: 300, time: 'event' } })
        seen = state.map('seen', { ttl: { ttlMs: 450 } })
        all = state.list('all')
        total = state.reducing('total', (a: number, b: number) => a + b)
      }
      const onElement = (value: unknown, ctx: ProcessContext<Key, string>) => {
        const e = value as Ev
        const bucket = e.v % 3
        ctx.emit(`${ctx.key} t=${e.t} wm=${ctx.timers.currentWatermark()} last=${last.get()} seen=${seen.get(bucket)} all=${all.get().join('+')} total=${total.get()}`)
        last.set(e.v)
        seen.set(bucket, (seen.get(bucket) ?? 0) + 1)
        all.add(e.v)
        if (all.get().length > 4) all.update(all.get().slice(-2))
        total.add(e.v)
        const timer = Math.ceil(e.t / 100) * 100 + 200
        if (e.v % 7 === 0) ctx.timers.deleteEventTimeTimer(timer)
        else ctx.timers.registerEventTimeTimer(timer)
        if (e.v % 4 === 0) ctx.timers.registerProcessingTimeTimer(ctx.timers.currentProcessingTime() + 250)
        // Possibly behind the watermark: fires at the next watermark that rises, which a restored
        // operator must tell from one that only rises above its new task's.
        if (e.v % 5 === 0) ctx.timers.registerEventTimeTimer(e.t - 300)
      }
      const onTimer = (t: number, ctx: ProcessContext<Key, string>) => {
        ctx.emit(`${ctx.key} ${ctx.timeDomain} timer @${t} wm=${ctx.timers.currentWatermark()} last=${last.get()} seen=${[...seen.entries()].join(';')} total=${total.get()}`)
        if (ctx.timeDomain === 'event') total.clear()
      }
      return new KeyedProcessOperator<Key, string>([keyOf as (v: never) => Key], [onElement], onTimer, open) as Operator<unknown, unknown>
    }
    const out = expectRestorable(make, script({ seed: 2, keyCount: 12 }))
    const lines = out.map((e) => e.value as string)
    // The scenario exercises what it claims to.
    expect(lines.some((l) => l.includes('event timer'))).toBe(true)
    expect(lines.some((l) => l.includes('processing timer'))).toBe(true)
    expect(out.some((e) => e.side === 'late')).toBe(false)
    expect(lines.some((l) => l.includes('last=undefined') && l.includes('total=') && !l.includes('total=undefined'))).toBe(true)
  })

  it('keyed process on two connected inputs', () => {
    const make = () => {
      let count: ValueState<number>
      const bump = (side: string) => (value: unknown, ctx: ProcessContext<Key, string>) => {
        const n = (count.get() ?? 0) + 1
        count.set(n)
        ctx.emit(`${side} ${ctx.key} #${n} v=${(value as Ev).v}`)
        ctx.timers.registerEventTimeTimer(Math.ceil((value as Ev).t / 200) * 200)
      }
      return new KeyedProcessOperator<Key, string>(
        [keyOf as (v: never) => Key, keyOf as (v: never) => Key],
        [bump('L'), bump('R')],
        (t, ctx) => {
          ctx.emit(`${ctx.key} @${t} n=${count.get()}`)
          count.clear()
        },
        ({ state }) => {
          count = state.value('count')
        },
      ) as Operator<unknown, unknown>
    }
    expectRestorable(make, script({ seed: 3, keyCount: 8, inputs: 2, perBatch: 5 }), 2)
  })

  it('sliding event-time window with allowed lateness and a late side output', () => {
    const late = { allowedLatenessMs: 150, lateTag: outputTag<Ev>('late') }
    const make = () => new PaneWindowOperator({ sizeMs: 300, slideMs: 100, offsetMs: 0, time: 'event' }, keyOf, aggregateWindowFunction(avg<Ev>((e) => e.v), windowed), late) as Operator<unknown, unknown>
    const out = expectRestorable(make, script({ seed: 4, keyCount: 10, lateRate: 0.15, lateByMs: 400 }))
    expect(out.some((e) => e.side === 'late')).toBe(true)
  })

  it('sliding window restored from old subtasks that fired different windows', () => {
    // Every key lives on subtask 0 of 2: subtask 1 fires nothing, so the old subtasks' last fired
    // windows differ; restoring must not fire subtask 0's windows again.
    const only0 = keys(40).filter((k) => subtaskOfKeyGroup(keyGroupOf(k, 128), 128, 2) === 0)
    const make = () => new PaneWindowOperator({ sizeMs: 300, slideMs: 100, offsetMs: 0, time: 'event' }, keyOf, aggregateWindowFunction(sum<Ev>((e) => e.v), windowed), { allowedLatenessMs: 100, lateTag: null }) as Operator<unknown, unknown>
    expectRestorable(make, script({ seed: 14, keyCount: 0, keys: only0.slice(0, 4), perBatch: 3 }))
  })

  it('tumbling event-time window, late records dropped and counted', () => {
    const make = () => new PaneWindowOperator({ sizeMs: 200, slideMs: 200, offsetMs: 0, time: 'event' }, keyOf, aggregateWindowFunction(sum<Ev>((e) => e.v), windowed), { allowedLatenessMs: 0, lateTag: null }) as Operator<unknown, unknown>
    const s = script({ seed: 5, keyCount: 10, lateRate: 0.2 })
    expectRestorable(make, s)
    const base = runUninterrupted({ make, keyOf: [keyOf as (v: never) => unknown], steps: s.steps, startMs: START_MS })
    expect(base.lateDropped).toBeGreaterThan(0)
  })

  it('tumbling processing-time window (restored panes re-request their callbacks)', () => {
    const make = () => new PaneWindowOperator({ sizeMs: 300, slideMs: 300, offsetMs: 0, time: 'processing' }, keyOf, aggregateWindowFunction(count<Ev>(), windowed), { allowedLatenessMs: 0, lateTag: null }) as Operator<unknown, unknown>
    // Quiet after the cut: only the restored panes' own callbacks can fire them on time.
    expectRestorable(make, script({ seed: 6, keyCount: 10, quiet: (i) => i >= 12 && i < 17 }))
  })

  it('session windows, including a session merged across the snapshot', () => {
    const mid = 12
    // Two sessions of key "bridge" before the cut, [b+60, b+180) and [b+200, b+320); a record
    // after it at b+150 merges them into [b+60, b+320).
    const b = (mid - 1) * 100
    const extra = (batch: number): Ev[] =>
      batch === mid - 1
        ? [{ k: 'bridge', t: b + 60, v: 1 }, { k: 'bridge', t: b + 200, v: 2 }]
        : batch === mid
          ? [{ k: 'bridge', t: b + 150, v: 3 }, { k: 'late', t: b - 1 - 200, v: 4 }]
          : []
    const late = { allowedLatenessMs: 50, lateTag: outputTag<Ev>('late') }
    const make = () => new SessionWindowOperator(120, 'event', keyOf, aggregateWindowFunction(values, windowed), late) as Operator<unknown, unknown>
    const out = expectRestorable(make, script({ seed: 7, keyCount: 30, batches: 2 * mid, extra, lateRate: 0.15, lateByMs: 200 }))
    expect(out.map((e) => e.value)).toContainEqual({ k: 'bridge', start: b + 60, end: b + 320, r: [1, 2, 3] })
    // Late by the watermark reached before the snapshot (its session would end by b − 1 + 50).
    expect(out).toContainEqual(expect.objectContaining({ side: 'late', value: { k: 'late', t: b - 201, v: 4 } }))
    // Sessions of other keys merged too (a session longer than one gap holds several records).
    expect(out.filter((e) => e.side === '' && (e.value as { end: number; start: number }).end - (e.value as { start: number }).start > 200).length).toBeGreaterThan(5)
  })

  it('processing-time session windows', () => {
    const make = () => new SessionWindowOperator(250, 'processing', keyOf, aggregateWindowFunction(values, windowed), { allowedLatenessMs: 0, lateTag: null }) as Operator<unknown, unknown>
    expectRestorable(make, script({ seed: 8, keyCount: 40, perBatch: 6, quiet: (i) => i >= 12 && i < 17 }))
  })

  it('count window (partial counts across the snapshot)', () => {
    const make = () => new CountWindowOperator(3, keyOf, aggregateWindowFunction(listAggregate<Ev>(), (k, _w, r) => ({ k, vs: r.map((e) => e.v) }))) as Operator<unknown, unknown>
    expectRestorable(make, script({ seed: 9, keyCount: 12 }))
  })

  it('window join (tumbling and sliding)', () => {
    const pairs = pairsAsCoGroup<Key, Ev, Ev, string>((l, r) => `${l.k}: ${l.t}/${l.v} x ${r.t}/${r.v}`)
    const s = script({ seed: 10, keyCount: 8, inputs: 2, perBatch: 6 })
    expectRestorable(() => new WindowJoinOperator<Key, Ev, Ev, string>(tumbling(200), [keyOf, keyOf], pairs) as Operator<unknown, unknown>, s, 2)
    expectRestorable(() => new WindowJoinOperator<Key, Ev, Ev, string>(sliding(300, 100), [keyOf, keyOf], pairs) as Operator<unknown, unknown>, s, 2)
  })

  it('interval join', () => {
    const make = () => new IntervalJoinOperator<Key, Ev, Ev, string>(-80, 120, [keyOf, keyOf], (l, r) => `${l.k}: ${l.t}/${l.v} x ${r.t}/${r.v}`) as Operator<unknown, unknown>
    expectRestorable(make, script({ seed: 11, keyCount: 8, inputs: 2, perBatch: 6, lateRate: 0.15 }), 2)
  })

  it('unbounded keyed join with an event-time TTL', () => {
    const make = () => new KeyedJoinOperator<Key, Ev, Ev, string>([keyOf, keyOf], (l, r) => `${l.k}: ${l.t}/${l.v} x ${r.t}/${r.v}`, { ttlMs: 250 }) as Operator<unknown, unknown>
    expectRestorable(make, script({ seed: 12, keyCount: 6, inputs: 2, perBatch: 8 }), 2)
  })

  it('unbounded keyed join with a processing-time TTL (same parallelism)', () => {
    const make = () => new KeyedJoinOperator<Key, Ev, Ev, string>([keyOf, keyOf], (l, r) => `${l.k}: ${l.v} x ${r.v}`, { ttlMs: 400, ttlTime: 'processing' }) as Operator<unknown, unknown>
    const s = script({ seed: 13, keyCount: 8, inputs: 2, perBatch: 4 })
    const o = { make, keyOf: [keyOf as (v: never) => unknown, keyOf as (v: never) => unknown], steps: s.steps, cut: s.cut, startMs: START_MS }
    const base = runUninterrupted(o)
    expect(runWithRestore({ ...o, before: 1, after: 1 }).emitted).toEqual(base.emitted)
  })
})
