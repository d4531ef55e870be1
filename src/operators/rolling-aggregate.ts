/**
 * Rolling (non-windowed) keyed aggregation: every input record updates its key's accumulator
 * and emits the updated result, as Flink's keyed reduce does. State: key → accumulator.
 */
import type { KeyedTable, StateBackend } from '../state/backend.ts'
import type { KeyGroupFilter, OperatorSnapshot, SnapshotContext } from '../state/snapshot.ts'
import type { AggregateFunction } from './aggregate.ts'
import { openState } from './operator-state.ts'
import { forEachRecord, type RecordLoop } from './record-loop.ts'
import type { Batch, Operator, OperatorContext, Output } from './types.ts'

const KIND = 'rolling-aggregate'

export class RollingAggregateOperator<K, I, ACC, R, O> implements Operator<I, O>, RecordLoop<I, O> {
  at = 0
  private state!: StateBackend
  private accs!: KeyedTable<K, ACC>

  constructor(
    private readonly keyOf: (v: I) => K,
    private readonly agg: AggregateFunction<I, ACC, R>,
    private readonly project: (key: K, result: R) => O,
  ) {}

  open(ctx: OperatorContext): void {
    this.state = openState(ctx)
    this.accs = this.state.keyed<K, ACC>('accumulators')
  }

  processBatch(batch: Batch<I>, ctx: OperatorContext, out: Output<O>): void {
    forEachRecord(this, batch, ctx, out, 0)
  }

  records(batch: Batch<I>, from: number, _ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const { accs, agg, keyOf, project } = this
    for (let i = from; i < n; i++) {
      this.at = i
      const v = records[i]
      const k = keyOf(v)
      const cur = accs.get(k)
      const next = agg.add(cur === undefined ? agg.create() : cur, v)
      if (next !== cur) accs.put(k, next)
      else accs.changed(k, next)
      out.emit(project(k, agg.result(next)), times[i])
    }
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    return this.state.snapshot(KIND, ctx.maxParallelism, null)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    // Format 2 entries: [sequence, 0, key, accumulator].
    this.state.restore(parts, owns, KIND, (e) => this.accs.put(e[2] as K, e[3] as ACC))
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  stateEntries(): number {
    return this.state?.entryCount() ?? 0
  }
}
