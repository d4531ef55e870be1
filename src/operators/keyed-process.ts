/**
 * Keyed process functions: per-key state and timers, on one input (`keyed.process`) or two
 * connected inputs (`a.keyBy(..).connect(b.keyBy(..)).process`). The context object is reused
 * for every record; its `key` and `timestamp` change as records and timers are processed.
 */
import type { RestoreTarget, StateBackend } from '../state/backend.ts'
import { KeyedStateHandles, type KeyedStateStore } from '../state/keyed-state.ts'
import { SluiceError } from '../errors.ts'
import { minOfParts, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../state/snapshot.ts'
import type { TimerQueue } from '../time/timer-service.ts'
import { openState } from './operator-state.ts'
import { forEachRecord, type RecordLoop } from './record-loop.ts'
import type { Batch, Operator, OperatorContext, Output, OutputTag } from './types.ts'

export interface TimerService {
  currentWatermark(): number
  currentProcessingTime(): number
  registerEventTimeTimer(timeMs: number): void
  deleteEventTimeTimer(timeMs: number): void
  registerProcessingTimeTimer(timeMs: number): void
  deleteProcessingTimeTimer(timeMs: number): void
}

export interface ProcessContext<K, O> {
  /** Key of the record or timer being processed. */
  readonly key: K
  /** Event time of the record, or the timer's time in onTimer. */
  readonly timestamp: number
  /** Which kind of timer fired (only meaningful in onTimer). */
  readonly timeDomain: 'event' | 'processing'
  readonly timers: TimerService
  /** Emits with the current timestamp. */
  emit(value: O): void
  emitAt(value: O, timeMs: number): void
  emitSide<S>(tag: OutputTag<S>, value: S): void
}

export interface OpenContext {
  readonly operatorId: string
  readonly state: KeyedStateStore
}

/**
 * A function of `keyed.process(id, fn)`: called per record with the record's key set, so the
 * state it declares in `open` reads and writes that key's values; timers call `onTimer`.
 *
 * @example
 * ```ts
 * interface Click { user: string; url: string }
 * declare const clicks: Stream<Click>
 * clicks.keyBy((c) => c.user).process<Click>('dedupe', () => {
 *   let seen: ValueState<boolean>
 *   return {
 *     open: ({ state }) => { seen = state.value('seen', { ttl: { ttlMs: 60_000 } }) },
 *     processElement: (v, ctx) => { if (!seen.get()) { seen.set(true); ctx.emit(v) } },
 *   }
 * })
 * ```
 */
export interface KeyedProcessFunction<K, I, O> {
  open?(ctx: OpenContext): void
  processElement(value: I, ctx: ProcessContext<K, O>): void
  onTimer?(timeMs: number, ctx: ProcessContext<K, O>): void
}

export interface KeyedCoProcessFunction<K, I1, I2, O> {
  open?(ctx: OpenContext): void
  processElement1(value: I1, ctx: ProcessContext<K, O>): void
  processElement2(value: I2, ctx: ProcessContext<K, O>): void
  onTimer?(timeMs: number, ctx: ProcessContext<K, O>): void
}

/** A function object, or a factory giving each operator instance its own. */
export type FunctionOrFactory<F> = F | (() => F)

export function instantiate<F extends object>(f: FunctionOrFactory<F>): F {
  return typeof f === 'function' ? (f as () => F)() : f
}

class KeyedContext<K, O> implements ProcessContext<K, O>, TimerService {
  key: K = undefined as K
  timestamp = 0
  timeDomain: 'event' | 'processing' = 'event'
  out: Output<O> | null = null
  readonly timers: TimerService = this

  /** The watermark a restored operator had reached; the task's may restart lower. */
  watermarkFloor = Number.NEGATIVE_INFINITY

  constructor(
    private readonly ctx: OperatorContext,
    private readonly eventTimers: TimerQueue<K>,
    private readonly procTimers: TimerQueue<K>,
  ) {}

  emit(value: O): void {
    ;(this.out as Output<O>).emit(value, this.timestamp)
  }
  emitAt(value: O, timeMs: number): void {
    ;(this.out as Output<O>).emit(value, timeMs)
  }
  emitSide<S>(tag: OutputTag<S>, value: S): void {
    ;(this.out as Output<O>).emitSide(tag, value, this.timestamp)
  }
  currentWatermark(): number {
    const wm = this.ctx.currentWatermark()
    return wm > this.watermarkFloor ? wm : this.watermarkFloor
  }
  currentProcessingTime(): number {
    return this.ctx.clock.now()
  }
  registerEventTimeTimer(timeMs: number): void {
    this.eventTimers.register(timeMs, this.key)
  }
  deleteEventTimeTimer(timeMs: number): void {
    this.eventTimers.delete(timeMs, this.key)
  }
  registerProcessingTimeTimer(timeMs: number): void {
    this.procTimers.register(timeMs, this.key)
    this.ctx.requestProcessingTimeCallback(timeMs)
  }
  deleteProcessingTimeTimer(timeMs: number): void {
    this.procTimers.delete(timeMs, this.key)
  }
}

type ElementHandler<K, O> = (value: unknown, ctx: ProcessContext<K, O>) => void

const KIND = 'keyed-process'
const EVENT_TIMERS = { type: 'timers', name: 'event', kind: 'timers' } as const
const PROCESSING_TIMERS = { type: 'timers', name: 'processing', kind: 'timers' } as const

/** Format 2 entries: [sequence, tag, key, ...]; tag 0 state (name, kind, value, expiry), 1 and 2 timers (time). */
function fromFormat2(e: readonly unknown[], into: RestoreTarget): void {
  switch (e[1]) {
    case 0:
      into.restoreEntry({ type: 'keyed', name: e[3] as string, kind: e[4] as string }, e[2], 0, e[5], e[6] as number | null)
      break
    case 1:
      into.restoreEntry(EVENT_TIMERS, e[2], e[3] as number, undefined, null)
      break
    case 2:
      into.restoreEntry(PROCESSING_TIMERS, e[2], e[3] as number, undefined, null)
      break
    default:
      throw new SluiceError('CHECKPOINT_CORRUPT', `operator snapshot is corrupt: a ${KIND} entry of unknown tag ${String(e[1])}`)
  }
}

interface OperatorState {
  /** The watermark reached (event-time TTL and timers.currentWatermark() read it). */
  watermark: number
  lastSweepWatermark: number
}

/** Runs a keyed (co-)process function. `keySelectors[i]` and `handlers[i]` serve input i. */
export class KeyedProcessOperator<K, O> implements Operator<unknown, O>, RecordLoop<unknown, O> {
  at = 0
  private state!: StateBackend
  private eventTimers!: TimerQueue<K>
  private procTimers!: TimerQueue<K>
  private handles!: KeyedStateHandles<K>
  private kctx!: KeyedContext<K, O>
  private lastSweepWatermark = Number.NEGATIVE_INFINITY

  constructor(
    private readonly keySelectors: ReadonlyArray<(v: never) => K>,
    private readonly handlers: ReadonlyArray<ElementHandler<K, O>>,
    private readonly onTimerFn: ((timeMs: number, ctx: ProcessContext<K, O>) => void) | undefined,
    private readonly openFn: ((ctx: OpenContext) => void) | undefined,
  ) {}

  open(ctx: OperatorContext): void {
    // Event-time TTL runs on the watermark the function sees (restored marks included).
    this.state = openState(ctx, () => this.kctx.currentWatermark())
    this.eventTimers = this.state.timers<K>(EVENT_TIMERS.name)
    this.procTimers = this.state.timers<K>(PROCESSING_TIMERS.name)
    this.kctx = new KeyedContext<K, O>(ctx, this.eventTimers, this.procTimers)
    this.handles = new KeyedStateHandles<K>(this.state)
    this.openFn?.({ operatorId: ctx.operatorId, state: this.handles })
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, out: Output<O>, input: number): void {
    const kctx = this.kctx
    kctx.out = out
    kctx.timeDomain = 'event'
    forEachRecord(this, batch, ctx, out, input)
  }

  records(batch: Batch<unknown>, from: number, _ctx: OperatorContext, _out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    const keyOf = this.keySelectors[input] as (v: unknown) => K
    const handle = this.handlers[input]
    const kctx = this.kctx
    const handles = this.handles
    for (let i = from; i < n; i++) {
      this.at = i
      const v = records[i]
      const k = keyOf(v)
      kctx.key = k
      handles.currentKey = k
      kctx.timestamp = times[i]
      handle(v, kctx)
    }
  }

  private fire(queue: TimerQueue<K>, upTo: number, domain: 'event' | 'processing', out: Output<O>): void {
    const onTimer = this.onTimerFn
    const kctx = this.kctx
    kctx.out = out
    kctx.timeDomain = domain
    for (let due = queue.pollDue(upTo); due !== null; due = queue.pollDue(upTo)) {
      if (onTimer === undefined) continue
      kctx.timestamp = due.time
      for (const k of due.keys) {
        kctx.key = k
        this.handles.currentKey = k
        onTimer(due.time, kctx)
      }
    }
  }

  onWatermark(watermark: number, _ctx: OperatorContext, out: Output<O>): void {
    // After a restore the task's watermark may restart below the one reached before; until it
    // passes that one it is no advance (as the task ignores a watermark that does not rise).
    if (watermark <= this.kctx.watermarkFloor) return
    this.fire(this.eventTimers, watermark, 'event', out)
    // Event-time TTL entries can only expire when the watermark moves; sweep now and then.
    if (watermark - this.lastSweepWatermark > 10_000 || watermark === Number.POSITIVE_INFINITY) {
      this.lastSweepWatermark = watermark
      this.state.sweep()
    }
  }

  onProcessingTime(nowMs: number, ctx: OperatorContext, out: Output<O>): void {
    this.fire(this.procTimers, nowMs, 'processing', out)
    const next = this.procTimers.nextTime()
    if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next)
  }

  snapshotState(sctx: SnapshotContext): OperatorSnapshot {
    const marks: OperatorState = { watermark: this.kctx.currentWatermark(), lastSweepWatermark: this.lastSweepWatermark }
    return this.state.snapshot(KIND, sctx.maxParallelism, marks)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void {
    if (this.state === undefined) throw new SluiceError('INTERNAL', `${KIND} "${ctx.operatorId}": restoreState before open`)
    const marks = this.state.restore(parts, owns, KIND, fromFormat2)
    if (marks.length === 0) return
    this.kctx.watermarkFloor = minOfParts<OperatorState>(marks, (s) => s.watermark)
    this.lastSweepWatermark = minOfParts<OperatorState>(marks, (s) => s.lastSweepWatermark)
    const next = this.procTimers.nextTime()
    if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next)
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  pendingTimers(): number {
    return this.state === undefined ? 0 : this.eventTimers.size + this.procTimers.size
  }

  stateEntries(): number {
    return this.state === undefined ? 0 : this.state.entryCount() + this.eventTimers.size + this.procTimers.size
  }
}
