import type { Batch, Operator, OperatorContext, Output } from './types.ts'

export class FilterOperator<T> implements Operator<T, T> {
  /** Lets the planner fuse consecutive stateless operators into one loop (runtime/fusion.ts). */
  readonly fusable = 'filter' as const

  constructor(readonly predicate: (value: T) => boolean) {}

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<T>): void {
    const { records, times } = batch
    const n = records.length
    const pred = this.predicate
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) if (pred(records[i])) out.emit(records[i], times[i])
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
    }
  }
}
