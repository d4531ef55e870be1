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

export class FlatMapOperator<I, O> implements Operator<I, O> {
  private readonly collector = new TimedCollector<O>()

  /** Lets the planner fuse consecutive stateless operators into one loop (runtime/fusion.ts). */
  readonly fusable = 'flatMap' as const

  constructor(readonly fn: (value: I, out: Collector<O>) => void) {}

  processBatch(batch: Batch<I>, ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const fn = this.fn
    const c = this.collector
    c.out = out
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          c.time = times[i]
          fn(records[i], c)
        }
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
    }
  }
}
