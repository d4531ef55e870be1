/**
 * The PostgreSQL sink: inserts or upserts records into a table, exactly-once through a staging
 * table and a fenced progress row (see docs/connectors/postgres.md for the scheme).
 *
 * Why not two-phase commit: PREPARE TRANSACTION needs max_prepared_transactions > 0, which is 0
 * by default and needs a server restart to change. Staged rows in an ordinary table survive a
 * crash just as well, and moving them in one transaction with the progress row makes the
 * commit atomic and idempotent.
 */
import { SluiceError } from '../../errors.ts'
import { ConnectionTracker } from '../broker.ts'
import { rejecterFor } from '../line-encoder.ts'
import type { Sink, SinkCommit, SinkContext } from '../spi.ts'
import { ConnectorUri } from '../uri.ts'
import { checkConnectionString, connect, describeConnection, type Connection } from './connect.ts'
import { ident, parseTableName } from './table.ts'
import { PostgresSinkWriter, checkCommit } from './postgres-writer.ts'
import type { WriterSetup } from './staging.ts'

export interface PostgresSinkOptions {
  /** A `postgres://USER[:PASS]@HOST:PORT/DB` URI or a `pg` ClientConfig. */
  readonly connection: Connection
  /** The target table: `name` or `schema.name` (unquoted, case kept). */
  readonly table: string
  /** 'insert' (default) adds every record; 'upsert' inserts or updates by `key`. */
  readonly mode?: 'insert' | 'upsert'
  /** Key columns: required for upsert (the table needs a unique index on them); the primary key of a created table. */
  readonly key?: readonly string[]
  /** Columns written, from the record's fields of the same names. Default: the first record's fields. */
  readonly columns?: readonly string[]
  /** Create a missing table with column types inferred from the first record. Default false: a missing table is CONNECTOR_NOT_FOUND. */
  readonly createTable?: boolean
  /**
   * Default true: records are staged and reach the table when their checkpoint commits (or, in a
   * job without checkpoints, at the end of input). False: batched INSERTs straight into the table,
   * at-least-once across a recovery.
   */
  readonly exactlyOnce?: boolean
  /** Rows sent per statement (a staged chunk or a direct INSERT). Default 4000. */
  readonly batchRows?: number
  /** Connecting gives up after this long with CONNECTOR_UNREACHABLE. Default 10 000. */
  readonly connectTimeoutMs?: number
}

/** What a pre-commit staged: rows of `epoch` up to chunk `seq`, for checkpoint `ckpt` of the sink writing `table`. */
export type PostgresCommit = { readonly table: string; readonly ckpt: number; readonly epoch: number; readonly seq: number }

/**
 * A sink writing records as rows of a PostgreSQL table.
 *
 * @example
 * ```ts
 * declare const hot: Stream<{ auction: number; num: number }>
 * hot.to('q5', postgresSink({
 *   connection: 'postgres://root@127.0.0.1:5432/test', table: 'q5', mode: 'upsert', key: ['auction'], createTable: true,
 * }))
 * ```
 */
export function postgresSink<T = Record<string, unknown>>(options: PostgresSinkOptions): PostgresSink<T> {
  return new PostgresSink<T>(options)
}

/**
 * The sink from a URI: `postgres://USER[:PASS]@HOST:PORT/DB?table=NAME&mode=upsert&key=a,b&create=true`,
 * also `columns=a,b,c`, `exactlyOnce=false`, `batchRows=N` and `connectTimeoutMs=N`.
 *
 * @example
 * ```ts
 * postgresSinkFromUri('postgres://root@127.0.0.1:5432/test?table=q5&mode=upsert&key=auction&create=true')
 * ```
 */
export function postgresSinkFromUri<T = Record<string, unknown>>(uri: string): PostgresSink<T> {
  const u = new ConnectorUri(uri, 'postgres', 5432)
  const database = u.requireName('database')
  const table = u.string('table')
  if (table === undefined) throw new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${u.text}": parameter "table" is required, e.g. ?table=results`)
  const list = (k: string): string[] | undefined => u.string(k)?.split(',').map((s) => s.trim())
  const options: PostgresSinkOptions = {
    connection: { host: u.host, port: u.port, database, ...(u.user === null ? {} : { user: u.user }), ...(u.password === null ? {} : { password: u.password }) },
    table, mode: u.oneOf('mode', ['insert', 'upsert'] as const), key: list('key'), columns: list('columns'),
    createTable: u.bool('create'), exactlyOnce: u.bool('exactlyOnce'), connectTimeoutMs: u.int('connectTimeoutMs', 1, 600_000), batchRows: u.int('batchRows', 1, 1_000_000),
  }
  u.done()
  return new PostgresSink<T>(options, u.text)
}

export class PostgresSink<T> implements Sink<T> {
  readonly kind = 'postgres'
  /** Each subtask has its own staged rows and progress row, so exactly-once holds per subtask. */
  readonly parallel = true
  readonly exactlyOnce: boolean
  private readonly where: string
  private readonly mode: 'insert' | 'upsert'

  constructor(private readonly options: PostgresSinkOptions, where?: string) {
    const bad = (why: string): SluiceError => new SluiceError('CONNECTOR_OPTION_INVALID', `postgresSink: ${why}`)
    if (typeof options.connection === 'string') checkConnectionString(options.connection)
    this.where = where ?? describeConnection(options.connection)
    if (typeof options.table !== 'string' || options.table === '' || parseTableName(options.table).name === '') throw bad('table must name a table, e.g. table: \'results\' or \'analytics.results\'')
    this.mode = options.mode ?? 'insert'
    if (this.mode !== 'insert' && this.mode !== 'upsert') throw bad(`mode must be 'insert' or 'upsert', got ${JSON.stringify(options.mode)}`)
    const key = options.key ?? []
    if (this.mode === 'upsert' && key.length === 0) throw bad('mode \'upsert\' needs key: the columns of the table\'s primary key or unique index, e.g. key: [\'id\']')
    checkNames('key', key, bad)
    if (options.columns !== undefined) {
      if (options.columns.length === 0) throw bad('columns must name at least one column (or leave it out to take the first record\'s fields)')
      checkNames('columns', options.columns, bad)
      const missing = key.filter((k) => !options.columns?.includes(k))
      if (missing.length > 0) throw bad(`the key column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} must be among columns`)
    }
    if (options.batchRows !== undefined && !(Number.isSafeInteger(options.batchRows) && options.batchRows >= 1)) throw bad(`batchRows must be a whole number >= 1, got ${options.batchRows}`)
    this.exactlyOnce = options.exactlyOnce ?? true
  }

  /**
   * Connects, and for exactly-once takes over this subtask's progress row (a new epoch fences any
   * older writer), commits `recoverFrom` if that had not happened, and drops everything staged
   * after it. A plain start (no `recoverFrom`) drops everything staged.
   */
  async open(ctx: SinkContext, recoverFrom?: SinkCommit | null): Promise<PostgresSinkWriter<T>> {
    const o = this.options
    const tracker = new ConnectionTracker()
    const timeoutMs = o.connectTimeoutMs ?? 10_000
    const client = await connect(o.connection, {
      applicationName: `sluice ${ctx.sinkId}/${ctx.subtaskIndex}`.slice(0, 63),
      connectTimeoutMs: timeoutMs,
      onError: (e) => tracker.set('failed', e.message),
    })
    try {
      const table = parseTableName(o.table)
      const schema = table.schema ?? (await client.query<{ s: string }>('SELECT current_schema() AS s')).rows[0].s
      const setup: WriterSetup = {
        client, tracker, where: this.where, sinkId: ctx.sinkId, subtask: ctx.subtaskIndex,
        qualified: `${ident(schema)}.${ident(table.name)}`, target: `${schema}.${table.name}`,
        stage: `${ident(schema)}.sluice_stage`, progress: `${ident(schema)}.sluice_progress`,
        upsertKey: this.mode === 'upsert' ? [...(o.key ?? [])] : null, key: [...(o.key ?? [])],
        columns: o.columns === undefined ? null : [...o.columns], createTable: o.createTable === true,
        exactlyOnce: this.exactlyOnce, batchRows: o.batchRows ?? 4000, reject: rejecterFor(ctx, `${this.where} table ${o.table}`),
      }
      // A direct writer's commit ({ table }) holds nothing to redo: nothing was staged.
      const staged = recoverFrom !== undefined && recoverFrom !== null && this.exactlyOnce && !(recoverFrom.table === setup.target && recoverFrom.epoch === undefined)
      const commit = staged ? checkCommit(setup.target, recoverFrom, 'recover from') : null
      return await PostgresSinkWriter.open<T>(setup, recoverFrom === undefined ? 'start' : commit)
    } catch (e) {
      await client.end().catch(() => undefined)
      throw e
    }
  }
}

function checkNames(what: string, names: readonly string[], bad: (why: string) => SluiceError): void {
  for (const n of names) if (typeof n !== 'string' || n === '') throw bad(`${what} must be non-empty column names, got ${JSON.stringify(names)}`)
  if (new Set(names).size !== names.length) throw bad(`${what} names a column twice: ${JSON.stringify(names)}`)
}
