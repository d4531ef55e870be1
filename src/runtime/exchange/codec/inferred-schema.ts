/**
 * The generic codec's fast path: when every record of a batch is a flat plain object of one shape
 * (same properties in the same order, each a number, string or boolean), the batch is encoded by
 * the columnar codec with the schema written inline, so it stays self-describing. Shuffled
 * records are mostly like that (bids, window results, join outputs), and columnar encoding is ~2×
 * faster than msgpackr on them.
 *
 * ```
 * header (codec id 3; bytes 12-15: byte length of the schema section) and times: see header.ts
 * schema section: u32 field count, then per field u8 type (1 number, 2 int, 3 string, 4 boolean),
 *                 u8 nullable, u16 name length, the name in UTF-8; padded to a multiple of 8
 * columns: as in columnar.ts
 * ```
 */
import type { Batch } from '../../../operators/types.ts'
import { corruptBatch, CodecError } from './codec-error.ts'
import { ColumnarCodec } from './columnar.ts'
import { align8, bodyOffset, type BatchHeader } from './header.ts'
import { recordSchema, type FieldType, type RecordSchema, type SchemaField } from '../../../graph/schema.ts'
import type { Scratch } from './scratch.ts'
import { nodeBytes } from './utf8.ts'

/** Wider records go through msgpackr. */
const MAX_FIELDS = 64
/** Shapes (and inline schemas) remembered per codec; a stream has a handful. */
const MAX_CACHED = 32

const TYPE_CODES: Readonly<Record<FieldType, number>> = { number: 1, int: 2, string: 3, boolean: 4 }
const TYPES_BY_CODE: readonly (FieldType | undefined)[] = [undefined, 'number', 'int', 'string', 'boolean']

/** An inferred shape: the columnar codec for it and its schema section. */
export interface InferredShape {
  readonly names: readonly string[]
  /** typeof of each field, in order. */
  readonly types: readonly string[]
  readonly codec: ColumnarCodec<unknown>
  readonly section: Uint8Array
}

/** Encoder side: the shape of a batch's first record, if it has a flat one. */
export class ShapeInference {
  private last: InferredShape | null = null
  private readonly shapes = new Map<string, InferredShape>()

  constructor(private readonly scratch: Scratch) {}

  /**
   * The flat shape of `r`, or null. Every other record of the batch is then checked against it
   * while encoding (the codecs are built with exactShape).
   */
  shapeOf(r: unknown): InferredShape | null {
    if (typeof r !== 'object' || r === null) return null
    const proto: unknown = Object.getPrototypeOf(r)
    if (proto !== Object.prototype && proto !== null) return null
    const last = this.last
    if (last !== null && hasShape(r as Record<string, unknown>, last)) return last
    const names = Object.keys(r)
    if (names.length === 0 || names.length > MAX_FIELDS) return null
    const types: string[] = []
    let key = ''
    for (const name of names) {
      const t = typeof (r as Record<string, unknown>)[name]
      if ((t !== 'number' && t !== 'string' && t !== 'boolean') || name === '' || name === '__proto__') return null
      types.push(t)
      key += `${t[0]}${name.length}:${name};`
    }
    let shape = this.shapes.get(key)
    if (shape === undefined) {
      if (this.shapes.size >= MAX_CACHED) this.shapes.clear()
      const spec: Record<string, FieldType> = {}
      names.forEach((name, i) => { spec[name] = types[i] as FieldType })
      const schema = recordSchema(spec) as unknown as RecordSchema<unknown>
      shape = { names, types, codec: new ColumnarCodec(schema, { exactShape: true, scratch: this.scratch }), section: writeSection(schema.fields) }
      this.shapes.set(key, shape)
    }
    this.last = shape
    return shape
  }
}

function hasShape(r: Record<string, unknown>, shape: InferredShape): boolean {
  const names = shape.names
  let i = 0
  for (const k in r) {
    if (k !== names[i] || typeof r[k] !== shape.types[i]) return false
    i++
  }
  return i === names.length
}

function writeSection(fields: readonly SchemaField[]): Uint8Array {
  const encoder = new TextEncoder()
  const names = fields.map((f) => encoder.encode(f.name))
  let size = 4
  for (const n of names) size += 4 + n.byteLength
  const section = new Uint8Array(align8(size))
  const dv = new DataView(section.buffer)
  dv.setUint32(0, fields.length, true)
  let pos = 4
  fields.forEach((f, i) => {
    if (names[i].byteLength > 0xffff) throw new CodecError('RECORD_FAILED', `property name of ${names[i].byteLength} bytes is too long for a columnar batch`, 0, f.name)
    section[pos] = TYPE_CODES[f.type]
    section[pos + 1] = f.nullable ? 1 : 0
    dv.setUint16(pos + 2, names[i].byteLength, true)
    section.set(names[i], pos + 4)
    pos += 4 + names[i].byteLength
  })
  return section
}

/** Decoder side: columnar codecs for the inline schemas seen, keyed by the section's bytes. */
export class InlineSchemaDecoders {
  private readonly codecs = new Map<string, ColumnarCodec<unknown>>()

  decode(input: Uint8Array, h: BatchHeader): Batch<unknown> {
    const start = bodyOffset(h)
    const length = h.extra
    if (length < 8 || (length & 7) !== 0 || start + length > h.byteLength) throw corruptBatch('bad inline schema section length')
    const key = nodeBytes(input.buffer, input.byteOffset + start, length).latin1Slice(0, length)
    let codec = this.codecs.get(key)
    if (codec === undefined) {
      if (this.codecs.size >= MAX_CACHED) this.codecs.clear()
      codec = new ColumnarCodec(readSection(input.subarray(start, start + length)))
      this.codecs.set(key, codec)
    }
    return codec.decodeBody(input, h, length)
  }
}

function readSection(section: Uint8Array): RecordSchema<unknown> {
  const dv = new DataView(section.buffer, section.byteOffset, section.byteLength)
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const count = dv.getUint32(0, true)
  const spec: Record<string, { type: FieldType; nullable: boolean }> = {}
  let pos = 4
  for (let i = 0; i < count; i++) {
    if (pos + 4 > section.byteLength) throw corruptBatch('inline schema section is truncated')
    const type = TYPES_BY_CODE[section[pos]]
    const length = dv.getUint16(pos + 2, true)
    if (type === undefined || pos + 4 + length > section.byteLength) throw corruptBatch('bad inline schema field')
    spec[decoder.decode(section.subarray(pos + 4, pos + 4 + length))] = { type, nullable: section[pos + 1] === 1 }
    pos += 4 + length
  }
  let schema: RecordSchema<unknown>
  try {
    schema = recordSchema(spec) as unknown as RecordSchema<unknown>
  } catch (e) {
    throw corruptBatch(`bad inline schema: ${(e as Error).message}`)
  }
  if (schema.fields.length !== count) throw corruptBatch('bad inline schema: duplicate field names')
  return schema
}
