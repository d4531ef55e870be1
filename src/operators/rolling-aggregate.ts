/**
 * Rolling (non-windowed) keyed aggregation: every input record updates its key's accumulator
 * and emits the updated result, as Flink's keyed reduce does.
 */
import { firstOf } from '../state/state-size.ts'
import { readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../state/snapshot.ts'
import type { AggregateFunction } from './aggregate.ts'
import type { Batch, Operator, OperatorContext, Output } from './types.ts'

const KIND = 'rolling-aggregate'
/** Snapshot entries: [ordinal, ACC, key, accumulator]. */
const ACC = 0

export class RollingAggregateOperator<K, I, ACC, R, O> implements Operator<I, O> {
  private readonly accs = new Map<K, ACC>()

  constructor(
    private readonly keyOf: (v: I) => K,
    private readonly agg: AggregateFunction<I, ACC, R>,
    private readonly project: (key: K, result: R) => O,
  ) {}

  processBatch(batch: Batch<I>, ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const { accs, agg, keyOf, project } = this
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          const v = records[i]
          const k = keyOf(v)
          const cur = accs.get(k)
          const next = agg.add(cur === undefined ? agg.create() : cur, v)
          if (next !== cur) accs.set(k, next)
          out.emit(project(k, agg.result(next)), times[i])
        }
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
    }
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    const w = new SnapshotWriter(KIND, ctx.maxParallelism)
    for (const [k, acc] of this.accs) w.add(ACC, k, acc)
    return w.finish(null)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    for (const e of readOwned(parts, owns, KIND).entries) this.accs.set(e[2] as K, e[3] as ACC)
  }

  stateSample(max: number): unknown[] {
    return firstOf(this.accs, max)
  }

  stateEntries(): number {
    return this.accs.size
  }
}
