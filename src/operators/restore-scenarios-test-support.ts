/**
 * The stateful-operator scenarios that snapshot tests replay: every stateful operator, with a
 * deterministic script of batches, watermarks and clock steps, cut part-way for a snapshot.
 * snapshot-restore.test.ts restores them at once (same code); state-v1.test.ts restores the
 * snapshots the format-2 code wrote of the same scenarios (test/fixtures/state-v1/).
 *
 * The cut always falls just before a watermark 300 ms behind the last one (which a task ignores,
 * but a restarted task, whose watermark starts at −∞, passes on, as after a restart whose sources'
 * watermarks start lower) and a batch with records behind the watermark, so a restored operator
 * must judge lateness, event-time TTL and timers by the watermark it had reached.
 */
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
import type { Step } from '../state/snapshot-test-support.ts'
import { SeededRandom } from '../testing/random.ts'
import { keyGroupOf, subtaskOfKeyGroup } from '../state/key-groups.ts'

export type Key = string | number

export interface Ev {
  k: Key
  t: number
  v: number
}

export const keyOf = (e: Ev): Key => e.k
export const START_MS = 50_000

/** Mixed keys: integers, strings and a few non-integer numbers. */
export function keys(n: number): Key[] {
  return Array.from({ length: n }, (_, i) => (i % 5 === 4 ? i + 0.5 : i % 3 === 0 ? i * 7 : `k${i}`))
}

export interface ScriptOptions {
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

export interface Script {
  readonly steps: Step[]
  readonly cut: number
}

/**
 * Batch i holds records at i·100 + [0, 150) (a few late ones far behind), then the watermark
 * i·100 − 1 and the clock START_MS + (i + 1)·100. The cut is just before the middle batch.
 */
export function script(o: ScriptOptions): Script {
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

export const windowed = <R>(k: Key, w: TimeWindow, r: R) => ({ k, start: w.start, end: w.end, r })

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

export interface RestoreScenario {
  readonly name: string
  readonly make: () => Operator<unknown, unknown>
  readonly script: Script
  /** Inputs of the operator (2 for joins and connected keyed process functions). */
  readonly inputs: number
  /** Restored only at the parallelism it was snapshotted at (processing-time TTL joins). */
  readonly sameParallelismOnly?: boolean
}

function keyedProcessAllStates(): Operator<unknown, unknown> {
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

function keyedProcessTwoInputs(): Operator<unknown, unknown> {
  let n: ValueState<number>
  const bump = (side: string) => (value: unknown, ctx: ProcessContext<Key, string>) => {
    const c = (n.get() ?? 0) + 1
    n.set(c)
    ctx.emit(`${side} ${ctx.key} #${c} v=${(value as Ev).v}`)
    ctx.timers.registerEventTimeTimer(Math.ceil((value as Ev).t / 200) * 200)
  }
  return new KeyedProcessOperator<Key, string>(
    [keyOf as (v: never) => Key, keyOf as (v: never) => Key],
    [bump('L'), bump('R')],
    (t, ctx) => {
      ctx.emit(`${ctx.key} @${t} n=${n.get()}`)
      n.clear()
    },
    ({ state }) => {
      n = state.value('count')
    },
  ) as Operator<unknown, unknown>
}

/** Two sessions of key "bridge" before the cut, [b+60, b+180) and [b+200, b+320); a record after it at b+150 merges them. */
export const SESSION_MID = 12
export const SESSION_BRIDGE_BASE = (SESSION_MID - 1) * 100
function sessionExtra(batch: number): Ev[] {
  const b = SESSION_BRIDGE_BASE
  if (batch === SESSION_MID - 1) return [{ k: 'bridge', t: b + 60, v: 1 }, { k: 'bridge', t: b + 200, v: 2 }]
  if (batch === SESSION_MID) return [{ k: 'bridge', t: b + 150, v: 3 }, { k: 'late', t: b - 1 - 200, v: 4 }]
  return []
}

const pairs = pairsAsCoGroup<Key, Ev, Ev, string>((l, r) => `${l.k}: ${l.t}/${l.v} x ${r.t}/${r.v}`)
const joinScript = script({ seed: 10, keyCount: 8, inputs: 2, perBatch: 6 })
/** Every key lives on subtask 0 of 2: subtask 1 fires nothing, so the old subtasks' last fired windows differ. */
const onlySubtask0 = keys(40).filter((k) => subtaskOfKeyGroup(keyGroupOf(k, 128), 128, 2) === 0)

/** Every stateful operator, by a name the tests and fixtures share. */
export const SCENARIOS: readonly RestoreScenario[] = [
  {
    name: 'rolling aggregate',
    make: () => new RollingAggregateOperator(keyOf, avg<Ev>((e) => e.v), (k, r) => ({ k, r })) as Operator<unknown, unknown>,
    script: script({ seed: 1, keyCount: 12 }),
    inputs: 1,
  },
  { name: 'keyed process, all state kinds', make: keyedProcessAllStates, script: script({ seed: 2, keyCount: 12 }), inputs: 1 },
  { name: 'keyed process, two inputs', make: keyedProcessTwoInputs, script: script({ seed: 3, keyCount: 8, inputs: 2, perBatch: 5 }), inputs: 2 },
  {
    name: 'sliding event-time window, lateness and late side output',
    make: () => new PaneWindowOperator({ sizeMs: 300, slideMs: 100, offsetMs: 0, time: 'event' }, keyOf, aggregateWindowFunction(avg<Ev>((e) => e.v), windowed), { allowedLatenessMs: 150, lateTag: outputTag<Ev>('late') }) as Operator<unknown, unknown>,
    script: script({ seed: 4, keyCount: 10, lateRate: 0.15, lateByMs: 400 }),
    inputs: 1,
  },
  {
    name: 'sliding window, old subtasks fired different windows',
    make: () => new PaneWindowOperator({ sizeMs: 300, slideMs: 100, offsetMs: 0, time: 'event' }, keyOf, aggregateWindowFunction(sum<Ev>((e) => e.v), windowed), { allowedLatenessMs: 100, lateTag: null }) as Operator<unknown, unknown>,
    script: script({ seed: 14, keyCount: 0, keys: onlySubtask0.slice(0, 4), perBatch: 3 }),
    inputs: 1,
  },
  {
    name: 'tumbling event-time window, late records dropped',
    make: () => new PaneWindowOperator({ sizeMs: 200, slideMs: 200, offsetMs: 0, time: 'event' }, keyOf, aggregateWindowFunction(sum<Ev>((e) => e.v), windowed), { allowedLatenessMs: 0, lateTag: null }) as Operator<unknown, unknown>,
    script: script({ seed: 5, keyCount: 10, lateRate: 0.2 }),
    inputs: 1,
  },
  {
    name: 'tumbling processing-time window',
    make: () => new PaneWindowOperator({ sizeMs: 300, slideMs: 300, offsetMs: 0, time: 'processing' }, keyOf, aggregateWindowFunction(count<Ev>(), windowed), { allowedLatenessMs: 0, lateTag: null }) as Operator<unknown, unknown>,
    // Quiet after the cut: only the restored panes' own callbacks can fire them on time.
    script: script({ seed: 6, keyCount: 10, quiet: (i) => i >= 12 && i < 17 }),
    inputs: 1,
  },
  {
    name: 'session windows',
    make: () => new SessionWindowOperator(120, 'event', keyOf, aggregateWindowFunction(values, windowed), { allowedLatenessMs: 50, lateTag: outputTag<Ev>('late') }) as Operator<unknown, unknown>,
    script: script({ seed: 7, keyCount: 30, batches: 2 * SESSION_MID, extra: sessionExtra, lateRate: 0.15, lateByMs: 200 }),
    inputs: 1,
  },
  {
    name: 'processing-time session windows',
    make: () => new SessionWindowOperator(250, 'processing', keyOf, aggregateWindowFunction(values, windowed), { allowedLatenessMs: 0, lateTag: null }) as Operator<unknown, unknown>,
    script: script({ seed: 8, keyCount: 40, perBatch: 6, quiet: (i) => i >= 12 && i < 17 }),
    inputs: 1,
  },
  {
    name: 'count window',
    make: () => new CountWindowOperator(3, keyOf, aggregateWindowFunction(listAggregate<Ev>(), (k, _w, r) => ({ k, vs: r.map((e) => e.v) }))) as Operator<unknown, unknown>,
    script: script({ seed: 9, keyCount: 12 }),
    inputs: 1,
  },
  { name: 'tumbling window join', make: () => new WindowJoinOperator<Key, Ev, Ev, string>(tumbling(200), [keyOf, keyOf], pairs) as Operator<unknown, unknown>, script: joinScript, inputs: 2 },
  { name: 'sliding window join', make: () => new WindowJoinOperator<Key, Ev, Ev, string>(sliding(300, 100), [keyOf, keyOf], pairs) as Operator<unknown, unknown>, script: joinScript, inputs: 2 },
  {
    name: 'interval join',
    make: () => new IntervalJoinOperator<Key, Ev, Ev, string>(-80, 120, [keyOf, keyOf], (l, r) => `${l.k}: ${l.t}/${l.v} x ${r.t}/${r.v}`) as Operator<unknown, unknown>,
    script: script({ seed: 11, keyCount: 8, inputs: 2, perBatch: 6, lateRate: 0.15 }),
    inputs: 2,
  },
  {
    name: 'keyed join, event-time TTL',
    make: () => new KeyedJoinOperator<Key, Ev, Ev, string>([keyOf, keyOf], (l, r) => `${l.k}: ${l.t}/${l.v} x ${r.t}/${r.v}`, { ttlMs: 250 }) as Operator<unknown, unknown>,
    script: script({ seed: 12, keyCount: 6, inputs: 2, perBatch: 8 }),
    inputs: 2,
  },
  {
    name: 'keyed join, processing-time TTL',
    make: () => new KeyedJoinOperator<Key, Ev, Ev, string>([keyOf, keyOf], (l, r) => `${l.k}: ${l.v} x ${r.v}`, { ttlMs: 400, ttlTime: 'processing' }) as Operator<unknown, unknown>,
    script: script({ seed: 13, keyCount: 8, inputs: 2, perBatch: 4 }),
    inputs: 2,
    sameParallelismOnly: true,
  },
]

export function scenario(name: string): RestoreScenario {
  const s = SCENARIOS.find((x) => x.name === name)
  if (s === undefined) throw new Error(`no scenario "${name}"`)
  return s
}
