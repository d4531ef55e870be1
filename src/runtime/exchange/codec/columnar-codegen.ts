/**
 * Column loops per schema field, built once as plain closures. Nothing here evaluates strings as
 * code (Sluice's security rule): a loop reads `record[name]` with the field's name as a variable,
 * and decoded records get their properties assigned in schema order, so every decoded record of
 * one schema still shares one hidden class (V8's transition tree is the same for all of them).
 */
import { SluiceError } from '../../../errors.ts'
import type { SchemaField } from '../../../graph/schema.ts'
import type { StringDictionary } from './string-dictionary.ts'

/**
 * Writes one fixed-width column (number, int, boolean): values into `view` from index `base`; for a
 * nullable field, a set bit at `bits[bitBase + (i >> 3)]` marks a null (the bitmap is zeroed first).
 * Returns -1, or the index of the first record that does not fit.
 */
export type FixedColumnWriter = (records: readonly unknown[], n: number, view: Float64Array | Int32Array | Uint8Array,
  base: number, bits: Uint8Array, bitBase: number) => number

/**
 * Writes one string column's dictionary indexes into `idx` from `base` (-1 for null), adding the
 * strings to `dict`. Returns -1, or the index of the first record that does not fit. In direct
 * mode every non-null string gets its own entry: cheaper than hashing when nearly all differ.
 */
export type StringColumnWriter = (records: readonly unknown[], n: number, idx: Int32Array, base: number,
  dict: StringDictionary, direct: boolean) => number

/**
 * Builds records from decoded columns: `vals[k]` is field k's typed array (dictionary indexes for
 * strings), `aux[k]` its null bitmap or string dictionary.
 */
export type RecordsBuilder = (n: number, vals: ArrayLike<number>[], aux: unknown[], records: unknown[]) => void

/**
 * What a column loop checks about each record besides its own field: nothing (every field but the
 * first), that it is an object, or also that its own enumerable keys are exactly `exactNames`, in
 * order (inferred schemas, where dropping or reordering a property would change the record).
 */
export type RecordCheck = null | { readonly exactNames: readonly string[] | null }

/** Returns -1 when record r passes the record check, else i. */
function checkRecord(r: unknown, i: number, check: RecordCheck): number {
  if (check === null) return -1
  if (typeof r !== 'object' || r === null) return i
  const names = check.exactNames
  if (names !== null) {
    let c = 0
    for (const k in r) {
      if (k !== names[c]) return i
      c++
    }
    if (c !== names.length) return i
  }
  return -1
}

export function compileFixedWriter(field: SchemaField, check: RecordCheck): FixedColumnWriter {
  const name = field.name
  const nullable = field.nullable
  const type = field.type
  if (type !== 'number' && type !== 'int' && type !== 'boolean') throw new SluiceError('INTERNAL', `not a fixed-width type: ${type}`)
  return (records, n, view, base, bits, bitBase) => {
    for (let i = 0; i < n; i++) {
      const r = records[i] as Record<string, unknown>
      if (check !== null && checkRecord(r, i, check) >= 0) return i
      const v = r[name]
      if (nullable && (v === null || v === undefined)) {
        view[base + i] = 0
        bits[bitBase + (i >> 3)] |= 1 << (i & 7)
        continue
      }
      if (type === 'boolean') {
        if (typeof v !== 'boolean') return i
        view[base + i] = v ? 1 : 0
      } else {
        // (v | 0) === v accepts exactly the int32 values (and -0, stored as 0).
        if (typeof v !== 'number' || (type === 'int' && (v | 0) !== v)) return i
        view[base + i] = v
      }
    }
    return -1
  }
}

export function compileStringWriter(field: SchemaField, check: RecordCheck): StringColumnWriter {
  const name = field.name
  const nullable = field.nullable
  return (records, n, idx, base, dict, direct) => {
    for (let i = 0; i < n; i++) {
      const r = records[i] as Record<string, unknown>
      if (check !== null && checkRecord(r, i, check) >= 0) return i
      const v = r[name]
      if (nullable && (v === null || v === undefined)) {
        idx[base + i] = -1
        continue
      }
      if (typeof v !== 'string') return i
      idx[base + i] = direct ? dict.addDirect(v) : dict.add(v)
    }
    return -1
  }
}

const KIND_NUMBER = 0
const KIND_BOOLEAN = 1
const KIND_STRING = 2

export function compileRecordsBuilder(fields: readonly SchemaField[]): RecordsBuilder {
  const names = fields.map((f) => f.name)
  const kinds = fields.map((f) => (f.type === 'string' ? KIND_STRING : f.type === 'boolean' ? KIND_BOOLEAN : KIND_NUMBER))
  const nullable = fields.map((f) => f.nullable)
  const m = fields.length
  return (n, vals, aux, records) => {
    for (let i = 0; i < n; i++) {
      const o: Record<string, unknown> = {}
      for (let k = 0; k < m; k++) {
        const v = vals[k]
        const a = aux[k]
        switch (kinds[k]) {
          case KIND_STRING: {
            const x = v[i]
            o[names[k]] = x < 0 ? null : (a as string[])[x]
            break
          }
          case KIND_BOOLEAN:
            o[names[k]] = nullable[k] && ((a as Uint8Array)[i >> 3] & (1 << (i & 7))) !== 0 ? null : v[i] !== 0
            break
          default:
            o[names[k]] = nullable[k] && ((a as Uint8Array)[i >> 3] & (1 << (i & 7))) !== 0 ? null : v[i]
        }
      }
      records[i] = o
    }
  }
}
