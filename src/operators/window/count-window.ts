/**
 * The global window with a count trigger: per key, every `count` records fire the window with
 * their aggregate and purge it. A partial window at end of input does not fire (as in Flink);
 * its records are counted in the operator's state until then.
 */
import { firstOf } from '../../state/state-size.ts'
import { readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import type { Batch, Operator, OperatorContext, Output } from '../types.ts'
import type { WindowFunction } from './window-function.ts'

interface CountState<ACC> {
  n: number
  acc: ACC
}

const KIND = 'count-window'
/** Snapshot entries: [ordinal, COUNT, key, records so far, accumulator]. */
const COUNT = 0

const GLOBAL = { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY }

export class CountWindowOperator<K, T, ACC, O> implements Operator<T, O> {
  private readonly state = new Map<K, CountState<ACC>>()

  constructor(
    private readonly count: number,
    private readonly keyOf: (v: T) => K,
    private readonly fn: WindowFunction<K, T, ACC, O>,
  ) {}

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const agg = this.fn.agg
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          const v = records[i]
          const k = this.keyOf(v)
          let s = this.state.get(k)
          if (s === undefined) {
            s = { n: 0, acc: agg.create() }
            this.state.set(k, s)
          }
          s.acc = agg.add(s.acc, v)
          if (++s.n === this.count) {
            this.state.delete(k)
            this.fn.emit(k, GLOBAL, s.acc, out, times[i])
          }
        }
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
    }
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    const w = new SnapshotWriter(KIND, ctx.maxParallelism)
    // n = 0: the first add threw; the entry holds only create()'s value (for reduce, a symbol).
    for (const [k, s] of this.state) if (s.n > 0) w.add(COUNT, k, s.n, s.acc)
    return w.finish(null)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    for (const e of readOwned(parts, owns, KIND).entries) this.state.set(e[2] as K, { n: e[3] as number, acc: e[4] as ACC })
  }

  stateSample(max: number): unknown[] {
    return firstOf(this.state, max)
  }

  stateEntries(): number {
    return this.state.size
  }
}
