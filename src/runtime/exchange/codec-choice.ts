/**
 * The codec of one cross-thread channel end: column-wise for a stream that declared a schema,
 * otherwise the generic, self-describing one. Each end owns its codec (encoders reuse scratch).
 */
import { ColumnarCodec } from './codec/columnar.ts'
import { GenericCodec } from './codec/generic.ts'
import type { RecordSchema } from '../../graph/schema.ts'
import type { WireCodec } from './ring-channel.ts'

export function codecForWire(schema?: RecordSchema<unknown>): WireCodec {
  return schema === undefined ? new GenericCodec<unknown>() : new ColumnarCodec<unknown>(schema)
}
