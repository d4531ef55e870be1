/**
 * Keyed process functions: per-key state and timers, on one input (`keyed.process`) or two
 * connected inputs (`a.keyBy(..).connect(b.keyBy(..)).process`). The context object is reused
 * for every record; its `key` and `timestamp` change as records and timers are processed.
 */
import { HeapKeyedStateBackend, type KeyedStateStore } from '../state/keyed-state.ts'
import { SluiceError } from '../errors.ts'
import { minOfParts, readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../state/snapshot.ts'
import { TimerQueue } from '../time/timer-service.ts'
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
/** Snapshot entry tags: [ordinal, tag, key, ...]. */
const STATE = 0 // table name, table kind, value, expiry (null without TTL)
const EVENT_TIMER = 1 // time
const PROCESSING_TIMER = 2 // time

interface OperatorState {
  /** The watermark reached (event-time TTL and timers.currentWatermark() read it). */
  watermark: number
  lastSweepWatermark: number
}

/** Runs a keyed (co-)process function. `keySelectors[i]` and `handlers[i]` serve input i. */
export class KeyedProcessOperator<K, O> implements Operator<unknown, O> {
  private readonly eventTimers = new TimerQueue<K>()
  private readonly procTimers = new TimerQueue<K>()
  private backend!: HeapKeyedStateBackend<K>
  private kctx!: KeyedContext<K, O>
  private lastSweepWatermark = Number.NEGATIVE_INFINITY

  constructor(
    private readonly keySelectors: ReadonlyArray<(v: never) => K>,
    private readonly handlers: ReadonlyArray<ElementHandler<K, O>>,
    private readonly onTimerFn: ((timeMs: number, ctx: ProcessContext<K, O>) => void) | undefined,
    private readonly openFn: ((ctx: OpenContext) => void) | undefined,
  ) {}

  open(ctx: OperatorContext): void {
    this.kctx = new KeyedContext<K, O>(ctx, this.eventTimers, this.procTimers)
    const kctx = this.kctx
    this.backend = new HeapKeyedStateBackend<K>(() => ctx.clock.now(), () => kctx.currentWatermark())
    this.openFn?.({ operatorId: ctx.operatorId, state: this.backend })
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    const keyOf = this.keySelectors[input] as (v: unknown) => K
    const handle = this.handlers[input]
    const kctx = this.kctx
    const backend = this.backend
    kctx.out = out
    kctx.timeDomain = 'event'
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          const v = records[i]
          const k = keyOf(v)
          kctx.key = k
          backend.currentKey = k
          kctx.timestamp = times[i]
          handle(v, kctx)
        }
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
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
        this.backend.currentKey = k
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
      this.backend.sweep()
    }
  }

  onProcessingTime(nowMs: number, ctx: OperatorContext, out: Output<O>): void {
    this.fire(this.procTimers, nowMs, 'processing', out)
    const next = this.procTimers.nextTime()
    if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next)
  }

  snapshotState(sctx: SnapshotContext): OperatorSnapshot {
    const w = new SnapshotWriter(KIND, sctx.maxParallelism)
    this.backend.forEachEntry((name, kind, key, value, expiry) => w.add(STATE, key, name, kind, value, expiry))
    for (const [t, k] of this.eventTimers.entries()) w.add(EVENT_TIMER, k, t)
    for (const [t, k] of this.procTimers.entries()) w.add(PROCESSING_TIMER, k, t)
    const state: OperatorState = { watermark: this.kctx.currentWatermark(), lastSweepWatermark: this.lastSweepWatermark }
    return w.finish(state)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void {
    if (this.backend === undefined) throw new SluiceError('INTERNAL', `${KIND} "${ctx.operatorId}": restoreState before open`)
    const { operatorStates, entries } = readOwned(parts, owns, KIND)
    if (operatorStates.length === 0) return
    this.kctx.watermarkFloor = minOfParts<OperatorState>(operatorStates, (s) => s.watermark)
    this.lastSweepWatermark = minOfParts<OperatorState>(operatorStates, (s) => s.lastSweepWatermark)
    for (const e of entries) {
      const key = e[2] as K
      switch (e[1]) {
        case STATE:
          this.backend.restoreEntry(e[3] as string, e[4] as string, key, e[5], e[6] as number | null)
          break
        case EVENT_TIMER:
          this.eventTimers.register(e[3] as number, key)
          break
        case PROCESSING_TIMER:
          this.procTimers.register(e[3] as number, key)
          break
        default:
          throw new SluiceError('INTERNAL', `${KIND} snapshot has an entry of unknown tag ${String(e[1])}`)
      }
    }
    const next = this.procTimers.nextTime()
    if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next)
  }

  stateSample(max: number): unknown[] {
    return this.backend?.sample(max) ?? []
  }

  pendingTimers(): number {
    return this.eventTimers.size + this.procTimers.size
  }

  stateEntries(): number {
    return (this.backend?.entries() ?? 0) + this.eventTimers.size + this.procTimers.size
  }
}
