/**
 * Session windows. A record at t opens [t, t + gap); windows of one key that overlap or touch
 * merge into one (as Flink's TimeWindow.intersects: [0, 10) and [10, 20) merge). A session fires when time reaches its end − 1. Timers are registered when a session is
 * created; when one fires early (the session grew since), it is re-registered at the new end,
 * so extending a session costs no timer work.
 */
import { firstOf } from '../../state/state-size.ts'
import { SluiceError } from '../../errors.ts'
import { TimerQueue } from '../../time/timer-service.ts'
import { minOfParts, readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { NO_TIMESTAMP, type Batch, type Operator, type OperatorContext, type Output } from '../types.ts'
import type { TimeDomain } from './assigners.ts'
import type { LateDataOptions, WindowFunction } from './window-function.ts'

interface Session<ACC> {
  start: number
  end: number
  acc: ACC
}

const KIND = 'session-window'
/** Snapshot entry tags: [ordinal, tag, key, ...]. */
const SESSION = 0 // start, end, accumulator
const TIMER = 1 // time

interface OperatorState {
  current: number
}

export class SessionWindowOperator<K, T, ACC, O> implements Operator<T, O> {
  private readonly sessions = new Map<K, Session<ACC>[]>()
  private readonly timers = new TimerQueue<K>()
  private current = Number.NEGATIVE_INFINITY
  private readonly merge: (a: ACC, b: ACC) => ACC

  constructor(
    private readonly gapMs: number,
    private readonly time: TimeDomain,
    private readonly keyOf: (v: T) => K,
    private readonly fn: WindowFunction<K, T, ACC, O>,
    private readonly late: LateDataOptions<T>,
  ) {
    if (fn.agg.merge === undefined) {
      throw new SluiceError('JOB_INVALID_OPTION', 'session windows merge, so the aggregate needs merge(); add it or use reduce/process')
    }
    this.merge = fn.agg.merge
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const processing = this.time === 'processing'
    const now = processing ? ctx.clock.now() : 0
    const { gapMs, keyOf, sessions } = this
    const agg = this.fn.agg
    const lateness = this.late.allowedLatenessMs
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          const v = records[i]
          const t = processing ? now : times[i]
          if (t === NO_TIMESTAMP) throw new Error('record has no event time: give its source a watermark strategy, or use a processing-time window')
          if (t + gapMs - 1 + lateness <= this.current) {
            if (this.late.lateTag !== null) out.emitSide(this.late.lateTag, v, t)
            else ctx.countLateDropped(1)
            continue
          }
          const k = keyOf(v)
          const list = sessions.get(k)
          // Fast path: the record falls inside the key's only session.
          if (list !== undefined && list.length === 1 && list[0].start <= t && t <= list[0].end) {
            const s = list[0]
            s.acc = agg.add(s.acc, v)
            if (t + gapMs > s.end) s.end = t + gapMs
            if (s.end - 1 <= this.current) this.fireKey(k, this.current, out)
            continue
          }
          this.insert(k, list, t, agg.add(agg.create(), v), ctx)
          if (t + gapMs - 1 <= this.current) this.fireKey(k, this.current, out)
        }
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
    }
  }

  private insert(k: K, list: Session<ACC>[] | undefined, t: number, acc: ACC, ctx: OperatorContext): void {
    let start = t
    let end = t + this.gapMs
    let merged = acc
    const kept: Session<ACC>[] = []
    if (list !== undefined) {
      for (const s of list) {
        if (s.start <= end && start <= s.end) {
          start = Math.min(start, s.start)
          end = Math.max(end, s.end)
          merged = this.merge(merged, s.acc)
        } else {
          kept.push(s)
        }
      }
    }
    kept.push({ start, end, acc: merged })
    this.sessions.set(k, kept)
    this.timers.register(end - 1, k)
    if (this.time === 'processing') ctx.requestProcessingTimeCallback(end - 1)
  }

  /** Emits and removes the key's sessions that end by upTo; re-arms timers for the rest. */
  private fireKey(k: K, upTo: number, out: Output<O>): void {
    const list = this.sessions.get(k)
    if (list === undefined) return
    const remaining: Session<ACC>[] = []
    for (const s of list) {
      if (s.end - 1 <= upTo) this.fn.emit(k, { start: s.start, end: s.end }, s.acc, out, s.end - 1)
      else {
        remaining.push(s)
        this.timers.register(s.end - 1, k)
      }
    }
    if (remaining.length === 0) this.sessions.delete(k)
    else this.sessions.set(k, remaining)
  }

  private advance(upTo: number, out: Output<O>): void {
    this.current = upTo
    for (let due = this.timers.pollDue(upTo); due !== null; due = this.timers.pollDue(upTo)) {
      for (const k of due.keys) this.fireKey(k, upTo, out)
    }
  }

  onWatermark(watermark: number, _ctx: OperatorContext, out: Output<O>): void {
    // After a restore the task's watermark may restart below the time already reached.
    if (this.time === 'event' && watermark > this.current) this.advance(watermark, out)
  }

  onProcessingTime(nowMs: number, ctx: OperatorContext, out: Output<O>): void {
    if (this.time !== 'processing') return
    this.advance(nowMs, out)
    const next = this.timers.nextTime()
    if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next)
  }

  finish(_ctx: OperatorContext, out: Output<O>): void {
    this.advance(Number.POSITIVE_INFINITY, out)
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    const w = new SnapshotWriter(KIND, ctx.maxParallelism)
    for (const [k, list] of this.sessions) for (const s of list) w.add(SESSION, k, s.start, s.end, s.acc)
    for (const [t, k] of this.timers.entries()) w.add(TIMER, k, t)
    const state: OperatorState = { current: this.current }
    return w.finish(state)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void {
    const { operatorStates, entries } = readOwned(parts, owns, KIND)
    if (operatorStates.length === 0) return
    this.current = minOfParts<OperatorState>(operatorStates, (s) => s.current)
    for (const e of entries) {
      const k = e[2] as K
      if (e[1] === TIMER) {
        this.timers.register(e[3] as number, k)
        continue
      }
      const session: Session<ACC> = { start: e[3] as number, end: e[4] as number, acc: e[5] as ACC }
      const list = this.sessions.get(k)
      if (list === undefined) this.sessions.set(k, [session])
      else list.push(session)
    }
    if (this.time === 'processing') {
      const next = this.timers.nextTime()
      if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next)
    }
  }

  stateSample(max: number): unknown[] {
    return firstOf(this.sessions, max)
  }

  pendingTimers(): number {
    return this.timers.size
  }

  stateEntries(): number {
    let n = 0
    for (const l of this.sessions.values()) n += l.length
    return n
  }
}
