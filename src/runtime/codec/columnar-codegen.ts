/**
 * Loops specialised per schema, compiled once with `new Function`. Field names are known only at
 * run time; a loop reading `record[name]` with a variable name would make every property load
 * megamorphic. Generated code reads `record["price"]` (a monomorphic named load) and decodes with
 * an object literal, so every decoded record gets the same hidden class. Names are embedded with
 * JSON.stringify, which always yields a valid, inert JavaScript string literal.
 */
import type { SchemaField } from './schema.ts'
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

/** Loads field `v` of record `i`, after the record check; a failed check returns `i`. */
function loadValue(field: SchemaField, check: RecordCheck): string {
  let prelude = ''
  if (check !== null) {
    prelude = 'if (typeof r !== "object" || r === null) return i\n    '
    if (check.exactNames !== null) {
      prelude += `let c = 0
    for (const k in r) {
      if (k !== names[c]) return i
      c++
    }
    if (c !== ${check.exactNames.length}) return i
    `
    }
  }
  return `const r = records[i]\n    ${prelude}const v = r[${JSON.stringify(field.name)}]\n`
}

/** Constants the loop needs: the names of an exact-shape check. */
function constants(check: RecordCheck): string {
  return check !== null && check.exactNames !== null ? `const names = ${JSON.stringify(check.exactNames)}\n` : ''
}

export function compileFixedWriter(field: SchemaField, check: RecordCheck): FixedColumnWriter {
  let test: string
  let store: string
  switch (field.type) {
    case 'number': test = 'typeof v === "number"'; store = 'v'; break
    // (v | 0) === v accepts exactly the int32 values (and -0, stored as 0).
    case 'int': test = 'typeof v === "number" && (v | 0) === v'; store = 'v'; break
    case 'boolean': test = 'typeof v === "boolean"'; store = 'v ? 1 : 0'; break
    default: throw new Error(`not a fixed-width type: ${field.type}`)
  }
  const onNull = field.nullable
    ? `if (v === null || v === undefined) {
      view[base + i] = 0
      bits[bitBase + (i >> 3)] |= 1 << (i & 7)
      continue
    }
    `
    : ''
  const body = `${constants(check)}
  for (let i = 0; i < n; i++) {
    ${loadValue(field, check)}    ${onNull}if (!(${test})) return i
    view[base + i] = ${store}
  }
  return -1`
  return new Function('records', 'n', 'view', 'base', 'bits', 'bitBase', body) as FixedColumnWriter
}

export function compileStringWriter(field: SchemaField, check: RecordCheck): StringColumnWriter {
  const onNull = field.nullable
    ? `if (v === null || v === undefined) {
      idx[base + i] = -1
      continue
    }
    `
    : ''
  const loop = (add: string): string => `
  for (let i = 0; i < n; i++) {
    ${loadValue(field, check)}    ${onNull}if (typeof v !== "string") return i
    idx[base + i] = dict.${add}(v)
  }
  return -1`
  const body = `${constants(check)}
  if (direct) {${loop('addDirect')}
  }${loop('add')}`
  return new Function('records', 'n', 'idx', 'base', 'dict', 'direct', body) as StringColumnWriter
}

export function compileRecordsBuilder(fields: readonly SchemaField[]): RecordsBuilder {
  const locals: string[] = []
  const pre: string[] = []
  const props: string[] = []
  fields.forEach((f, k) => {
    locals.push(`const v${k} = vals[${k}], a${k} = aux[${k}]`)
    const isNull = `(a${k}[i >> 3] & (1 << (i & 7))) !== 0`
    let expr: string
    switch (f.type) {
      case 'number':
      case 'int':
        expr = f.nullable ? `${isNull} ? null : v${k}[i]` : `v${k}[i]`
        break
      case 'boolean':
        expr = f.nullable ? `${isNull} ? null : v${k}[i] !== 0` : `v${k}[i] !== 0`
        break
      case 'string':
        pre.push(`const x${k} = v${k}[i]`)
        expr = f.nullable ? `x${k} < 0 ? null : a${k}[x${k}]` : `a${k}[x${k}]`
        break
    }
    props.push(`${JSON.stringify(f.name)}: ${expr}`)
  })
  const body = `
  ${locals.join('\n  ')}
  for (let i = 0; i < n; i++) {
    ${pre.join('\n    ')}
    records[i] = {
      ${props.join(',\n      ')}
    }
  }`
  return new Function('n', 'vals', 'aux', 'records', body) as RecordsBuilder
}
