import { describe, expect, it } from 'vitest'
import { CODEC_COLUMNAR, CODEC_GENERIC, CODEC_INFERRED, CodecError, ColumnarCodec, GenericCodec, codecFor, decodeAny, readHeader, recordSchema } from './index.ts'

describe('codecFor and decodeAny', () => {
  const schema = recordSchema({ id: 'int', name: 'string' })
  const batch = { records: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }], times: [10, 20] }

  it('picks the columnar codec for a schema and the generic one otherwise', () => {
    const columnar = codecFor(schema)
    const generic = codecFor<{ id: number; name: string }>()
    expect(columnar).toBeInstanceOf(ColumnarCodec)
    expect(columnar.id).toBe(CODEC_COLUMNAR)
    expect(generic).toBeInstanceOf(GenericCodec)
    expect(generic.id).toBe(CODEC_GENERIC)
    expect(readHeader(columnar.encode(batch))).toMatchObject({ codecId: CODEC_COLUMNAR, count: 2 })
    // Flat records of one shape take the generic codec's columnar path; others go through msgpackr.
    expect(readHeader(generic.encode(batch))).toMatchObject({ codecId: CODEC_INFERRED, count: 2 })
    expect(readHeader(codecFor().encode({ records: [{ a: [1] }], times: [0] }))).toMatchObject({ codecId: CODEC_GENERIC, count: 1 })
  })

  it('dispatches on the codec id in the header', () => {
    expect(decodeAny(codecFor(schema).encode(batch), schema)).toStrictEqual(batch)
    expect(decodeAny(codecFor().encode(batch))).toStrictEqual(batch)
    const nested = { records: [{ a: [1], b: { c: null } }], times: [0] }
    expect(decodeAny(codecFor().encode(nested))).toStrictEqual(nested)
    // A schema given for a generic batch is not needed and does no harm.
    expect(decodeAny(codecFor().encode(batch), schema)).toStrictEqual(batch)
  })

  it('needs the schema for a columnar batch, and the same one', () => {
    const bytes = codecFor(schema).encode(batch).slice()
    expect(() => decodeAny(bytes)).toThrow(/can only be decoded with its schema/)
    expect(() => decodeAny(bytes, recordSchema({ id: 'number', name: 'string' }))).toThrow(/another schema/)
  })

  it('rejects unknown codec ids', () => {
    const bytes = codecFor(schema).encode(batch).slice()
    bytes[2] = 9
    expect(() => decodeAny(bytes, schema)).toThrow(CodecError)
    expect(() => decodeAny(bytes, schema)).toThrow(/unknown codec id 9/)
  })
})
