/**
 * The database side of the PostgreSQL sink's exactly-once scheme: the staging and progress
 * tables, moving staged chunks into the target (falling back to row by row when one row breaks a
 * constraint), transactions, and turning database errors into coded ones.
 */
import type pg from 'pg'
import { describeCause, isSluiceError, SluiceError } from '../../errors.ts'
import type { ConnectionTracker } from '../broker.ts'
import type { RejectRecord } from '../line-encoder.ts'
import { moveSql, readColumns, type ColumnInfo } from './table.ts'

/** What a writer knows about where and how it writes. */
export interface WriterSetup {
  readonly client: pg.Client
  readonly tracker: ConnectionTracker
  /** The server, for messages (no password). */
  readonly where: string
  readonly sinkId: string
  readonly subtask: number
  /** Quoted `"schema"."table"` for SQL; `schema.table` as the key of staged and progress rows. */
  readonly qualified: string
  readonly target: string
  readonly stage: string
  readonly progress: string
  readonly upsertKey: readonly string[] | null
  readonly key: readonly string[]
  readonly columns: readonly string[] | null
  readonly createTable: boolean
  readonly exactlyOnce: boolean
  /** Rows per statement: large enough to amortise a round trip, small enough to bound memory. */
  readonly batchRows: number
  readonly reject: RejectRecord
}

/** Creates the staging and progress tables in the target's schema unless they exist. */
export async function prepareBookkeeping(s: WriterSetup): Promise<void> {
  const c = s.client
  await sqlStep(s, 'prepare the staging and progress tables', () => transaction(c, async () => {
    // Parallel writers open at once: without the lock two CREATE TABLE IF NOT EXISTS can collide.
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice bookkeeping ${s.stage}`])
    if ((await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [s.stage])).rows[0].t === null) {
      await c.query(`CREATE TABLE ${s.stage} (target text NOT NULL, sink_id text NOT NULL, subtask int NOT NULL, epoch bigint NOT NULL, seq bigint NOT NULL, columns text[] NOT NULL, rows text NOT NULL, PRIMARY KEY (target, sink_id, subtask, epoch, seq))`)
      // Chunks are read once and deleted: compressing them costs CPU and saves nothing that lasts.
      await c.query(`ALTER TABLE ${s.stage} ALTER COLUMN rows SET STORAGE EXTERNAL`)
    }
    await c.query(`CREATE TABLE IF NOT EXISTS ${s.progress} (target text NOT NULL, sink_id text NOT NULL, subtask int NOT NULL, epoch bigint NOT NULL, ckpt bigint NOT NULL, PRIMARY KEY (target, sink_id, subtask))`)
  }))
}

/** Moves staged chunks of `epoch` up to `seq` (written by another writer: their columns are read from the stage). */
export async function moveStaged(s: WriterSetup, epoch: number, seq: number): Promise<void> {
  const found = await s.client.query<{ columns: string[] }>(
    `SELECT DISTINCT columns FROM ${s.stage} WHERE target = $1 AND sink_id = $2 AND subtask = $3 AND epoch = $4 AND seq <= $5`, [s.target, s.sinkId, s.subtask, epoch, seq])
  if (found.rows.length === 0) return
  const info = await readColumns(s.client, s.qualified)
  if (info === null) throw new SluiceError('CONNECTOR_NOT_FOUND', `table ${s.target} in ${s.where} is gone, but rows staged for it are committed by the last checkpoint; create it again to let them in`)
  for (const { columns } of found.rows) {
    const absent = columns.filter((n) => !info.has(n))
    if (absent.length > 0) throw new SluiceError('CONNECTOR_NOT_FOUND', `table ${s.target} in ${s.where} has lost column(s) ${absent.join(', ')} that committed staged rows need`)
    await moveWith(s, columns.map((n) => info.get(n) as ColumnInfo), epoch, seq, columns)
  }
}

export async function moveWith(s: WriterSetup, cols: readonly ColumnInfo[], epoch: number, seq: number, only?: readonly string[]): Promise<void> {
  const where = `s.target = $1 AND s.sink_id = $2 AND s.subtask = $3 AND s.epoch = $4 AND s.seq <= $5${only === undefined ? '' : ' AND s.columns = $6'}`
  const from = `${s.stage} s CROSS JOIN LATERAL jsonb_array_elements(s.rows::jsonb) WITH ORDINALITY AS e(v, n) WHERE ${where}`
  const params: unknown[] = [s.target, s.sinkId, s.subtask, epoch, seq]
  if (only !== undefined) params.push(only)
  await s.client.query('SAVEPOINT sluice_move')
  try {
    await s.client.query(moveSql(s.qualified, cols, s.upsertKey, from), params)
  } catch (e) {
    if (!isRowError(e)) throw e
    await s.client.query('ROLLBACK TO SAVEPOINT sluice_move')
    await moveEach(s, cols, where, params)
  }
  await s.client.query(`DELETE FROM ${s.stage} s WHERE ${where}`, params)
}

/**
 * The commit's rows broke a constraint the sink cannot check beforehand (CHECK, UNIQUE, a foreign
 * key, a value of a type only the server parses): moves them one by one, each under a savepoint,
 * and gives those the server refuses to the sink's onError policy (under 'fail' that throws and
 * the commit fails), so one bad row cannot block every later commit.
 */
async function moveEach(s: WriterSetup, cols: readonly ColumnInfo[], where: string, params: unknown[]): Promise<void> {
  const one = moveSql(s.qualified, cols, s.upsertKey, 'jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, n), (SELECT 0 AS seq) s')
  const chunks = await s.client.query<{ rows: string }>(`SELECT s.rows FROM ${s.stage} s WHERE ${where} ORDER BY s.seq`, params)
  for (const chunk of chunks.rows) {
    for (const row of JSON.parse(chunk.rows) as unknown[][]) {
      await s.client.query('SAVEPOINT sluice_row')
      try {
        await s.client.query(one, [JSON.stringify([row])])
        await s.client.query('RELEASE SAVEPOINT sluice_row')
      } catch (e) {
        if (!isRowError(e)) throw e
        await s.client.query('ROLLBACK TO SAVEPOINT sluice_row')
        const record = Object.fromEntries(cols.map((c, j) => [c.name, row[j]]))
        s.reject(record, `PostgreSQL refused the row when its checkpoint was committed: ${describeCause(e)}`)
      }
    }
  }
}

export async function transaction<R>(c: pg.Client, body: () => Promise<R>): Promise<R> {
  await c.query('BEGIN')
  try {
    const r = await body()
    await c.query('COMMIT')
    return r
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined)
    throw e
  }
}

/** A database step; a failure that is not already coded becomes SINK_IO with the server's message. */
export async function sqlStep<R>(s: WriterSetup, what: string, f: () => Promise<R>): Promise<R> {
  try {
    return await f()
  } catch (e) {
    throw isSluiceError(e) ? e : sqlError(s, what, e)
  }
}

export function sqlError(s: WriterSetup, what: string, e: unknown): SluiceError {
  const code = (e as { code?: unknown }).code
  // After the connection dropped, pg only says the client "is not queryable": name the cause.
  const lost = s.tracker.state === 'failed' && s.tracker.lastError !== null ? ` (the connection was lost: ${s.tracker.lastError})` : ''
  // Class 08 (connection exception), 57P (operator intervention) or no SQLSTATE at all (a
  // client-side failure): the connection is gone, as monitoring should show.
  if (lost === '' && (typeof code !== 'string' || code.startsWith('08') || code.startsWith('57P'))) s.tracker.set('failed', describeCause(e))
  return new SluiceError('SINK_IO', `postgresSink "${s.sinkId}" cannot ${what} for ${s.target} in ${s.where}: ${describeCause(e)}${typeof code === 'string' ? ` (SQLSTATE ${code})` : ''}${lost}`, { cause: e })
}

/** Data exceptions (22xxx) and integrity violations (23xxx) are about a row, not the connection. */
export function isRowError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'))
}

