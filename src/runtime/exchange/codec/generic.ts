/**
 * The generic codec: batches of any plain-data records, through msgpackr's record extension.
 *
 * A batch whose records are all flat objects of one shape (numbers, strings, booleans) takes a
 * faster path instead: columnar, with the inferred schema inline (codec id 3, inferred-schema.ts).
 * That path also keeps -0 and lone surrogates. Only the first record's prototype is checked (it
 * must be Object.prototype or null); later records need the same own properties in the same
 * order, and any class instance among them decodes as a plain object, as through msgpackr (which
 * would call its toJSON, though). The rest of this comment is about msgpackr batches.
 *
 * ```
 * header (16 bytes) and times column: see header.ts (header bytes 12-15: payload length)
 * then the MessagePack payload: one array of the n records, padded to a multiple of 8
 * ```
 * No shared structures: msgpackr writes each object shape's field names once per payload and
 * refers to it after that, so every batch is self-describing and the decoding thread needs no
 * state from the encoding one.
 *
 * What round-trips (tested in generic.test.ts): null, undefined (also as a property value),
 * booleans, numbers including NaN and ±Infinity, strings, nested plain objects (property order
 * kept), arrays, Date (to the millisecond, invalid dates too), Map, Set, RegExp, Error (name and
 * message), bigint (any size), typed arrays, ArrayBuffer.
 * What does not:
 * - -0 decodes as 0 (MessagePack writes it as the integer 0);
 * - a lone surrogate in a string decodes as U+FFFD characters (the columnar codec keeps it);
 * - class instances decode as plain objects (own enumerable properties; the prototype is lost);
 * - holes in sparse arrays decode as undefined;
 * - shared references are copied and cycles are not supported.
 * Functions and symbols are rejected with a CodecError naming the record and property.
 */
import type { Options, Packr, Unpackr } from 'msgpackr'
import { msgpackr } from './msgpackr.ts'
import { describeCause, reasonOf, SluiceError } from '../../../errors.ts'
import type { Batch } from '../../../operators/types.ts'
import type { BatchCodec } from './batch-codec.ts'
import { CodecError, corruptBatch, describeValue } from './codec-error.ts'
import {
  CODEC_GENERIC, CODEC_INFERRED, HEADER_BYTES, MAX_BATCH_BYTES, align8, bodyOffset, readHeader, readTimes, writeHeader, writeTimes,
} from './header.ts'
import { InlineSchemaDecoders, ShapeInference } from './inferred-schema.ts'
import { Scratch, alignedView } from './scratch.ts'

/** After a batch whose first record's shape did not hold for all, batches that skip inference. */
const INFERENCE_BACKOFF_BATCHES = 16

const OPTIONS: Options = {
  useRecords: true,
  // Typed arrays, Set, Error, RegExp and big bigints keep their type instead of degrading.
  moreTypes: true,
  // Decoded binary must not point into the ring, which the producer overwrites.
  copyBuffers: true,
  writeFunction: () => {
    throw new SluiceError('RECORD_FAILED', 'a function cannot cross threads; send plain data')
  },
}

/**
 * Encodes batches of arbitrary plain-data records (streams without a schema). The bytes `encode`
 * returns are a view of a reused scratch buffer, valid until the next `encode`.
 *
 * @example
 * const codec = new GenericCodec<NexmarkEvent>()
 * const bytes = codec.encode({ records: events, times })
 * const copy = codec.decode(bytes)   // deep copies, same property order
 */
export class GenericCodec<T> implements BatchCodec<T> {
  readonly id = CODEC_GENERIC
  /** Made on the first batch that needs them (flat records never do): see msgpackr.ts. */
  private packr: Packr | null = null
  private unpackr: Unpackr | null = null
  private readonly scratch = new Scratch()
  private readonly shapes = new ShapeInference(this.scratch)
  private readonly inline = new InlineSchemaDecoders()
  private inferenceBackoff = 0
  private readonly inferFlatRecords: boolean

  /** `inferFlatRecords: false` sends every batch through msgpackr (default true). */
  constructor(options: { inferFlatRecords?: boolean } = {}) {
    this.inferFlatRecords = options.inferFlatRecords !== false
  }

  encode(batch: Batch<T>): Uint8Array {
    const records = batch.records
    const n = records.length
    if (batch.times.length < n) {
      throw new CodecError('INTERNAL', `batch has ${n} records but only ${batch.times.length} times`, -1, null)
    }
    if (this.inferenceBackoff > 0) this.inferenceBackoff--
    else if (n > 0 && this.inferFlatRecords) {
      const shape = this.shapes.shapeOf(records[0])
      if (shape !== null) {
        try {
          return shape.codec.encodeWith(batch as Batch<unknown>, CODEC_INFERRED, shape.section, shape.section.byteLength)
        } catch (e) {
          // A record of another shape: this batch (and the next few) go through msgpackr.
          if (!(e instanceof CodecError) || e.recordIndex < 0) throw e
          this.inferenceBackoff = INFERENCE_BACKOFF_BATCHES
        }
      }
    }
    let payload: Uint8Array
    try {
      payload = this.packer().pack(records)
    } catch (e) {
      throw this.locate(records, e)
    }
    const s = this.scratch
    s.startBatch()
    const end = align8(HEADER_BYTES + 8 * n + payload.length)
    if (end > MAX_BATCH_BYTES) {
      throw new CodecError('INTERNAL', `a batch of ${n} records needs ${end} bytes, more than the 4 GiB a batch can hold; use smaller batches`, -1, null)
    }
    s.reserve(end, 0)
    const untimed = writeTimes(s.f64, batch.times, n)
    const pos = untimed ? HEADER_BYTES : HEADER_BYTES + 8 * n
    s.u8.set(payload, pos)
    const used = align8(pos + payload.length)
    s.zero(pos + payload.length, used)
    writeHeader(s.u8, s.u32, CODEC_GENERIC, untimed, n, used, payload.length)
    return s.u8.subarray(0, used)
  }

  decode(input: Uint8Array): Batch<T> {
    const h = readHeader(input)
    if (h.codecId === CODEC_INFERRED) return this.inline.decode(input, h) as Batch<T>
    if (h.codecId !== CODEC_GENERIC) throw corruptBatch(`codec id ${h.codecId} is not the generic codec (${CODEC_GENERIC})`)
    const bytes = alignedView(input, h.byteLength)
    const start = bodyOffset(h)
    const payloadEnd = start + h.extra
    if (payloadEnd > h.byteLength) throw corruptBatch(`the payload runs past the end of the batch`)
    let records: unknown
    try {
      records = (this.unpackr ??= new (msgpackr().Unpackr)(OPTIONS)).unpack(bytes.subarray(start, payloadEnd))
    } catch (e) {
      throw new CodecError('INTERNAL', `not a valid encoded batch: ${describeCause(e)}`, -1, null, { cause: e })
    }
    if (!Array.isArray(records) || records.length !== h.count) {
      throw corruptBatch(`the payload does not hold ${h.count} records`)
    }
    return { records: records as T[], times: readTimes(bytes, h) }
  }

  private packer(): Packr {
    return (this.packr ??= new (msgpackr().Packr)(OPTIONS))
  }

  /** After a failed pack: finds the first record (and property) that cannot be encoded. */
  private locate(records: readonly T[], cause: unknown): CodecError {
    for (let i = 0; i < records.length; i++) {
      const r: unknown = records[i]
      const why = this.tryPack(r)
      if (why === null) continue
      if (typeof r === 'object' && r !== null && !Array.isArray(r)) {
        for (const key of Object.keys(r)) {
          const v = (r as Record<string, unknown>)[key]
          const inner = this.tryPack(v)
          if (inner !== null) {
            return new CodecError('RECORD_FAILED', `cannot encode record ${i}, property "${key}" (${describeValue(v)}): ${reasonOf(inner)}`,
              i, key, { cause: inner })
          }
        }
      }
      return new CodecError('RECORD_FAILED', `cannot encode record ${i} (${describeValue(r)}): ${reasonOf(why)}`, i, null, { cause: why })
    }
    return new CodecError('RECORD_FAILED', `cannot encode the batch: ${reasonOf(cause)}`, -1, null, { cause })
  }

  private tryPack(v: unknown): unknown {
    try {
      this.packer().pack(v)
      return null
    } catch (e) {
      return e
    }
  }
}
