import type { Batch, Operator, OperatorContext, Output } from './types.ts'

/**
 * Applies `fn` to each record. The loop restarts after a failed record so one bad record costs a
 * try/catch re-entry, not a per-record closure; the error policy decides whether it rethrows.
 */
export class MapOperator<I, O> implements Operator<I, O> {
  /** Lets the planner fuse consecutive stateless operators into one loop (runtime/fusion.ts). */
  readonly fusable = 'map' as const

  constructor(readonly fn: (value: I) => O) {}

  processBatch(batch: Batch<I>, ctx: OperatorContext, out: Output<O>): void {
    const { records, times } = batch
    const n = records.length
    const fn = this.fn
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) out.emit(fn(records[i]), times[i])
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
    }
  }
}
