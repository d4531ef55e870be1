/**
 * A PostgreSQL table as a lookup join's table: one query per call for all its keys, over a pool of
 * connections shared by the subtasks that use the adapter.
 *
 * The query is `… WHERE key = ANY($1)` (an index on the key column serves it) joined with the
 * keys' positions (`unnest($1) WITH ORDINALITY`): rows are matched to keys by the server's own
 * equality, so a bigint key that comes back as a string, a uuid in another case or a padded
 * char(n) still finds its key. The keys are one array parameter, cast to the key column's type;
 * names are quoted; no value is ever written into the SQL.
 *
 * A key the column's type cannot hold fails the whole array parameter (SQLSTATE class 22), and
 * the server does not say which key: the keys are then asked again in halves, down to the keys
 * that fail alone, so with b bad keys among n a call runs about 2·b·log2(n) queries, and none more
 * when every key fits.
 */
import { SharedClient } from '../shared-client.ts'
import type pg from 'pg'
import { describeCause, SluiceError } from '../../errors.ts'
import { postgresLibrary } from '../client-libraries.ts'
import { failRecord, type RecordFailure } from '../record-failure.ts'
import { CancellableConnection, type CancelTarget } from './cancellable-connection.ts'
import { checkConnectionString, connectError, describeConnection, type Connection } from './connect.ts'
import { ident, parseTableName } from './table.ts'

export interface PostgresLookupOptions {
  /** A `postgres://USER[:PASS]@HOST:PORT/DB` URI or a `pg` ClientConfig, as `postgresSink` takes. */
  readonly connection: Connection
  /** The table (or view): `name` or `schema.name`, unquoted, case kept. */
  readonly table: string
  /** The column the keys are compared with; it should be unique (a primary key or unique index): of several rows per key one is taken. */
  readonly keyColumn: string
  /** The columns of the value. Default: all of the table's. */
  readonly columns?: readonly string[]
  /** Connections at most, 1..1000, shared by every subtask using this adapter. Default 8. */
  readonly poolSize?: number
  /** Connecting gives up after this long with CONNECTOR_UNREACHABLE. Default 10 000. */
  readonly connectTimeoutMs?: number
}

/**
 * A lookup table over a PostgreSQL table: `lookupJoin`'s value for a key is the row whose
 * `keyColumn` equals it, as an object of `columns` (undefined when there is none). Values come as
 * `pg` returns them (bigint and numeric as strings, json parsed, timestamps as Dates).
 *
 * The first `open` starts a pool of `poolSize` connections and checks that the table and the
 * columns exist (CONNECTOR_NOT_FOUND naming the ones it has); the last `close` ends it. A key the
 * key column cannot hold ('abc' or 99999999999 for an integer column) fails only the records with
 * that key (`failRecord` with RECORD_FAILED, not retried); the call's other keys are answered. A
 * failed query rejects the call with a coded error naming the table and the cause (SOURCE_IO, or
 * CONNECTOR_UNREACHABLE, CONNECTOR_NOT_FOUND); messages never carry the password. When the
 * operator abandons a call (`timeoutMs`, or the job stops) its query is cancelled on the server,
 * so it does not hold a connection of the pool to its end.
 *
 * @example
 * ```ts
 * interface Customer { id: number; name: string; tier: string }
 * const customers = postgresLookup<Customer, number>({
 *   connection: 'postgres://root@127.0.0.1:5432/test', table: 'customers', keyColumn: 'id', columns: ['id', 'name', 'tier'],
 * })
 * ```
 */
// Without type arguments the value is a row object. A generic V with a default would be inferred
// from where the call stands (lookupJoin's parameter) and come out as undefined.
export function postgresLookup(options: PostgresLookupOptions): PostgresLookup<unknown, Record<string, unknown>>
export function postgresLookup<V, K = unknown>(options: PostgresLookupOptions): PostgresLookup<K, V>
export function postgresLookup<V, K = unknown>(options: PostgresLookupOptions): PostgresLookup<K, V> {
  return new PostgresLookup<K, V>(options)
}

/** The prepared query: quoted names and the key column's type from the catalog. */
interface Prepared {
  readonly pool: pg.Pool
  readonly sql: string
  /** Where a CancelRequest for one of the pool's connections goes. */
  readonly cancel: CancelTarget
}

export class PostgresLookup<K, V> {
  /** "postgres table users at postgres://root@127.0.0.1:5432/test", for messages. */
  readonly name: string
  private readonly where: string
  private readonly password: string | null
  private readonly client = new SharedClient<Prepared>(() => this.start(), (p) => p.pool.end().catch(() => undefined))

  constructor(private readonly options: PostgresLookupOptions) {
    const bad = (why: string): SluiceError => new SluiceError('CONNECTOR_OPTION_INVALID', `postgresLookup: ${why}`)
    if (options === null || typeof options !== 'object') throw bad('options must be an object { connection, table, keyColumn }')
    if (typeof options.connection === 'string') checkConnectionString(options.connection)
    else if (options.connection === null || typeof options.connection !== 'object') throw bad('connection must be a postgres:// URI or a pg ClientConfig')
    const table = typeof options.table === 'string' ? parseTableName(options.table) : null
    if (table === null || !isName(table.name) || (table.schema !== null && !isName(table.schema))) throw bad(`table must name a table, e.g. table: 'customers' or 'crm.customers', got ${JSON.stringify(options.table)}`)
    if (!isName(options.keyColumn)) throw bad(`keyColumn must name the column the keys are compared with, e.g. keyColumn: 'id', got ${JSON.stringify(options.keyColumn)}`)
    if (options.columns !== undefined) {
      if (!Array.isArray(options.columns) || options.columns.length === 0 || !options.columns.every(isName)) throw bad(`columns must be a non-empty list of column names (or left out for all), got ${JSON.stringify(options.columns)}`)
      if (new Set(options.columns).size !== options.columns.length) throw bad(`columns names a column twice: ${JSON.stringify(options.columns)}`)
    }
    const pool = options.poolSize
    if (pool !== undefined && !(Number.isSafeInteger(pool) && pool >= 1 && pool <= 1000)) throw bad(`poolSize must be a whole number from 1 to 1000, got ${pool}`)
    this.where = describeConnection(options.connection)
    this.password = passwordOf(options.connection)
    this.name = `postgres table ${options.table} at ${this.where}`
  }

  /** Starts the pool on the first open (the others wait for it) and checks the table. */
  async open(): Promise<void> {
    await this.client.acquire()
  }

  /** Ends the pool when the last opener closes. */
  async close(): Promise<void> {
    await this.client.release()
  }

  /**
   * The row of each key, in order; undefined where there is none; a RecordFailure (RECORD_FAILED
   * naming the key column and the cause) for a key the column cannot hold, the other keys answered.
   * Any other failure rejects the call.
   *
   * `call` is the operator's CallContext: when its signal aborts, `get` rejects at once with the
   * signal's reason and the running query is cancelled on the server; an already aborted signal
   * rejects without a query.
   */
  async get(keys: readonly K[], call?: { readonly signal: AbortSignal }): Promise<(V | undefined | RecordFailure)[]> {
    const p = this.client.current
    if (p === null) throw new SluiceError('INTERNAL', `postgresLookup: get() on ${this.name} before open() (or after the last close())`)
    const out: (V | undefined | RecordFailure)[] = new Array(keys.length).fill(undefined)
    if (keys.length === 0) return out
    // Read once: the operator makes a call's signal only when it is first asked for.
    const signal = call?.signal ?? null
    if (signal === null) {
      await this.lookUp(p, keys, out, null)
      return out
    }
    signal.throwIfAborted()
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      // After an abort the lookup goes on until its query is cancelled; what it ends with is ignored.
      this.lookUp(p, keys, out, signal).then(
        () => {
          signal.removeEventListener('abort', onAbort)
          resolve(out)
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(e)
        },
      )
    })
  }

  /** Fills `out` over one connection of the pool, its queries one after another. */
  private async lookUp(p: Prepared, keys: readonly K[], out: (V | undefined | RecordFailure)[], signal: AbortSignal | null): Promise<void> {
    let connection: CancellableConnection
    try {
      connection = await CancellableConnection.take(p.pool, signal, p.cancel)
    } catch (e) {
      throw this.queryError(e)
    }
    let sound = true
    try {
      await this.fill(p, connection, keys, 0, keys.length, out, false)
    } catch (e) {
      // A query ended by the call's cancel leaves its connection sound; other failures may not.
      sound = signal?.aborted === true
      throw this.queryError(e)
    } finally {
      await connection.release(sound)
    }
  }

  /**
   * Fills out[from, to) with the rows of keys[from, to). A key the column cannot hold fails the
   * whole query (class 22), so the keys are asked again in halves, down to the keys that fail
   * alone. `failing`: these keys are known to fail if asked together (they are the right half of
   * a range that failed, whose left half did not), so they are split without being asked whole.
   * Resolves false when a key of the range failed.
   */
  private async fill(p: Prepared, connection: CancellableConnection, keys: readonly K[], from: number, to: number, out: (V | undefined | RecordFailure)[], failing: boolean): Promise<boolean> {
    if (!failing || to - from === 1) {
      try {
        this.place(await connection.query({ text: p.sql, values: [from === 0 && to === keys.length ? keys : keys.slice(from, to)], rowMode: 'array' }), from, out)
        return true
      } catch (e) {
        if (!isKeyError(e)) throw e
        if (to - from === 1) {
          out[from] = failRecord(this.queryError(e))
          return false
        }
      }
    }
    const mid = from + ((to - from) >> 1)
    const leftAnswered = await this.fill(p, connection, keys, from, mid, out, false)
    await this.fill(p, connection, keys, mid, to, out, leftAnswered)
    return false
  }

  /** Puts each row of `res` at its key's place (`from` + its ordinality - 1); of several rows for one key, the first. */
  private place(res: pg.QueryArrayResult, from: number, out: (V | undefined | RecordFailure)[]): void {
    const names = res.fields.map((f) => f.name)
    for (const row of res.rows) {
      const at = from + Number(row[0]) - 1
      if (out[at] !== undefined) continue
      const value: Record<string, unknown> = {}
      for (let c = 1; c < names.length; c++) value[names[c]] = row[c]
      out[at] = value as V
    }
  }

  private async start(): Promise<Prepared> {
    const o = this.options
    const timeoutMs = o.connectTimeoutMs ?? 10_000
    const { Client, Pool } = await postgresLibrary.load()
    const base: pg.ClientConfig = typeof o.connection === 'string' ? { connectionString: o.connection } : o.connection
    const config: pg.ClientConfig = { connectionTimeoutMillis: timeoutMs, application_name: `sluice lookup ${o.table}`.slice(0, 63), ...base }
    const pool = new Pool({ ...config, max: o.poolSize ?? 8 })
    // An idle connection that drops emits 'error' on the pool; without a listener that would be
    // uncaught. The next query takes another connection (or fails, and says why).
    pool.on('error', () => undefined)
    try {
      const client = await pool.connect().catch((e: unknown) => {
        // connectError classifies by the driver's code; the message it quotes is masked first.
        throw connectError(this.where, e, timeoutMs, this.masked(describeCause(e)))
      })
      try {
        return { pool, sql: await this.prepare(client), cancel: { Client, config, timeoutMs } }
      } finally {
        client.release()
      }
    } catch (e) {
      await pool.end().catch(() => undefined)
      throw e
    }
  }

  /** Checks the table and columns against the catalog and builds the query. */
  private async prepare(client: pg.PoolClient): Promise<string> {
    const o = this.options
    const t = parseTableName(o.table)
    const qualified = t.schema === null ? ident(t.name) : `${ident(t.schema)}.${ident(t.name)}`
    let columns: Map<string, string>
    try {
      const found = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [qualified])
      const oid = found.rows[0]?.oid ?? null
      if (oid === null) throw new SluiceError('CONNECTOR_NOT_FOUND', `postgresLookup: table ${o.table} does not exist in ${this.where} (searched: ${t.schema ?? 'the search_path'}); create it or name another (table: 'schema.name')`)
      const res = await client.query<{ name: string; type: string }>(
        'SELECT attname AS name, format_type(atttypid, NULL) AS type FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
        [oid],
      )
      columns = new Map(res.rows.map((r) => [r.name, r.type]))
    } catch (e) {
      throw this.queryError(e)
    }
    const known = `it has ${[...columns.keys()].join(', ')}`
    const keyType = columns.get(o.keyColumn)
    if (keyType === undefined) throw new SluiceError('CONNECTOR_NOT_FOUND', `postgresLookup: ${this.name} has no column ${o.keyColumn} (keyColumn); ${known}`)
    const missing = (o.columns ?? []).filter((c) => !columns.has(c))
    if (missing.length > 0) throw new SluiceError('CONNECTOR_NOT_FOUND', `postgresLookup: ${this.name} has no column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (columns); ${known}`)
    const selected = o.columns === undefined ? 't.*' : o.columns.map((c) => `t.${ident(c)}`).join(', ')
    const key = `t.${ident(o.keyColumn)}`
    // keyType comes from the catalog (format_type quotes what needs it), never from a record.
    return `SELECT k.i, ${selected} FROM ${qualified} t JOIN unnest($1::${keyType}[]) WITH ORDINALITY AS k(v, i) ON ${key} = k.v WHERE ${key} = ANY($1::${keyType}[])`
  }

  private queryError(e: unknown): SluiceError {
    if (e instanceof SluiceError) return e
    const code = (e as { code?: unknown }).code
    const why = this.masked(describeCause(e))
    const what = `postgresLookup of ${this.name}`
    if (code === '42P01' || code === '42703') return new SluiceError('CONNECTOR_NOT_FOUND', `${what}: ${why}`, { cause: e })
    if (isKeyError(e)) return new SluiceError('RECORD_FAILED', `${what}: a key does not fit column ${this.options.keyColumn}: ${why}`, { cause: e })
    if ((typeof code === 'string' && /^(08|57P)/.test(code)) || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|timeout|terminated/i.test(why)) {
      return new SluiceError('CONNECTOR_UNREACHABLE', `${what}: lost the connection: ${why}`, { cause: e })
    }
    return new SluiceError('SOURCE_IO', `${what}: ${why}`, { cause: e })
  }

  /** `text` with the password (if any) replaced by "***": a driver message could quote it. */
  private masked(text: string): string {
    return this.password === null || this.password === '' ? text : text.split(this.password).join('***')
  }
}

/** SQLSTATE class 22, data exception: a value (here a key) its type cannot hold, such as 'abc' or 99999999999 for an integer. */
function isKeyError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code
  return !(e instanceof SluiceError) && typeof code === 'string' && code.startsWith('22')
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && !v.includes('\0')
}

function passwordOf(c: Connection): string | null {
  if (typeof c !== 'string') return typeof c.password === 'string' ? c.password : c.connectionString === undefined ? null : passwordOf(c.connectionString)
  try {
    const p = new URL(c).password
    return p === '' ? null : decodeURIComponent(p)
  } catch {
    return null
  }
}
