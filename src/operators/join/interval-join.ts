/**
 * Interval join: a left record at tl joins every right record of the same key with
 * tl + lowerMs <= tr <= tl + upperMs. Each side is buffered until no future record of the other
 * side can match it: left until the watermark passes tl + upperMs, right until it passes
 * tr − lowerMs. Records behind the watermark are late and dropped (counted).
 */
import { SluiceError } from '../../errors.ts'
import type { StateBackend } from '../../state/backend.ts'
import { minOfParts, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { openState } from '../operator-state.ts'
import { forEachRecord, noEventTime, type RecordLoop } from '../record-loop.ts'
import { NO_TIMESTAMP, type Batch, type Operator, type OperatorContext, type Output } from '../types.ts'
import { JoinBuffer, restoreFormat2, type Entry } from './buffered-side.ts'

const KIND = 'interval-join'

/** JOIN_INVALID unless both bounds are finite and lower <= upper (checked where the join is built, and again by the operator). */
export function checkIntervalBounds(lowerMs: number, upperMs: number): void {
  if (!Number.isFinite(lowerMs) || !Number.isFinite(upperMs) || lowerMs > upperMs) {
    throw new SluiceError('JOIN_INVALID', `interval join bounds must be finite with lower <= upper, got [${lowerMs}, ${upperMs}]`)
  }
}

interface OperatorState {
  watermark: number
  lastEviction: number
}

export class IntervalJoinOperator<K, L, R, O> implements Operator<unknown, O>, RecordLoop<unknown, O> {
  at = 0
  private state!: StateBackend
  private left!: JoinBuffer<K, L>
  private right!: JoinBuffer<K, R>
  /** The watermark records of the current batch are judged by. */
  private batchWatermark = Number.NEGATIVE_INFINITY
  private lastEviction = Number.NEGATIVE_INFINITY
  /** The highest watermark seen (restored too): lateness is judged against it. */
  private watermark = Number.NEGATIVE_INFINITY

  constructor(
    private readonly lowerMs: number,
    private readonly upperMs: number,
    private readonly keyOf: readonly [(v: L) => K, (v: R) => K],
    private readonly fn: (left: L, right: R) => O,
  ) {
    checkIntervalBounds(lowerMs, upperMs)
  }

  open(ctx: OperatorContext): void {
    this.state = openState(ctx)
    this.left = new JoinBuffer(this.state.keyed<K, Entry<L>[]>('left'))
    this.right = new JoinBuffer(this.state.keyed<K, Entry<R>[]>('right'))
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, out: Output<O>, input: number): void {
    // After a restore the task's watermark may restart below the one records were judged by.
    const taskWm = ctx.currentWatermark()
    this.batchWatermark = taskWm > this.watermark ? taskWm : this.watermark
    forEachRecord(this, batch, ctx, out, input)
  }

  records(batch: Batch<unknown>, from: number, ctx: OperatorContext, out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    const wm = this.batchWatermark
    const { lowerMs, upperMs, fn } = this
    for (let i = from; i < n; i++) {
      this.at = i
      const t = times[i]
      if (t === NO_TIMESTAMP) throw noEventTime()
      if (t <= wm) {
        ctx.countLateDropped(1)
        continue
      }
      if (input === 0) {
        const l = records[i] as L
        const k = this.keyOf[0](l)
        this.left.add(k, l, t)
        const others = this.right.get(k)
        if (others !== undefined) {
          for (const r of others) if (r.time >= t + lowerMs && r.time <= t + upperMs) out.emit(fn(l, r.value), Math.max(t, r.time))
        }
      } else {
        const r = records[i] as R
        const k = this.keyOf[1](r)
        this.right.add(k, r, t)
        const others = this.left.get(k)
        if (others !== undefined) {
          for (const l of others) if (t >= l.time + lowerMs && t <= l.time + upperMs) out.emit(fn(l.value, r), Math.max(t, l.time))
        }
      }
    }
  }

  onWatermark(watermark: number): void {
    // After a restore the task's watermark may restart below the one reached before.
    if (watermark <= this.watermark) return
    this.watermark = watermark
    // Evicting walks every key, so do it once per interval length of progress.
    if (watermark - this.lastEviction < Math.max(1000, this.upperMs - this.lowerMs) && watermark !== Number.POSITIVE_INFINITY) return
    this.lastEviction = watermark
    this.left.evict((t) => t + this.upperMs <= watermark)
    this.right.evict((t) => t - this.lowerMs <= watermark)
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    const marks: OperatorState = { watermark: this.watermark, lastEviction: this.lastEviction }
    return this.state.snapshot(KIND, ctx.maxParallelism, marks)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    const marks = this.state.restore(parts, owns, KIND, (e) => restoreFormat2(e, this.left as JoinBuffer<K, unknown>, this.right as JoinBuffer<K, unknown>))
    if (marks.length === 0) return
    this.watermark = minOfParts<OperatorState>(marks, (s) => s.watermark)
    this.lastEviction = minOfParts<OperatorState>(marks, (s) => s.lastEviction)
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  stateEntries(): number {
    return this.state?.entryCount() ?? 0
  }
}
