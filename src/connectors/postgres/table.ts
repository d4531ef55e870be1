/**
 * The target table as the PostgreSQL sink sees it: quoted names, the columns it writes and how
 * each JS value becomes a column value, the CREATE TABLE inferred from a record, and the one
 * INSERT (or upsert) that moves rows from a JSON array of rows into the table.
 *
 * Rows travel as one JSON text per chunk, `[[v1, v2, …], …]` in column order, and the server
 * casts each `(row->>i)` to the column's type. One parameter per chunk, never a value in SQL.
 * The chunk is read as jsonb, parsed once: as json, every `->>` parses its row again (measured
 * on 6 columns: jsonb ~1.5× the rows/s for the same client CPU).
 */
import type pg from 'pg'

/** A quoted SQL identifier: `"order ""lines"""`. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** The table option: `name` or `schema.name`, as the user wrote it (unquoted). */
export interface TableName {
  readonly schema: string | null
  readonly name: string
}

export function parseTableName(text: string): TableName {
  const dot = text.indexOf('.')
  return dot < 0 ? { schema: null, name: text } : { schema: text.slice(0, dot), name: text.slice(dot + 1) }
}

/** How a column takes JS values. */
export type ColumnKind = 'int' | 'float' | 'numeric' | 'bool' | 'text' | 'json' | 'timestamp' | 'date' | 'uuid' | 'bytea' | 'other'

/** A column of the target as the catalog describes it. */
export interface ColumnInfo {
  readonly name: string
  /** The type without modifiers (`character varying`), for the cast; the modifier is applied on assignment. */
  readonly baseType: string
  readonly kind: ColumnKind
  readonly notNull: boolean
  /** Longest string for `varchar(n)` / `char(n)`; null when unbounded. */
  readonly maxChars: number | null
  /** Range for integer columns. */
  readonly min: number
  readonly max: number
}

const KIND_BY_TYPE: Record<string, ColumnKind> = {
  int2: 'int', int4: 'int', int8: 'int', float4: 'float', float8: 'float', numeric: 'numeric', bool: 'bool',
  text: 'text', varchar: 'text', bpchar: 'text', name: 'text', citext: 'text', json: 'json', jsonb: 'json',
  timestamp: 'timestamp', timestamptz: 'timestamp', date: 'date', uuid: 'uuid', bytea: 'bytea',
}
const INT_RANGE: Record<string, readonly [number, number]> = {
  int2: [-32768, 32767], int4: [-2147483648, 2147483647], int8: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
}

/**
 * The table's columns, or null when it does not exist. `qualified` is the quoted name; `to_regclass`
 * resolves it as the server would in a query (search_path included).
 */
export async function readColumns(client: pg.Client, qualified: string): Promise<Map<string, ColumnInfo> | null> {
  // The table first, then its columns by oid: asked the other way round, a table another writer
  // creates between the two queries looked like a table without columns.
  const found = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [qualified])
  const oid = found.rows[0]?.oid ?? null
  if (oid === null) return null
  const res = await client.query<{ name: string; typname: string; base: string; notnull: boolean; typmod: number }>(
    `SELECT a.attname AS name, t.typname, format_type(a.atttypid, NULL) AS base, a.attnotnull AS notnull, a.atttypmod AS typmod
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  )
  const columns = new Map<string, ColumnInfo>()
  for (const r of res.rows) {
    const range = INT_RANGE[r.typname] ?? [0, 0]
    const bounded = (r.typname === 'varchar' || r.typname === 'bpchar') && r.typmod > 4
    columns.set(r.name, {
      name: r.name, baseType: r.base, kind: KIND_BY_TYPE[r.typname] ?? 'other', notNull: r.notnull,
      maxChars: bounded ? r.typmod - 4 : null, min: range[0], max: range[1],
    })
  }
  return columns
}

/** True when a unique index (or primary key) covers exactly `key`, as ON CONFLICT (key) needs. */
export async function hasUniqueIndexOn(client: pg.Client, qualified: string, key: readonly string[]): Promise<boolean> {
  const res = await client.query<{ cols: string[] }>(
    `SELECT array(SELECT a.attname::text FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k) AS cols
       FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL`,
    [qualified],
  )
  const want = [...key].sort().join('\u0000')
  return res.rows.some((r) => [...r.cols].sort().join('\u0000') === want)
}

/** Returned by `encode` for a value the column cannot take; `explain` then says why. */
export const BAD: unique symbol = Symbol('bad value')

/**
 * The JSON value a record's field becomes for its column, or BAD. Nested values of json columns
 * are checked when the chunk is stringified (cycles, BigInts, NUL characters).
 */
export function encode(c: ColumnInfo, v: unknown): unknown {
  if (v === null) return c.notNull ? BAD : null
  switch (c.kind) {
    case 'int':
      if (typeof v === 'number') return Number.isInteger(v) && v >= c.min && v <= c.max ? v : BAD
      if (typeof v === 'bigint') return c.max === Number.MAX_SAFE_INTEGER && v >= -(2n ** 63n) && v < 2n ** 63n ? v.toString() : BAD
      return BAD
    case 'float':
      return typeof v === 'number' && Number.isFinite(v) ? v : BAD
    case 'numeric':
      if (typeof v === 'number') return Number.isFinite(v) ? v : BAD
      if (typeof v === 'bigint') return v.toString()
      return typeof v === 'string' && NUMERIC.test(v) ? v : BAD
    case 'bool':
      return typeof v === 'boolean' ? v : BAD
    case 'text':
      return typeof v === 'string' && (c.maxChars === null || v.length <= c.maxChars || [...v].length <= c.maxChars) ? v : BAD
    case 'json':
      return v === undefined || typeof v === 'function' || typeof v === 'symbol' ? BAD : v
    case 'timestamp':
    case 'date':
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? BAD : v.toISOString()
      if (typeof v === 'number' && c.kind === 'timestamp') return Number.isFinite(v) && Math.abs(v) <= 8.64e15 ? new Date(v).toISOString() : BAD
      return typeof v === 'string' && ISO_DATE.test(v) ? v : BAD
    case 'uuid':
      return typeof v === 'string' && UUID.test(v) ? v : BAD
    case 'bytea':
      return v instanceof Uint8Array ? `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}` : BAD
    case 'other':
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : BAD
  }
}

const NUMERIC = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

/** Why `encode` refused `v`, for the bad-record report. */
export function explain(c: ColumnInfo, v: unknown): string {
  if (v === undefined) return `the record has no field "${c.name}" (a column the sink writes)`
  if (v === null) return `column "${c.name}" is NOT NULL, the record's value is null`
  const what = v instanceof Date ? 'an invalid Date' : typeof v === 'string' ? `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}` : `${typeof v} ${String(v).slice(0, 40)}`
  const wants: Record<ColumnKind, string> = {
    int: `a whole number from ${c.min} to ${c.max}`, float: 'a finite number', numeric: 'a finite number or a numeric string', bool: 'a boolean',
    text: c.maxChars === null ? 'a string' : `a string of at most ${c.maxChars} characters`, json: 'a JSON value',
    timestamp: 'a Date, epoch milliseconds or an ISO 8601 string', date: 'a Date or an ISO 8601 date string', uuid: 'a UUID string',
    bytea: 'a Uint8Array', other: 'a string, number or boolean in the type\'s text form',
  }
  return `column "${c.name}" (${c.baseType}) takes ${wants[c.kind]}, got ${what}`
}

/**
 * The column type `createTable` gives a field, from its value in the first record. Numbers are
 * `double precision` (a JS number is a double; a field that is 3 now may be 3.5 later).
 */
export function inferType(v: unknown): string {
  if (typeof v === 'number') return 'double precision'
  if (typeof v === 'bigint') return 'bigint'
  if (typeof v === 'string') return 'text'
  if (typeof v === 'boolean') return 'boolean'
  if (v instanceof Date) return 'timestamptz'
  if (v instanceof Uint8Array) return 'bytea'
  return 'jsonb'
}

/** CREATE TABLE for `columns` typed from `record`, with the key as primary key. */
export function createTableSql(qualified: string, columns: readonly string[], key: readonly string[], record: Record<string, unknown>): string {
  const defs = columns.map((c) => `${ident(c)} ${inferType(record[c])}${key.includes(c) ? ' NOT NULL' : ''}`)
  if (key.length > 0) defs.push(`PRIMARY KEY (${key.map(ident).join(', ')})`)
  return `CREATE TABLE ${qualified} (${defs.join(', ')})`
}

/** `(e.v->>i)::type`, or for json columns the value itself with JSON null as SQL NULL. */
function castOf(c: ColumnInfo, i: number): string {
  if (c.baseType === 'jsonb') return `NULLIF(e.v->${i}, 'null'::jsonb)`
  if (c.baseType === 'json') return `NULLIF(e.v->${i}, 'null'::jsonb)::json`
  return `(e.v->>${i})::${c.baseType}`
}

/**
 * The statement that writes the rows of `from` (a FROM clause yielding `e(v, n)`, each row and
 * its place in its chunk, and `s.seq`, the chunk's order) into the table: a plain INSERT in the rows' order, or for upsert the last row of each
 * key (ON CONFLICT … DO UPDATE), locking keys in key order so parallel writers cannot deadlock.
 */
export function moveSql(qualified: string, columns: readonly ColumnInfo[], key: readonly string[] | null, from: string): string {
  const names = columns.map((c) => ident(c.name)).join(', ')
  const typed = columns.map((c, i) => `${castOf(c, i)} AS ${ident(c.name)}`).join(', ')
  if (key === null) return `INSERT INTO ${qualified} (${names}) SELECT ${typed} FROM ${from} ORDER BY s.seq, e.n`
  const k = key.map(ident).join(', ')
  const rest = columns.filter((c) => !key.includes(c.name))
  const action = rest.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${rest.map((c) => `${ident(c.name)} = EXCLUDED.${ident(c.name)}`).join(', ')}`
  return `INSERT INTO ${qualified} (${names}) SELECT ${names} FROM (SELECT DISTINCT ON (${k}) ${names} FROM (SELECT ${typed}, s.seq AS __sluice_seq, e.n AS __sluice_n FROM ${from}) r ORDER BY ${k}, __sluice_seq DESC, __sluice_n DESC) u ON CONFLICT (${k}) ${action}`
}
