/**
 * Keyed process functions: per-key state and timers, on one input (`keyed.process`) or two
 * connected inputs (`a.keyBy(..).connect(b.keyBy(..)).process`). The context object is reused
 * for every record; its `key` and `timestamp` change as records and timers are processed.
 */
import { HeapKeyedStateBackend, type KeyedStateStore } from '../state/keyed-state.ts'
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
 * @example
 * keyed.process('dedupe', () => {
 *   let seen: ValueState<boolean>
 *   return {
 *     open: ({ state }) => { seen = state.value('seen', { ttl: { ttlMs: 60_000 } }) },
 *     processElement: (v, ctx) => { if (!seen.get()) { seen.set(true); ctx.emit(v) } },
 *   }
 * })
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
    return this.ctx.currentWatermark()
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
    this.backend = new HeapKeyedStateBackend<K>(() => ctx.clock.now(), () => ctx.currentWatermark())
    this.kctx = new KeyedContext<K, O>(ctx, this.eventTimers, this.procTimers)
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
