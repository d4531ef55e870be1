/**
 * An independent oracle for Sluice's Nexmark results: DuckDB runs the reference SQL (translated in
 * ./queries.ts) over an events file, and `compareResults` checks an engine's output against it.
 *
 * Events file: JSON Lines, one event a line, `{"event_type":0,"person":{…}}`,
 * `{"event_type":1,"auction":{…}}`, `{"event_type":2,"bid":{…}}`; timestamps epoch-ms numbers.
 * It is read with an explicit schema (no type inference), so a file without persons (or an
 * empty file) still yields well-typed, possibly empty, views person / auction / bid.
 *
 * Result values are plain JS values: BIGINT → number, DECIMAL → number, VARCHAR → string.
 */
import { DuckDBInstance } from '@duckdb/node-api'
import type { DuckDBConnection } from '@duckdb/node-api'
import { getOracleQuery, normalizeQueryName } from './queries.ts'
import type { OracleQuery } from './queries.ts'

export type ResultRow = Record<string, unknown>

const PERSON_STRUCT =
  'STRUCT(id BIGINT, name VARCHAR, "emailAddress" VARCHAR, "creditCard" VARCHAR, city VARCHAR, ' +
  'state VARCHAR, "dateTime" BIGINT, extra VARCHAR)'
const AUCTION_STRUCT =
  'STRUCT(id BIGINT, "itemName" VARCHAR, description VARCHAR, "initialBid" BIGINT, reserve BIGINT, ' +
  '"dateTime" BIGINT, expires BIGINT, seller BIGINT, category BIGINT, extra VARCHAR)'
const BID_STRUCT =
  'STRUCT(auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, ' +
  '"dateTime" BIGINT, extra VARCHAR)'

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`
}

function loadStatements(eventsPath: string): string[] {
  // Struct types are SQL strings inside the columns map, hence the quote doubling.
  const columns =
    `{event_type: 'INTEGER', person: ${sqlString(PERSON_STRUCT)}, ` +
    `auction: ${sqlString(AUCTION_STRUCT)}, bid: ${sqlString(BID_STRUCT)}}`
  return [
    `CREATE OR REPLACE TABLE nexmark_events AS
     SELECT event_type, person, auction, bid
     FROM read_json(${sqlString(eventsPath)}, format = 'newline_delimited', columns = ${columns})`,
    `CREATE OR REPLACE VIEW person AS
     SELECT e.person.id AS id, e.person.name AS name, e.person."emailAddress" AS "emailAddress",
            e.person."creditCard" AS "creditCard", e.person.city AS city, e.person.state AS state,
            e.person."dateTime" AS "dateTime", e.person.extra AS extra
     FROM nexmark_events e WHERE e.event_type = 0`,
    `CREATE OR REPLACE VIEW auction AS
     SELECT e.auction.id AS id, e.auction."itemName" AS "itemName", e.auction.description AS description,
            e.auction."initialBid" AS "initialBid", e.auction.reserve AS reserve,
            e.auction."dateTime" AS "dateTime", e.auction.expires AS expires, e.auction.seller AS seller,
            e.auction.category AS category, e.auction.extra AS extra
     FROM nexmark_events e WHERE e.event_type = 1`,
    `CREATE OR REPLACE VIEW bid AS
     SELECT e.bid.auction AS auction, e.bid.bidder AS bidder, e.bid.price AS price,
            e.bid.channel AS channel, e.bid.url AS url, e.bid."dateTime" AS "dateTime",
            e.bid.extra AS extra
     FROM nexmark_events e WHERE e.event_type = 2`,
  ]
}

/** A DuckDB value as returned by getColumnsJS → a plain JS value (bigint → number). */
function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const n = Number(v)
    if (!Number.isSafeInteger(n)) throw new Error(`oracle: integer ${v} is not exactly representable as a JS number`)
    return n
  }
  if (v instanceof Date) return v.getTime()
  return v
}

/** Loaded events; run any number of queries against them. Call close() when done. */
export interface OracleSession {
  run(query: string): Promise<ResultRow[]>
  close(): void
}

/** Loads `eventsPath` once into a fresh in-memory DuckDB instance. */
export async function openOracle(eventsPath: string): Promise<OracleSession> {
  const instance = await DuckDBInstance.create(':memory:')
  let con: DuckDBConnection | undefined
  try {
    con = await instance.connect()
    for (const stmt of loadStatements(eventsPath)) await con.run(stmt)
  } catch (err) {
    con?.closeSync()
    instance.closeSync()
    throw err
  }
  const connection = con
  return {
    async run(query: string): Promise<ResultRow[]> {
      const def = getOracleQuery(query)
      const reader = await connection.runAndReadAll(def.sql)
      // Column-wise conversion is several times faster than getRowObjectsJS on large results.
      const names = reader.columnNames()
      const columns = reader.getColumnsJS()
      const fieldColumns = def.fields.map((f) => {
        const i = names.indexOf(f)
        if (i < 0) throw new Error(`oracle ${def.name}: SQL result has no column '${f}' (got ${names.join(', ')})`)
        return columns[i]
      })
      const rowCount = reader.currentRowCount
      const rows: ResultRow[] = new Array<ResultRow>(rowCount)
      for (let r = 0; r < rowCount; r++) {
        const out: ResultRow = {}
        for (let c = 0; c < def.fields.length; c++) out[def.fields[c]] = toPlain(fieldColumns[c][r])
        rows[r] = out
      }
      return rows
    },
    close(): void {
      connection.closeSync()
      instance.closeSync()
    },
  }
}

/** Expected result of `query` (q0…q11, see ./queries.ts) over the events in `eventsPath`. */
export async function runOracle(query: string, eventsPath: string): Promise<Array<Record<string, unknown>>> {
  getOracleQuery(query) // fail fast on an unsupported query, before loading the file
  const session = await openOracle(eventsPath)
  try {
    return await session.run(query)
  } finally {
    session.close()
  }
}

/**
 * Expected results of several queries, loading the events once (one DuckDB instance). Keyed by
 * the normalised query name (`'4'` and `'Q4'` give key `'q4'`).
 */
export async function runOracleAll(
  queries: string[],
  eventsPath: string,
): Promise<Record<string, Array<Record<string, unknown>>>> {
  for (const q of queries) getOracleQuery(q)
  const session = await openOracle(eventsPath)
  try {
    const out: Record<string, Array<Record<string, unknown>>> = {}
    for (const q of queries) out[normalizeQueryName(q)] = await session.run(q)
    return out
  } finally {
    session.close()
  }
}

// ------------------------------------------------------------------------------------------------
// Comparison
// ------------------------------------------------------------------------------------------------

/** Relative tolerance on the `approxFields` of a query (q1 price, q4 final). */
export const RELATIVE_TOLERANCE = 1e-9
const MAX_LISTED = 10

const MISSING = Symbol('missing')

/** Normalises one field value for comparison: bigint → number, Date → epoch ms, absent → MISSING. */
function normalizeValue(v: unknown, approx: boolean): unknown {
  if (v === undefined) return MISSING
  if (typeof v === 'bigint') return Number(v)
  if (v instanceof Date) return v.getTime()
  // A decimal or average may be serialised as a numeric string; only for the approx fields.
  if (approx && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  return v
}

/** An unambiguous string encoding of one normalised value (type tag; strings length-prefixed). */
function keyPart(v: unknown): string {
  if (v === MISSING) return 'm'
  if (v === null) return 'z'
  switch (typeof v) {
    case 'number': return `n${String(v)};` // String(-0) === '0'
    case 'string': return `s${v.length}:${v}`
    case 'boolean': return v ? 'T' : 'F'
    default: {
      const json = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)) ?? String(v)
      return `o${json.length}:${json}`
    }
  }
}

/** Exact equality of two normalised values (NaN equals NaN, 0 equals -0). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b)
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return keyPart(a) === keyPart(b)
  return false
}

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x5bd1e995)
  return (h ^ (h >>> 15)) >>> 0
}

/** A 52-bit hash of the normalised values of `fields` (consistent with sameValue). */
function rowHash(row: Row, fields: readonly string[]): number {
  let h1 = 0x9e3779b9
  let h2 = 0x85ebca6b
  for (const f of fields) {
    const v = normalizeValue(row[f], false)
    if (typeof v === 'number') {
      f64[0] = v === 0 ? 0 : Number.isNaN(v) ? NaN : v
      h1 = mix(h1, u32[0] ^ 1)
      h2 = mix(h2, u32[1])
    } else if (typeof v === 'string') {
      h1 = mix(h1, 2)
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i)
        h1 = Math.imul(h1 ^ c, 16777619) >>> 0
        h2 = Math.imul(h2 + c, 0x27d4eb2d) >>> 0
      }
      h2 = mix(h2, v.length)
    } else {
      const k = keyPart(v)
      for (let i = 0; i < k.length; i++) h1 = Math.imul(h1 ^ k.charCodeAt(i), 16777619) >>> 0
      h2 = mix(h2, k.length + 3)
    }
  }
  return (h2 & 0xfffff) * 4294967296 + h1
}

function approxEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a === b) return true
    if (Number.isNaN(a) && Number.isNaN(b)) return true
    if (!Number.isFinite(a) || !Number.isFinite(b)) return false
    return Math.abs(a - b) <= RELATIVE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b))
  }
  return keyPart(a) === keyPart(b)
}

type Row = Record<string, unknown>

function formatRow(def: OracleQuery, row: Row): string {
  const parts = def.fields.map((f) => {
    const v = normalizeValue(row[f], false)
    const s = v === MISSING ? '<missing>' : typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
    return `${f}: ${s}`
  })
  return `{ ${parts.join(', ')} }`
}

/**
 * Compares an engine's result with the oracle's as MULTISETS: order is ignored, duplicates
 * count, and only the query's result fields are compared (other fields in `actual` are ignored;
 * a result field absent from a row is a difference). Values are normalised first (bigint →
 * number, Date → epoch ms). The query's approx fields (q1 price, q4 final; a numeric string is
 * accepted there) are compared with a relative tolerance of 1e-9; every other field exactly.
 * For q4 (an updating result) only the LAST row per `id` of `actual` is compared.
 */
export function compareResults(
  query: string,
  actual: Array<Record<string, unknown>>,
  expected: Array<Record<string, unknown>>,
): { equal: boolean; report: string } {
  const def = getOracleQuery(query)

  let actualRows = actual
  let note = ''
  if (def.lastRowPerKey !== undefined) {
    const key = def.lastRowPerKey
    const last = new Map<string, Row>()
    for (const row of actual) {
      const k = keyPart(normalizeValue(row[key], false))
      last.delete(k) // keep the map in order of each key's last appearance
      last.set(k, row)
    }
    actualRows = [...last.values()]
    note = ` (actual: ${actual.length} rows emitted, last row per ${key} kept: ${actualRows.length})`
  }

  const exactFields = def.fields.filter((f) => !def.approxFields.includes(f))
  const approxFields = def.approxFields
  const hasApprox = approxFields.length > 0

  const missing: Row[] = []
  const unexpected: Row[] = []
  let matched = 0
  let missingCount = 0
  let unexpectedCount = 0
  const addMissing = (row: Row, n = 1): void => {
    missingCount += n
    for (let i = 0; i < n && missing.length < MAX_LISTED; i++) missing.push(row)
  }
  const addUnexpected = (row: Row, n = 1): void => {
    unexpectedCount += n
    for (let i = 0; i < n && unexpected.length < MAX_LISTED; i++) unexpected.push(row)
  }

  // Group the rows of both sides by their exact fields (hash table with chaining; no per-row key
  // strings, which matters for million-row results). Rows of a group are equal on every exact
  // field; for queries without approx fields only the counts matter.
  interface Group { rep: Row; expN: number; actN: number; exp: Row[]; act: Row[]; next: Group | undefined }
  const groups = new Map<number, Group>()
  const sameExact = (a: Row, b: Row): boolean => {
    for (const f of exactFields) if (!sameValue(normalizeValue(a[f], false), normalizeValue(b[f], false))) return false
    return true
  }
  const groupOf = (row: Row): Group => {
    const h = rowHash(row, exactFields)
    const head = groups.get(h)
    for (let g = head; g !== undefined; g = g.next) if (sameExact(g.rep, row)) return g
    const g: Group = { rep: row, expN: 0, actN: 0, exp: [], act: [], next: head }
    groups.set(h, g)
    return g
  }
  for (const row of expected) {
    const g = groupOf(row)
    g.expN++
    if (hasApprox) g.exp.push(row)
  }
  for (const row of actualRows) {
    const g = groupOf(row)
    g.actN++
    if (hasApprox) g.act.push(row)
  }

  const approxVals = (row: Row): unknown[] => approxFields.map((f) => normalizeValue(row[f], true))
  for (const head of groups.values()) {
    for (let g: Group | undefined = head; g !== undefined; g = g.next) {
      if (!hasApprox) {
        const n = Math.min(g.expN, g.actN)
        matched += n
        if (g.expN > n) addMissing(g.rep, g.expN - n)
        if (g.actN > n) addUnexpected(g.rep, g.actN - n)
        continue
      }
      // Match the approx fields within the group: exact matches first, so that a tolerance
      // match cannot take an exact match's partner; then greedily within tolerance.
      const expVals = g.exp.map(approxVals)
      const used = new Array<boolean>(g.exp.length).fill(false)
      const rest: Array<{ row: Row; vals: unknown[] }> = []
      for (const row of g.act) {
        const vals = approxVals(row)
        const i = expVals.findIndex((e, j) => !used[j] && e.every((v, k) => sameValue(v, vals[k])))
        if (i < 0) rest.push({ row, vals })
        else {
          used[i] = true
          matched++
        }
      }
      for (const { row, vals } of rest) {
        const i = expVals.findIndex((e, j) => !used[j] && e.every((v, k) => approxEqual(v, vals[k])))
        if (i < 0) addUnexpected(row)
        else {
          used[i] = true
          matched++
        }
      }
      g.exp.forEach((row, j) => {
        if (!used[j]) addMissing(row)
      })
    }
  }

  const equal = missingCount === 0 && unexpectedCount === 0
  const lines: string[] = [
    `${def.name}: ${equal ? 'EQUAL' : 'DIFFERENT'} — expected ${expected.length} rows, ` +
      `actual ${actualRows.length} rows${note}; matched ${matched}, missing ${missingCount}, ` +
      `unexpected ${unexpectedCount}`,
  ]
  if (missingCount > 0) {
    lines.push(`missing (in expected, not in actual)${missingCount > MAX_LISTED ? `, first ${MAX_LISTED}` : ''}:`)
    for (const r of missing) lines.push(`  ${formatRow(def, r)}`)
  }
  if (unexpectedCount > 0) {
    lines.push(`unexpected (in actual, not in expected)${unexpectedCount > MAX_LISTED ? `, first ${MAX_LISTED}` : ''}:`)
    for (const r of unexpected) lines.push(`  ${formatRow(def, r)}`)
  }
  return { equal, report: lines.join('\n') }
}
