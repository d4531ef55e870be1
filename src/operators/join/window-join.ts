/**
 * Window join: records of two keyed inputs that fall into the same (tumbling or sliding) window
 * and share a key are joined when the window fires, either pair by pair or as co-groups (both
 * sides' lists at once, which lets a query emit one row per key). Laid out window-first.
 */
import { firstOf } from '../../state/state-size.ts'
import { SluiceError } from '../../errors.ts'
import { insertSorted } from '../../time/min-heap.ts'
import { minOfParts, readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import type { Collector } from '../flat-map.ts'
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
/** Snapshot entries: [ordinal, WINDOW, key, window start, left records, right records]. */
const WINDOW = 0

interface OperatorState {
  current: number
}

export class WindowJoinOperator<K, L, R, O> implements Operator<unknown, O> {
  private readonly windows = new Map<number, Map<K, Groups<L, R>>>()
  private readonly starts: number[] = []
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
      throw new SluiceError('JOB_INVALID_OPTION', `a window join takes tumbling or sliding windows, not ${assigner.kind}`)
    }
    this.sizeMs = assigner.sizeMs
    this.slideMs = assigner.kind === 'sliding' ? assigner.slideMs : assigner.sizeMs
    this.offsetMs = assigner.offsetMs
    this.processing = assigner.time === 'processing'
  }

  private groups(start: number, k: K, ctx: OperatorContext): Groups<L, R> {
    let w = this.windows.get(start)
    if (w === undefined) {
      w = new Map()
      this.windows.set(start, w)
      insertSorted(this.starts, start)
      if (this.processing) ctx.requestProcessingTimeCallback(start + this.sizeMs - 1)
    }
    let g = w.get(k)
    if (g === undefined) {
      g = { left: [], right: [] }
      w.set(k, g)
    }
    return g
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, _out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    const keyOf = this.keyOf[input] as (v: unknown) => K
    const now = this.processing ? ctx.clock.now() : 0
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          const v = records[i]
          const t = this.processing ? now : times[i]
          if (t === NO_TIMESTAMP) throw new Error('record has no event time: give its source a watermark strategy')
          const k = keyOf(v)
          const last = alignedStart(t, this.slideMs, this.offsetMs)
          for (let s = last; s > t - this.sizeMs; s -= this.slideMs) {
            if (s + this.sizeMs - 1 <= this.current) {
              ctx.countLateDropped(1)
              break
            }
            const g = this.groups(s, k, ctx)
            if (input === 0) g.left.push(v as L)
            else g.right.push(v as R)
          }
        }
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
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
      const w = this.windows.get(start) as Map<K, Groups<L, R>>
      this.windows.delete(start)
      const window = { start, end }
      c.time = end - 1
      for (const [k, g] of w) if (g.left.length > 0 && g.right.length > 0) this.fn(k, g.left, g.right, window, c)
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
    const w = new SnapshotWriter(KIND, ctx.maxParallelism)
    for (const start of this.starts) for (const [k, g] of this.windows.get(start) as Map<K, Groups<L, R>>) w.add(WINDOW, k, start, g.left, g.right)
    const state: OperatorState = { current: this.current }
    return w.finish(state)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void {
    const { operatorStates, entries } = readOwned(parts, owns, KIND)
    if (operatorStates.length === 0) return
    this.current = minOfParts<OperatorState>(operatorStates, (s) => s.current)
    for (const e of entries) {
      const g = this.groups(e[3] as number, e[2] as K, ctx)
      for (const v of e[4] as L[]) g.left.push(v)
      for (const v of e[5] as R[]) g.right.push(v)
    }
  }

  stateSample(max: number): unknown[] {
    const out: unknown[] = []
    for (const w of this.windows.values()) out.push(...firstOf(w, max - out.length))
    return out
  }

  /** Windows waiting for the watermark. */
  pendingTimers(): number {
    return this.windows.size
  }

  stateEntries(): number {
    let n = 0
    for (const w of this.windows.values()) for (const g of w.values()) n += g.left.length + g.right.length
    return n
  }
}
