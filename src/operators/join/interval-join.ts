/**
 * Interval join: a left record at tl joins every right record of the same key with
 * tl + lowerMs <= tr <= tl + upperMs. Each side is buffered until no future record of the other
 * side can match it: left until the watermark passes tl + upperMs, right until it passes
 * tr − lowerMs. Records behind the watermark are late and dropped (counted).
 */
import { firstOf } from '../../state/state-size.ts'
import { SluiceError } from '../../errors.ts'
import { NO_TIMESTAMP, type Batch, type Operator, type OperatorContext, type Output } from '../types.ts'
import { minOfParts, readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { JoinBuffer, restoreSides, snapshotSides } from './buffered-side.ts'

const KIND = 'interval-join'
/** Snapshot entry tags: [ordinal, tag, key, time, record]. */

interface OperatorState {
  watermark: number
  lastEviction: number
}

export class IntervalJoinOperator<K, L, R, O> implements Operator<unknown, O> {
  private readonly left = new JoinBuffer<K, L>()
  private readonly right = new JoinBuffer<K, R>()
  private lastEviction = Number.NEGATIVE_INFINITY
  /** The highest watermark seen (restored too): lateness is judged against it. */
  private watermark = Number.NEGATIVE_INFINITY

  constructor(
    private readonly lowerMs: number,
    private readonly upperMs: number,
    private readonly keyOf: readonly [(v: L) => K, (v: R) => K],
    private readonly fn: (left: L, right: R) => O,
  ) {
    if (!Number.isFinite(lowerMs) || !Number.isFinite(upperMs) || lowerMs > upperMs) {
      throw new SluiceError('JOB_INVALID_OPTION', `interval join bounds must be finite with lower <= upper, got [${lowerMs}, ${upperMs}]`)
    }
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    // After a restore the task's watermark may restart below the one records were judged by.
    const taskWm = ctx.currentWatermark()
    const wm = taskWm > this.watermark ? taskWm : this.watermark
    const { lowerMs, upperMs, fn } = this
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          const t = times[i]
          if (t === NO_TIMESTAMP) throw new Error('record has no event time: give its source a watermark strategy')
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
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
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
    const w = new SnapshotWriter(KIND, ctx.maxParallelism)
    snapshotSides(w, this.left as JoinBuffer<K, unknown>, this.right as JoinBuffer<K, unknown>)
    const state: OperatorState = { watermark: this.watermark, lastEviction: this.lastEviction }
    return w.finish(state)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    const { operatorStates, entries } = readOwned(parts, owns, KIND)
    if (operatorStates.length === 0) return
    this.watermark = minOfParts<OperatorState>(operatorStates, (s) => s.watermark)
    this.lastEviction = minOfParts<OperatorState>(operatorStates, (s) => s.lastEviction)
    restoreSides(entries, this.left as JoinBuffer<K, unknown>, this.right as JoinBuffer<K, unknown>)
  }

  stateSample(max: number): unknown[] {
    return [...firstOf(this.left.byKey, max >> 1), ...firstOf(this.right.byKey, max >> 1)]
  }

  stateEntries(): number {
    return this.left.size + this.right.size
  }
}
