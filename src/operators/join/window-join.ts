/**
 * Window join: records of two keyed inputs that fall into the same (tumbling or sliding) window
 * and share a key are joined when the window fires, either pair by pair or as co-groups (both
 * sides' lists at once, which lets a query emit one row per key). State is a namespaced table,
 * window start → key → both sides' records, so firing walks one window and then drops it.
 */
import { SluiceError } from '../../errors.ts'
import type { KeyedTable, NamespacedTable, StateBackend } from '../../state/backend.ts'
import { insertSorted } from '../../time/min-heap.ts'
import { minOfParts, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import type { Collector } from '../flat-map.ts'
import { openState } from '../operator-state.ts'
import { forEachRecord, noEventTime, type RecordLoop } from '../record-loop.ts'
import { NO_TIMESTAMP, type Batch, type Operator, type OperatorContext, type Output } from '../types.ts'
import { alignedStart, type TimeWindow, type WindowAssigner } from '../window/assigners.ts'

interface Groups<L, R> {
  left: L[]
  right: R[]
}

export type CoGroupFn<K, L, R, O> = (key: K, left: readonly L[], right: readonly R[], window: TimeWindow, out: Collector<O>) => void

class TimeCollector<O> implements Collector<O> {
  out: Output<O> | null = null
  time = 0
  collect(v: O): void {
    ;(this.out as Output<O>).emit(v, this.time)
  }
}

/** Turns a pair function into a co-group function (inner join: every left × every right). */
export function pairsAsCoGroup<K, L, R, O>(fn: (left: L, right: R) => O): CoGroupFn<K, L, R, O> {
  return (_key, left, right, _w, out) => {
    for (let i = 0; i < left.length; i++) for (let j = 0; j < right.length; j++) out.collect(fn(left[i], right[j]))
  }
}

const KIND = 'window-join'

interface OperatorState {
  current: number
}

export class WindowJoinOperator<K, L, R, O> implements Operator<unknown, O>, RecordLoop<unknown, O> {
  at = 0
  private state!: StateBackend
  private windows!: NamespacedTable<K, Groups<L, R>>
  /** The windows' starts, ascending: the namespaces of `windows`. */
  private readonly starts: number[] = []
  /** Processing time of the batch being processed. */
  private batchNow = 0
  private readonly sizeMs: number
  private readonly slideMs: number
  private readonly offsetMs: number
  private readonly processing: boolean
  private readonly collector = new TimeCollector<O>()
  private current = Number.NEGATIVE_INFINITY

  constructor(
    assigner: WindowAssigner,
    private readonly keyOf: readonly [(v: L) => K, (v: R) => K],
    private readonly fn: CoGroupFn<K, L, R, O>,
  ) {
    if (assigner.kind !== 'tumbling' && assigner.kind !== 'sliding') {
      throw new SluiceError('JOIN_INVALID', `a window join takes tumbling or sliding windows, not ${assigner.kind}`)
    }
    this.sizeMs = assigner.sizeMs
    this.slideMs = assigner.kind === 'sliding' ? assigner.slideMs : assigner.sizeMs
    this.offsetMs = assigner.offsetMs
    this.processing = assigner.time === 'processing'
  }

  open(ctx: OperatorContext): void {
    this.state = openState(ctx)
    this.windows = this.state.namespaced<K, Groups<L, R>>('windows')
  }

  private window(start: number, ctx: OperatorContext): KeyedTable<K, Groups<L, R>> {
    const w = this.windows.findNamespace(start)
    if (w !== undefined) return w
    insertSorted(this.starts, start)
    if (this.processing) ctx.requestProcessingTimeCallback(start + this.sizeMs - 1)
    return this.windows.namespace(start)
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, out: Output<O>, input: number): void {
    if (this.processing) this.batchNow = ctx.clock.now()
    forEachRecord(this, batch, ctx, out, input)
  }

  records(batch: Batch<unknown>, from: number, ctx: OperatorContext, _out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    const keyOf = this.keyOf[input] as (v: unknown) => K
    const now = this.batchNow
    for (let i = from; i < n; i++) {
      this.at = i
      const v = records[i]
      const t = this.processing ? now : times[i]
      if (t === NO_TIMESTAMP) throw noEventTime()
      const k = keyOf(v)
      const last = alignedStart(t, this.slideMs, this.offsetMs)
      for (let s = last; s > t - this.sizeMs; s -= this.slideMs) {
        if (s + this.sizeMs - 1 <= this.current) {
          ctx.countLateDropped(1)
          break
        }
        const w = this.window(s, ctx)
        const g = w.get(k)
        if (g === undefined) w.put(k, input === 0 ? { left: [v as L], right: [] } : { left: [], right: [v as R] })
        else {
          if (input === 0) g.left.push(v as L)
          else g.right.push(v as R)
          w.changed(k, g)
        }
      }
    }
  }

  private advance(upTo: number, out: Output<O>): void {
    this.current = upTo
    const c = this.collector
    c.out = out
    let fired = 0
    for (; fired < this.starts.length; fired++) {
      const start = this.starts[fired]
      const end = start + this.sizeMs
      if (end - 1 > upTo) break
      const w = this.windows.findNamespace(start) as KeyedTable<K, Groups<L, R>>
      const window = { start, end }
      c.time = end - 1
      for (const [k, g] of w.entries()) if (g.left.length > 0 && g.right.length > 0) this.fn(k, g.left, g.right, window, c)
      this.windows.drop(start)
    }
    if (fired > 0) this.starts.splice(0, fired)
  }

  onWatermark(watermark: number, _ctx: OperatorContext, out: Output<O>): void {
    // After a restore the task's watermark may restart below the time already reached.
    if (!this.processing && watermark > this.current) this.advance(watermark, out)
  }

  onProcessingTime(nowMs: number, _ctx: OperatorContext, out: Output<O>): void {
    if (this.processing) this.advance(nowMs, out)
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
    for (const start of this.windows.namespaces()) {
      insertSorted(this.starts, start)
      if (this.processing) ctx.requestProcessingTimeCallback(start + this.sizeMs - 1)
    }
  }

  /** Format 2 entries: [sequence, 0, key, window start, left records, right records]. */
  private fromFormat2(e: readonly unknown[]): void {
    const w = this.windows.namespace(e[3] as number)
    const k = e[2] as K
    const g = w.get(k)
    if (g === undefined) w.put(k, { left: (e[4] as L[]).slice(), right: (e[5] as R[]).slice() })
    else {
      for (const v of e[4] as L[]) g.left.push(v)
      for (const v of e[5] as R[]) g.right.push(v)
    }
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  /** Windows waiting for the watermark. */
  pendingTimers(): number {
    return this.windows?.namespaceCount ?? 0
  }

  stateEntries(): number {
    return this.state?.entryCount() ?? 0
  }
}
