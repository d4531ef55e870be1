/**
 * Tumbling and sliding windows, computed from panes. Time is cut into panes of
 * gcd(size, slide); a record updates the accumulator of one pane, and a window fires by merging
 * the accumulators of its size/pane panes. State is a namespaced table, pane start → key → acc,
 * so firing walks one pane's keys and purging drops a whole pane at once.
 *
 * Invariants: `paneStarts` is sorted and holds exactly the namespaces of `panes`; every window with
 * end <= `lastFiredEnd` has fired; a pane is kept while any window containing it may still
 * change (its last window's end − 1 + allowed lateness > current time).
 */
import { SluiceError } from '../../errors.ts'
import type { KeyedTable, NamespacedTable, StateBackend } from '../../state/backend.ts'
import { insertSorted } from '../../time/min-heap.ts'
import { minOfParts, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { openState } from '../operator-state.ts'
import { forEachRecord, noEventTime, type RecordLoop } from '../record-loop.ts'
import { NO_TIMESTAMP, type Batch, type Operator, type OperatorContext, type Output } from '../types.ts'
import { alignedStart, gcd, type TimeDomain } from './assigners.ts'
import type { LateDataOptions, WindowFunction } from './window-function.ts'

export interface PaneWindowSpec {
  readonly sizeMs: number
  readonly slideMs: number
  readonly offsetMs: number
  readonly time: TimeDomain
}

const KIND = 'pane-window'

interface OperatorState {
  lastFiredEnd: number
  current: number
}

export class PaneWindowOperator<K, T, ACC, O> implements Operator<T, O>, RecordLoop<T, O> {
  at = 0
  private state!: StateBackend
  private panes!: NamespacedTable<K, ACC>
  private readonly paneStarts: number[] = []
  /** Processing time of the batch being processed. */
  private batchNow = 0
  private readonly paneMs: number
  private lastFiredEnd = Number.NEGATIVE_INFINITY
  private current = Number.NEGATIVE_INFINITY

  constructor(
    private readonly spec: PaneWindowSpec,
    private readonly keyOf: (v: T) => K,
    private readonly fn: WindowFunction<K, T, ACC, O>,
    private readonly late: LateDataOptions<T>,
  ) {
    this.paneMs = gcd(spec.sizeMs, spec.slideMs)
    if (this.paneMs !== spec.sizeMs && fn.agg.merge === undefined) {
      throw new SluiceError('WINDOW_INVALID', 'a sliding window needs an aggregate with merge(); add merge(a, b) to the aggregate function or use reduce/process (see docs/GUIDE.md#aggregate-functions)')
    }
  }

  /** End of the first window containing pane p. */
  private firstWindowEnd(p: number): number {
    const { sizeMs, slideMs, offsetMs } = this.spec
    return alignedStart(p - sizeMs + slideMs, slideMs, offsetMs) + sizeMs
  }

  /** End of the last window containing pane p. */
  private lastWindowEnd(p: number): number {
    return alignedStart(p, this.spec.slideMs, this.spec.offsetMs) + this.spec.sizeMs
  }

  open(ctx: OperatorContext): void {
    this.state = openState(ctx)
    this.panes = this.state.namespaced<K, ACC>('panes')
  }

  private addPane(p: number, ctx: OperatorContext): KeyedTable<K, ACC> {
    const m = this.panes.namespace(p)
    insertSorted(this.paneStarts, p)
    if (this.spec.time === 'processing') ctx.requestProcessingTimeCallback(this.firstWindowEnd(p) - 1)
    return m
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<O>): void {
    if (this.spec.time === 'processing') this.batchNow = ctx.clock.now()
    forEachRecord(this, batch, ctx, out, 0)
  }

  records(batch: Batch<T>, from: number, ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const { keyOf, paneMs } = this
    const { agg } = this.fn
    const offset = this.spec.offsetMs
    const processing = this.spec.time === 'processing'
    const now = this.batchNow
    const lateness = this.late.allowedLatenessMs
    let lastPane = Number.NaN
    let paneMap: KeyedTable<K, ACC> | undefined
    let paneLate = false
    let paneRefire = false
    for (let i = from; i < n; i++) {
      this.at = i
      const v = records[i]
      const t = processing ? now : times[i]
      if (t === NO_TIMESTAMP) throw noEventTime()
      const p = t - paneMs + 1 <= lastPane && t >= lastPane ? lastPane : alignedStart(t, paneMs, offset)
      if (p !== lastPane) {
        lastPane = p
        paneLate = this.lastWindowEnd(p) - 1 + lateness <= this.current
        paneRefire = this.firstWindowEnd(p) <= this.lastFiredEnd
        paneMap = paneLate ? undefined : (this.panes.findNamespace(p) ?? this.addPane(p, ctx))
      }
      if (paneLate) {
        if (this.late.lateTag !== null) out.emitSide(this.late.lateTag, v, t)
        else ctx.countLateDropped(this.late.weight === undefined ? 1 : this.late.weight(v))
        continue
      }
      const k = keyOf(v)
      const map = paneMap as KeyedTable<K, ACC>
      const acc = map.get(k)
      const next = agg.add(acc === undefined ? agg.create() : acc, v)
      if (next !== acc) map.put(k, next)
      else map.changed(k, next)
      if (paneRefire) this.refire(p, k, out)
    }
  }

  /**
   * Re-emits, for one key, the already fired windows containing pane p that are still within the
   * allowed lateness (end − 1 + lateness > current time); windows past it stay as they fired.
   */
  private refire(p: number, k: K, out: Output<O>): void {
    const { sizeMs, slideMs } = this.spec
    const lateness = this.late.allowedLatenessMs
    for (let end = this.firstWindowEnd(p); end <= this.lastFiredEnd && end - sizeMs <= p; end += slideMs) {
      if (end - 1 + lateness <= this.current) continue
      const acc = this.mergeKey(end - sizeMs, end, k)
      if (acc !== undefined) this.fn.emit(k, { start: end - sizeMs, end }, acc, out, end - 1)
    }
  }

  private mergeKey(start: number, end: number, k: K): ACC | undefined {
    const agg = this.fn.agg
    let merged: ACC | undefined
    for (let p = start; p < end; p += this.paneMs) {
      const acc = this.panes.findNamespace(p)?.get(k)
      if (acc === undefined) continue
      merged = (agg.merge as (a: ACC, b: ACC) => ACC)(merged ?? agg.create(), acc)
    }
    return merged
  }

  private fireWindow(start: number, end: number, out: Output<O>): void {
    const window = { start, end }
    const time = end - 1
    const { fn } = this
    if (this.paneMs === this.spec.sizeMs) {
      const pane = this.panes.findNamespace(start)
      if (pane !== undefined) for (const [k, acc] of pane.entries()) fn.emit(k, window, acc, out, time)
      return
    }
    const merge = fn.agg.merge as (a: ACC, b: ACC) => ACC
    const merged = new Map<K, ACC>()
    for (let p = start; p < end; p += this.paneMs) {
      const pane = this.panes.findNamespace(p)
      if (pane === undefined) continue
      for (const [k, acc] of pane.entries()) {
        const m = merged.get(k)
        if (m === undefined) merged.set(k, merge(fn.agg.create(), acc))
        else {
          const r = merge(m, acc)
          if (r !== m) merged.set(k, r)
        }
      }
    }
    for (const [k, acc] of merged) fn.emit(k, window, acc, out, time)
  }

  /** End of the next window to fire: the first unfired window holding data; +∞ if none. */
  private nextWindowEnd(): number {
    const starts = this.paneStarts
    let idx = 0
    while (idx < starts.length && this.lastWindowEnd(starts[idx]) <= this.lastFiredEnd) idx++
    if (idx === starts.length) return Number.POSITIVE_INFINITY
    return Math.max(this.firstWindowEnd(starts[idx]), this.lastFiredEnd + this.spec.slideMs)
  }

  /** Fires every window whose end − 1 <= upTo, in order of end, then purges finished panes. */
  private advance(upTo: number, out: Output<O>): void {
    this.current = upTo
    const starts = this.paneStarts
    for (;;) {
      const end = this.nextWindowEnd()
      if (end === Number.POSITIVE_INFINITY || end - 1 > upTo) break
      this.fireWindow(end - this.spec.sizeMs, end, out)
      this.lastFiredEnd = end
    }
    const lateness = this.late.allowedLatenessMs
    let drop = 0
    while (drop < starts.length) {
      const lastEnd = this.lastWindowEnd(starts[drop])
      if (lastEnd > this.lastFiredEnd || lastEnd - 1 + lateness > upTo) break
      this.panes.drop(starts[drop])
      drop++
    }
    if (drop > 0) starts.splice(0, drop)
  }

  onWatermark(watermark: number, _ctx: OperatorContext, out: Output<O>): void {
    // After a restore the task's watermark may restart below the time already reached.
    if (this.spec.time === 'event' && watermark > this.current) this.advance(watermark, out)
  }

  onProcessingTime(nowMs: number, ctx: OperatorContext, out: Output<O>): void {
    if (this.spec.time !== 'processing') return
    this.advance(nowMs, out)
    // A sliding window's later windows over old panes are due even if no new record arrives.
    const next = this.nextWindowEnd()
    if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next - 1)
  }

  /** At end of input, processing-time windows fire too, so no record is lost. */
  finish(_ctx: OperatorContext, out: Output<O>): void {
    this.advance(Number.POSITIVE_INFINITY, out)
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    const marks: OperatorState = { lastFiredEnd: this.lastFiredEnd, current: this.current }
    return this.state.snapshot(KIND, ctx.maxParallelism, marks)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void {
    // Format 2 entries: [sequence, 0, key, pane start, accumulator].
    const marks = this.state.restore(parts, owns, KIND, (e) => this.panes.namespace(e[3] as number).put(e[2] as K, e[4] as ACC))
    if (marks.length === 0) return
    this.restoreMarks(marks as OperatorState[])
    for (const p of this.panes.namespaces()) insertSorted(this.paneStarts, p)
    if (this.spec.time === 'processing') {
      const next = this.nextWindowEnd()
      if (next !== Number.POSITIVE_INFINITY) ctx.requestProcessingTimeCallback(next - 1)
    }
  }

  /**
   * Every old subtask fired each window with data that ended by its `current`. Old subtasks that
   * took one aligned snapshot share `current`, and then the latest `lastFiredEnd` is right for all
   * (one without data for a window never fired it, and needs not). Where they differ, windows
   * ending after the earliest `current` count as unfired.
   */
  private restoreMarks(states: readonly OperatorState[]): void {
    const current = minOfParts<OperatorState>(states, (s) => s.current)
    let lastFiredEnd = -minOfParts<OperatorState>(states, (s) => -s.lastFiredEnd)
    if (lastFiredEnd - 1 > current) {
      const { sizeMs, slideMs, offsetMs } = this.spec
      lastFiredEnd = current === Number.NEGATIVE_INFINITY ? current : alignedStart(current + 1 - sizeMs, slideMs, offsetMs) + sizeMs
    }
    this.current = current
    this.lastFiredEnd = lastFiredEnd
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  /** Panes waiting for the watermark to close them. */
  pendingTimers(): number {
    return this.panes?.namespaceCount ?? 0
  }

  stateEntries(): number {
    return this.state?.entryCount() ?? 0
  }
}
