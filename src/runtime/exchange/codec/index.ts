/**
 * Batch codecs for crossing threads: columnar for streams with a declared schema, generic
 * (msgpackr records) otherwise. Every encoded batch starts with the same header (header.ts) naming
 * its codec, so a receiver can dispatch on it.
 *
 * A columnar batch is decoded with the schema both sides declared (the job module runs in every
 * thread and builds the same graph); its header carries the schema's fingerprint, not the field
 * list, which saves parsing a field list per batch and keeps decoders specialised per schema.
 * A generic batch needs nothing but its bytes: msgpackr records are self-describing, and a batch
 * of flat records of one shape carries its inferred schema inline (codec id 3).
 */
import type { Batch } from '../../../operators/types.ts'
import type { BatchCodec } from './batch-codec.ts'
import { CodecError } from './codec-error.ts'
import { ColumnarCodec } from './columnar.ts'
import { GenericCodec } from './generic.ts'
import { CODEC_COLUMNAR, CODEC_GENERIC, CODEC_INFERRED, readHeader } from './header.ts'
import type { RecordSchema } from '../../../graph/schema.ts'

export type { BatchCodec } from './batch-codec.ts'
export { CodecError } from './codec-error.ts'
export { ColumnarCodec } from './columnar.ts'
export { GenericCodec } from './generic.ts'
export { CODEC_COLUMNAR, CODEC_GENERIC, CODEC_INFERRED, readHeader, type BatchHeader } from './header.ts'
export { recordSchema, isRecordSchema, type FieldType, type FieldOptions, type FieldSpec, type SchemaSpec, type SchemaField, type RecordSchema, type InferRecord } from '../../../graph/schema.ts'

/**
 * A new codec for a stream: columnar when it has a schema, generic otherwise. Each channel end
 * should own its codec (an encoder reuses its scratch buffer).
 *
 * @example
 * const out = codecFor(bidSchema)     // ColumnarCodec<Bid>
 * const any = codecFor<NexmarkEvent>() // GenericCodec<NexmarkEvent>
 */
export function codecFor<T>(schema?: RecordSchema<T>): BatchCodec<T> {
  return schema === undefined ? new GenericCodec<T>() : new ColumnarCodec<T>(schema)
}

let generic: GenericCodec<unknown> | null = null
const columnar = new WeakMap<RecordSchema<unknown>, ColumnarCodec<unknown>>()

/**
 * Decodes any encoded batch by the codec id in its header. A columnar batch needs its `schema`
 * (checked against the fingerprint in the header); a generic one needs none. Decoders are cached
 * per schema in this thread (decoding keeps no state between calls).
 *
 * @example
 * const batch = decodeAny(message.payload, channelSchema)
 */
export function decodeAny<T = unknown>(bytes: Uint8Array, schema?: RecordSchema<T>): Batch<T> {
  const { codecId } = readHeader(bytes)
  switch (codecId) {
    case CODEC_GENERIC:
    case CODEC_INFERRED:
      generic ??= new GenericCodec<unknown>()
      return generic.decode(bytes) as Batch<T>
    case CODEC_COLUMNAR: {
      if (schema === undefined) {
        throw new CodecError('INTERNAL', 'a columnar batch can only be decoded with its schema; pass the schema the encoder used', -1, null)
      }
      let codec = columnar.get(schema)
      if (codec === undefined) {
        codec = new ColumnarCodec<unknown>(schema)
        columnar.set(schema, codec)
      }
      return codec.decode(bytes) as Batch<T>
    }
    default:
      throw new CodecError('INTERNAL', `not a valid encoded batch: unknown codec id ${codecId}`, -1, null)
  }
}
