import { forEachRecord, type RecordLoop } from './record-loop.ts'
import type { Batch, Operator, OperatorContext, Output } from './types.ts'

/** Keeps the records `predicate` accepts; a record that throws goes to the error policy (record-loop.ts). */
export class FilterOperator<T> implements Operator<T, T>, RecordLoop<T, T> {
  /** Lets the planner fuse consecutive stateless operators into one loop (runtime/task/fusion.ts). */
  readonly fusable = 'filter' as const
  at = 0

  constructor(readonly predicate: (value: T) => boolean) {}

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<T>): void {
    forEachRecord(this, batch, ctx, out, 0)
  }

  records(batch: Batch<T>, from: number, _ctx: OperatorContext, out: Output<T>): void {
    const { records, times } = batch
    const n = records.length
    const pred = this.predicate
    for (let i = from; i < n; i++) {
      this.at = i
      if (pred(records[i])) out.emit(records[i], times[i])
    }
  }
}
