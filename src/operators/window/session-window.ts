/**
 * Session windows. A record at t opens [t, t + gap); windows of one key that overlap or touch
 * merge into one (as Flink's TimeWindow.intersects: [0, 10) and [10, 20) merge). A session fires
 * when time reaches its end − 1. Timers are registered when a session is created; when one fires
 * early (the session grew since), it is re-registered at the new end, so extending a session
 * costs no timer work. State: key → its sessions, and the timers.
 */
import { SluiceError } from '../../errors.ts'
import type { KeyedTable, StateBackend } from '../../state/backend.ts'
import type { TimerQueue } from '../../time/timer-service.ts'
import { minOfParts, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { openState } from '../operator-state.ts'
import { forEachRecord, noEventTime, type RecordLoop } from '../record-loop.ts'
import { NO_TIMESTAMP, type Batch, type Operator, type OperatorContext, type Output } from '../types.ts'
import type { TimeDomain } from './assigners.ts'
import type { LateDataOptions, WindowFunction } from './window-function.ts'

interface Session<ACC> {
  start: number
  end: number
  acc: ACC
}

const KIND = 'session-window'
/** Format 2 entry tags: [sequence, tag, key, ...]. */
const SESSION = 0 // start, end, accumulator
const TIMER = 1 // time

interface OperatorState {
  current: number
}

export class SessionWindowOperator<K, T, ACC, O> implements Operator<T, O>, RecordLoop<T, O> {
  at = 0
  private state!: StateBackend
  private sessions!: KeyedTable<K, Session<ACC>[]>
  private timers!: TimerQueue<K>
  /** Processing time of the batch being processed. */
  private batchNow = 0
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
      throw new SluiceError('WINDOW_INVALID', 'session windows merge, so the aggregate needs merge(); add merge(a, b) to the aggregate function or use reduce/process (see docs/GUIDE.md#aggregate-functions)')
    }
    this.merge = fn.agg.merge
  }

  open(ctx: OperatorContext): void {
    this.state = openState(ctx)
    this.sessions = this.state.keyed<K, Session<ACC>[]>('sessions')
    this.timers = this.state.timers<K>('session-ends')
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<O>): void {
    if (this.time === 'processing') this.batchNow = ctx.clock.now()
    forEachRecord(this, batch, ctx, out, 0)
  }

  records(batch: Batch<T>, from: number, ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const processing = this.time === 'processing'
    const now = this.batchNow
    const { gapMs, keyOf, sessions } = this
    const agg = this.fn.agg
    const lateness = this.late.allowedLatenessMs
    for (let i = from; i < n; i++) {
      this.at = i
      const v = records[i]
      const t = processing ? now : times[i]
      if (t === NO_TIMESTAMP) throw noEventTime()
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
        sessions.changed(k, list)
        if (s.end - 1 <= this.current) this.fireKey(k, this.current, out)
        continue
      }
      this.insert(k, list, t, agg.add(agg.create(), v), ctx)
      if (t + gapMs - 1 <= this.current) this.fireKey(k, this.current, out)
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
    this.sessions.put(k, kept)
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
    else this.sessions.put(k, remaining)
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
    const marks: OperatorState = { current: this.current }
    return this.state.snapshot(KIND, ctx.maxParallelism, marks)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void {
    const marks = this.state.restore(parts, owns, KIND, (e) => this.fromFormat2(e))
    if (marks.length === 0) return
    this.current = minOfParts<OperatorState>(marks, (s) => s.current)
    if (this.time === 'processing') {
      const next = this.timers.nextTime()
      if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next)
    }
  }

  private fromFormat2(e: readonly unknown[]): void {
    const k = e[2] as K
    if (e[1] === TIMER) {
      this.timers.register(e[3] as number, k)
      return
    }
    const session: Session<ACC> = { start: e[3] as number, end: e[4] as number, acc: e[5] as ACC }
    const list = this.sessions.get(k)
    if (list === undefined) this.sessions.put(k, [session])
    else list.push(session)
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  pendingTimers(): number {
    return this.timers?.size ?? 0
  }

  stateEntries(): number {
    return this.state?.entryCount() ?? 0
  }
}
