import { forEachRecord, type RecordLoop } from './record-loop.ts'
import type { Batch, Operator, OperatorContext, Output } from './types.ts'

/** Receives each output of a flatMap function; outputs keep the input record's event time. */
export interface Collector<T> {
  collect(value: T): void
}

/** One collector per operator, re-pointed per record: no allocation on the hot path. */
class TimedCollector<T> implements Collector<T> {
  out: Output<T> | null = null
  time = 0

  collect(value: T): void {
    ;(this.out as Output<T>).emit(value, this.time)
  }
}

/** Calls `fn` per record with a collector; a record that throws goes to the error policy (record-loop.ts). */
export class FlatMapOperator<I, O> implements Operator<I, O>, RecordLoop<I, O> {
  private readonly collector = new TimedCollector<O>()
  at = 0

  /** Lets the planner fuse consecutive stateless operators into one loop (runtime/task/fusion.ts). */
  readonly fusable = 'flatMap' as const

  constructor(readonly fn: (value: I, out: Collector<O>) => void) {}

  processBatch(batch: Batch<I>, ctx: OperatorContext, out: Output<O>): void {
    this.collector.out = out
    forEachRecord(this, batch, ctx, out, 0)
  }

  records(batch: Batch<I>, from: number): void {
    const { records, times } = batch
    const n = records.length
    const fn = this.fn
    const c = this.collector
    for (let i = from; i < n; i++) {
      this.at = i
      c.time = times[i]
      fn(records[i], c)
    }
  }
}
