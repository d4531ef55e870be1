/**
 * The contract of a batch codec: a whole batch (records and their event times) to one contiguous
 * byte buffer and back, so batches can cross threads through a SharedArrayBuffer ring.
 */
import type { Batch } from '../../../operators/types.ts'

/**
 * Encodes and decodes batches of `T`. One instance per channel end: an encoder reuses a scratch
 * buffer, so the bytes `encode` returns stay valid only until its next `encode` call.
 *
 * @example
 * const codec = codecFor(bidSchema)
 * const bytes = codec.encode(batch)      // copy into the ring before the next encode
 * const copy = codec.decode(bytes)       // fresh records and times; `bytes` may be reused at once
 */
export interface BatchCodec<T> {
  /** The codec id in the batch headers it writes: 1 columnar, 2 generic (which writes 3 for batches of flat records of one shape). */
  readonly id: number
  /**
   * Encodes `batch.records` with the first `records.length` entries of `batch.times` (which may
   * be longer). Throws a CodecError naming the record for a record it cannot encode.
   */
  encode(batch: Batch<T>): Uint8Array
  /** Decodes a batch; the result shares no memory with `bytes`. */
  decode(bytes: Uint8Array): Batch<T>
}
