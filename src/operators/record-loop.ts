/**
 * The per-batch record loop with the error policy, shared by every operator that runs user code
 * per record. The operator's own loop stays a plain indexed loop over a range of the batch (no
 * closure, no call through a shared function per record: a call site shared by a dozen operators
 * is megamorphic, and V8 could no longer inline the operator's per-record work into its loop).
 * This function owns what was copied into each operator: when record `at` throws, the error
 * policy decides (ctx.recordFailed rethrows under 'fail'; 'skip' and 'dead-letter' count it), and
 * the loop resumes after it.
 */
import { SluiceError } from '../errors.ts'
import type { Batch, OperatorContext, Output } from './types.ts'

/** An operator's per-record work over a range of its input batch. */
export interface RecordLoop<T, O> {
  /** The index of the record being processed: the loop sets it before each record. */
  at: number
  /**
   * Processes records [from, end) of the batch from input `input`, setting `at` to each record's
   * index before working on it. Returns normally when done; throws when a record fails.
   */
  records(batch: Batch<T>, from: number, ctx: OperatorContext, out: Output<O>, input: number): void
}

/**
 * Runs `loop` over the whole batch; a record that throws goes to the error policy and the loop
 * goes on from the next one. Costs one call per batch plus one per failed record.
 *
 * @example
 * processBatch(batch, ctx, out, input) { forEachRecord(this, batch, ctx, out, input) }
 * records(batch, from, ctx, out) {
 *   const { records, times } = batch
 *   for (let i = from; i < records.length; i++) {
 *     this.at = i
 *     out.emit(this.fn(records[i]), times[i])
 *   }
 * }
 */
export function forEachRecord<T, O>(loop: RecordLoop<T, O>, batch: Batch<T>, ctx: OperatorContext, out: Output<O>, input: number): void {
  const n = batch.records.length
  let from = 0
  while (from < n) {
    loop.at = from
    try {
      loop.records(batch, from, ctx, out, input)
      return
    } catch (e) {
      const failed = loop.at
      ctx.recordFailed(batch.records[failed], e, failed)
      from = failed + 1
    }
  }
}

/**
 * The error of a record without event time (no watermark strategy upstream) at an event-time
 * window or join; thrown inside the record loop, so the error policy handles it.
 */
export function noEventTime(): SluiceError {
  return new SluiceError('RECORD_NO_EVENT_TIME', 'record has no event time (its source has no watermark strategy), so an event-time window or join cannot place it')
}
