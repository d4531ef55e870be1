import { forEachRecord, type RecordLoop } from './record-loop.ts'
import type { Batch, Operator, OperatorContext, Output } from './types.ts'

/** Applies `fn` to each record; a record that throws goes to the error policy (record-loop.ts). */
export class MapOperator<I, O> implements Operator<I, O>, RecordLoop<I, O> {
  /** Lets the planner fuse consecutive stateless operators into one loop (runtime/task/fusion.ts). */
  readonly fusable = 'map' as const
  at = 0

  constructor(readonly fn: (value: I) => O) {}

  processBatch(batch: Batch<I>, ctx: OperatorContext, out: Output<O>): void {
    forEachRecord(this, batch, ctx, out, 0)
  }

  records(batch: Batch<I>, from: number, _ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const fn = this.fn
    for (let i = from; i < n; i++) {
      this.at = i
      out.emit(fn(records[i]), times[i])
    }
  }
}
