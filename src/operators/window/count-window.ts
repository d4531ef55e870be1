/**
 * The global window with a count trigger: per key, every `count` records fire the window with
 * their aggregate and purge it. A partial window at end of input does not fire (as in Flink);
 * its records are counted in the operator's state until then. State: key → { n, acc }.
 */
import type { KeyedTable, StateBackend } from '../../state/backend.ts'
import type { KeyGroupFilter, OperatorSnapshot, SnapshotContext } from '../../state/snapshot.ts'
import { openState } from '../operator-state.ts'
import { forEachRecord, type RecordLoop } from '../record-loop.ts'
import type { Batch, Operator, OperatorContext, Output } from '../types.ts'
import type { WindowFunction } from './window-function.ts'

interface CountState<ACC> {
  n: number
  acc: ACC
}

const KIND = 'count-window'

const GLOBAL = { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY }

export class CountWindowOperator<K, T, ACC, O> implements Operator<T, O>, RecordLoop<T, O> {
  at = 0
  private state!: StateBackend
  private counts!: KeyedTable<K, CountState<ACC>>

  constructor(
    private readonly count: number,
    private readonly keyOf: (v: T) => K,
    private readonly fn: WindowFunction<K, T, ACC, O>,
  ) {}

  open(ctx: OperatorContext): void {
    this.state = openState(ctx)
    this.counts = this.state.keyed<K, CountState<ACC>>('counts')
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<O>): void {
    forEachRecord(this, batch, ctx, out, 0)
  }

  records(batch: Batch<T>, from: number, _ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const { agg } = this.fn
    const counts = this.counts
    for (let i = from; i < n; i++) {
      this.at = i
      const v = records[i]
      const k = this.keyOf(v)
      const s = counts.get(k)
      if (s === undefined) {
        // Stored once add has succeeded: create()'s value may not be plain data (reduce's is a symbol).
        const first: CountState<ACC> = { n: 1, acc: agg.add(agg.create(), v) }
        if (first.n === this.count) this.fn.emit(k, GLOBAL, first.acc, out, times[i])
        else counts.put(k, first)
        continue
      }
      s.acc = agg.add(s.acc, v)
      if (++s.n === this.count) {
        counts.delete(k)
        this.fn.emit(k, GLOBAL, s.acc, out, times[i])
      } else {
        counts.changed(k, s)
      }
    }
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    return this.state.snapshot(KIND, ctx.maxParallelism, null)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    // Format 2 entries: [sequence, 0, key, records so far, accumulator].
    this.state.restore(parts, owns, KIND, (e) => this.counts.put(e[2] as K, { n: e[3] as number, acc: e[4] as ACC }))
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  stateEntries(): number {
    return this.state?.entryCount() ?? 0
  }
}
