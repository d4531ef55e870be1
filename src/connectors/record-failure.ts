/**
 * A call's answer that fails one record on its own: `failRecord(cause)` in the place of that
 * record's result (an entry of a batch's array, a single record's result, a lookup table's value).
 *
 * It lives in connectors/, below operators/, so that lookup tables (`postgresLookup`,
 * `redisLookup`) can answer it for a key; the asynchronous operators import it through
 * operators/async/record-failure.ts. One class either way: the operators match it by instanceof.
 */

/** What `failRecord` returns: the record it stands for goes through the operator's onError with `cause`, and is not retried. */
export class RecordFailure {
  constructor(readonly cause: unknown) {}
}

/**
 * Fails one record of an asynchronous call without failing the others: return it in the place of
 * that record's result. The record goes through the operator's `onError` (fail, skip, or the
 * dead-letter sink with `cause` as the reason) and is **not** retried: use it for a record the
 * service refuses (a malformed text, a key the table cannot hold), and throw (or reject) for a
 * failure a retry may cure (a timeout, a lost connection).
 * @example
 * ```ts
 * declare const texts: Stream<{ id: number; text: string }>
 * const lengths = texts.mapAsyncBatch('measure', async (batch) =>
 *   batch.map((t) => (t.text.length > 1000 ? failRecord(new Error(`text ${t.id} is too long`)) : t.text.length)),
 *   { maxBatch: 100, maxWaitMs: 10 })
 * ```
 */
export function failRecord(cause: unknown): RecordFailure {
  return new RecordFailure(cause)
}
