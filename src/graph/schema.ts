/**
 * A declared record schema: the fields of a stream's records, in order, with their types. A stream
 * with a schema crosses threads through the columnar codec (`columnar.ts`), which is an order of
 * magnitude faster than encoding arbitrary objects.
 *
 * Records are flat: each field holds a number, a 32-bit integer, a string or a boolean, optionally
 * null. Nested objects, arrays, dates and bigints need the generic codec (no schema).
 */
import { SluiceError } from '../errors.ts'

/** 'number' is a float64, 'int' a signed 32-bit integer (checked when encoding). */
export type FieldType = 'number' | 'int' | 'string' | 'boolean'

/** The long form of a field: `{ type: 'string', nullable: true }`. */
export interface FieldOptions {
  readonly type: FieldType
  /** Allows `null` (and `undefined`, which decodes as `null`). Default false. */
  readonly nullable?: boolean
}

export type FieldSpec = FieldType | FieldOptions

/** What `recordSchema` takes: field names to types, in the order the records should have. */
export type SchemaSpec = { readonly [name: string]: FieldSpec }

/** One field of a schema, normalised. */
export interface SchemaField {
  readonly name: string
  readonly type: FieldType
  readonly nullable: boolean
}

/**
 * A validated, frozen schema for records of type `T`. Both sides of a channel build the same schema
 * (the job module runs in every thread), so encoded batches carry only its `fingerprint`.
 */
export interface RecordSchema<T> {
  readonly kind: 'record-schema'
  /** In declaration order (which is also the property order of decoded records). */
  readonly fields: readonly SchemaField[]
  /** A 32-bit hash of names, types and nullability; a decoder rejects batches of another schema. */
  readonly fingerprint: number
  /** Phantom field carrying the record type; never set. */
  readonly __record?: T
}

/** The TypeScript type of a field of type `F` ('number' and 'int': number, …). */
export type ValueOfType<F> = F extends 'number' | 'int' ? number
  : F extends 'string' ? string
    : F extends 'boolean' ? boolean
      : never

/** The TypeScript type of a field declared as `F` (a type, or `{ type, nullable }`). */
export type ValueOfSpec<F> = F extends FieldType ? ValueOfType<F>
  : F extends { readonly type: infer X; readonly nullable: true } ? ValueOfType<X> | null
    : F extends { readonly type: infer X } ? ValueOfType<X>
      : never

/** The record type a spec describes: `{ price: 'number', note: { type: 'string', nullable: true } }` → `{ price: number; note: string | null }`. */
export type InferRecord<S extends SchemaSpec> = { -readonly [K in keyof S]: ValueOfSpec<S[K]> }

const FIELD_TYPES: readonly FieldType[] = ['number', 'int', 'string', 'boolean']
const FIELD_OPTION_KEYS = ['type', 'nullable']

/**
 * Declares the schema of a stream's records. Field order is the object's key order (as JavaScript
 * enumerates it: integer-like names such as "1" come first).
 *
 * @example
 * ```ts
 * const bidSchema = recordSchema({
 *   auction: 'number', bidder: 'number', price: 'number', channel: 'string',
 *   flag: 'boolean', note: { type: 'string', nullable: true },
 * })
 * // RecordSchema<{ auction: number; bidder: number; price: number; channel: string; flag: boolean; note: string | null }>
 *
 * // Check a schema against an existing interface:
 * const s: RecordSchema<Bid> = recordSchema({ auction: 'int', bidder: 'int', price: 'int', channel: 'string', url: 'string', dateTime: 'number', extra: 'string' })
 * ```
 */
export function recordSchema<const S extends SchemaSpec>(spec: S): RecordSchema<InferRecord<S>> {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw invalid(`recordSchema() takes an object of field names to types, got ${typeof spec === 'object' ? String(spec) : typeof spec}`)
  }
  const names = Object.keys(spec)
  if (names.length === 0) throw invalid('a record schema needs at least one field')
  const fields: SchemaField[] = []
  for (const name of names) fields.push(Object.freeze(normaliseField(name, spec[name])))
  const frozen = Object.freeze(fields)
  return Object.freeze({ kind: 'record-schema', fields: frozen, fingerprint: fingerprintOf(frozen) })
}

/** True for a value built by `recordSchema`. */
export function isRecordSchema(x: unknown): x is RecordSchema<unknown> {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'record-schema'
}

function normaliseField(name: string, spec: unknown): SchemaField {
  if (name === '') throw invalid('field names must not be empty')
  // Decoders build records from object literals, where "__proto__" would set the prototype.
  if (name === '__proto__') throw invalid('"__proto__" cannot be a field name')
  if (typeof spec === 'string') return { name, type: checkType(name, spec), nullable: false }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw invalid(`field "${name}": expected a type name (${FIELD_TYPES.join(', ')}) or { type, nullable }, got ${describeSpec(spec)}`)
  }
  for (const key of Object.keys(spec)) {
    if (!FIELD_OPTION_KEYS.includes(key)) throw invalid(`field "${name}": unknown option "${key}"; a field takes { type, nullable }`)
  }
  const o = spec as { type?: unknown; nullable?: unknown }
  if (o.nullable !== undefined && typeof o.nullable !== 'boolean') {
    throw invalid(`field "${name}": nullable must be true or false, got ${describeSpec(o.nullable)}`)
  }
  return { name, type: checkType(name, o.type), nullable: o.nullable === true }
}

function checkType(name: string, type: unknown): FieldType {
  if (typeof type === 'string' && (FIELD_TYPES as readonly string[]).includes(type)) return type as FieldType
  const hint = type === 'object' || type === 'array'
    ? '; records are flat, so nested values need the generic codec (a stream without a schema)'
    : ''
  throw invalid(`field "${name}": unknown type ${describeSpec(type)}; use one of ${FIELD_TYPES.join(', ')}${hint}`)
}

function describeSpec(x: unknown): string {
  return typeof x === 'string' ? JSON.stringify(x) : x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x
}

function invalid(message: string): SluiceError {
  return new SluiceError('SCHEMA_INVALID', message)
}

/** FNV-1a over each field's name, type and nullability. */
function fingerprintOf(fields: readonly SchemaField[]): number {
  let h = 0x811c9dc5
  for (const f of fields) {
    const s = `${f.name}\u0000${f.type}\u0000${f.nullable ? 1 : 0}\u0001`
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
  }
  return h >>> 0
}
