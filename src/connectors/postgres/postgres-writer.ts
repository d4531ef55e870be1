/**
 * The PostgreSQL sink's writer. Records are encoded per batch into JSON rows (bad ones go to the
 * sink's onError policy); every `batchRows` rows one statement sends them:
 * - exactly-once: into the staging table, tagged (target, sink, subtask, epoch, seq). A commit
 *   moves the staged chunks up to its seq into the target and advances the progress row in one
 *   transaction, `WHERE epoch = mine AND ckpt < c`: idempotent, and refused to a fenced writer.
 * - otherwise: straight into the target (at-least-once).
 * All database work runs one operation after another on one connection, in call order.
 */
import { describeCause, isSluiceError, SluiceError } from '../../errors.ts'
import type { ConnectionStatus, SinkCommit, SinkWriter } from '../spi.ts'
import type { PostgresCommit } from './postgres-sink.ts'
import { BAD, createTableSql, encode, explain, hasUniqueIndexOn, ident, inferType, moveSql, readColumns, type ColumnInfo } from './table.ts'
import { isRowError, moveStaged, moveWith, prepareBookkeeping, sqlError, sqlStep, transaction, type WriterSetup } from './staging.ts'

/** Characters per statement at most, whatever `batchRows` says: bounds memory for wide rows. */
const CHUNK_CHARS = 4 << 20
/**
 * In JSON from JSON.stringify, `\u0000` and `\ud800`-`\udfff` escapes stand for NUL and lone
 * surrogates, which PostgreSQL refuses. The quick test may also match an escaped backslash
 * followed by such text; the exact one (an even run of backslashes before the escape) decides.
 */
const MAYBE_UNSTORABLE = /\\u(0000|d[89a-f])/i
const UNSTORABLE = /(^|[^\\])(\\\\)*\\u(0000|d[89a-f][0-9a-f]{2})/i
/** The progress row's checkpoint when nothing is committed. */
const NONE = -1


export class PostgresSinkWriter<T> implements SinkWriter<T> {
  private cols: ColumnInfo[] | null = null
  private stageInsert = ''
  private directInsert = ''
  /** JSON texts of rows (without the outer brackets) not yet sent, and their records (direct mode, for bad-row lookup). */
  private pending: string[] = []
  private pendingRows = 0
  private pendingChars = 0
  private pendingRecords: unknown[] = []
  /** The last chunk staged in this epoch. */
  private seq = 0
  /** True once checkpoints drive commits (a pre-commit, or a recovery): flush then only stages. */
  private checkpointed = false
  private queue: Promise<unknown> = Promise.resolve()
  private error: SluiceError | null = null
  private closed = false

  private constructor(private readonly s: WriterSetup, private readonly epoch: number) {}

  /**
   * @internal
   * Exactly-once: takes a new epoch for this subtask's progress row (fencing older writers),
   * commits `recover` unless that happened already, drops everything staged, and sets the row's
   * checkpoint to the recovered one (-1 for a start or a recovery with nothing committed).
   */
  static async open<T>(s: WriterSetup, recover: PostgresCommit | null | 'start'): Promise<PostgresSinkWriter<T>> {
    if (!s.exactlyOnce) return new PostgresSinkWriter<T>(s, 0)
    const c = s.client
    const key = [s.target, s.sinkId, s.subtask]
    let epoch = 0
    await prepareBookkeeping(s)
    await sqlStep(s, 'take over its progress row', () => transaction(c, async () => {
      const row = (await c.query<{ epoch: string; ckpt: string }>(
        `INSERT INTO ${s.progress} AS p (target, sink_id, subtask, epoch, ckpt) VALUES ($1, $2, $3, 1, ${NONE})
         ON CONFLICT (target, sink_id, subtask) DO UPDATE SET epoch = p.epoch + 1 RETURNING epoch, ckpt`, key)).rows[0]
      epoch = Number(row.epoch)
      const done = Number(row.ckpt)
      if (recover !== 'start' && recover !== null && done < recover.ckpt) await moveStaged(s, recover.epoch, recover.seq)
      await c.query(`DELETE FROM ${s.stage} WHERE target = $1 AND sink_id = $2 AND subtask = $3`, key)
      await c.query(`UPDATE ${s.progress} SET ckpt = $4 WHERE target = $1 AND sink_id = $2 AND subtask = $3`, [...key, recover === 'start' || recover === null ? NONE : recover.ckpt])
    }))
    const w = new PostgresSinkWriter<T>(s, epoch)
    w.checkpointed = recover !== 'start'
    return w
  }

  write(batch: readonly T[]): void | Promise<void> {
    this.throwIfUnusable()
    if (batch.length === 0) return
    if (this.cols === null) {
      const copy = batch.slice()
      return this.enqueue(async () => {
        if (this.cols === null && !(await this.setUp(copy))) return
        this.encode(copy)
        if (this.full()) await this.send()
      })
    }
    this.encode(batch)
    if (this.full()) return this.enqueue(() => this.send())
  }

  /** Sends what is buffered; in a job without checkpoints (none seen yet) also makes it final. */
  flush(): Promise<void> {
    this.throwIfUnusable()
    return this.enqueue(async () => {
      await this.send()
      if (this.s.exactlyOnce && !this.checkpointed) await this.commitStaged(null, this.epoch, this.seq)
    })
  }

  /** Stages what is buffered and checks this writer still holds the epoch. */
  preCommit(checkpointId: number): Promise<SinkCommit> {
    this.throwIfUnusable()
    this.checkpointed = true
    return this.enqueue(async () => {
      await this.send()
      if (!this.s.exactlyOnce) return { table: this.s.target }
      const row = (await this.s.client.query<{ epoch: string }>(`SELECT epoch FROM ${this.s.progress} WHERE target = $1 AND sink_id = $2 AND subtask = $3`, this.key())).rows[0]
      if (row === undefined || Number(row.epoch) !== this.epoch) throw this.fenced(`pre-commit checkpoint ${checkpointId}`)
      const commit: PostgresCommit = { table: this.s.target, ckpt: checkpointId, epoch: this.epoch, seq: this.seq }
      return commit
    })
  }

  /** Also a no-op once closed: close committed everything, this commit's rows included. */
  commit(commit: SinkCommit): Promise<void> {
    if (!this.s.exactlyOnce || (this.closed && this.error === null)) return Promise.resolve()
    this.throwIfUnusable()
    const c = checkCommit(this.s.target, commit, 'commit')
    return this.enqueue(() => this.commitStaged(c.ckpt, c.epoch, c.seq))
  }

  /** Sends what is buffered, makes everything staged final (the end of the job), and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      if (this.error === null) {
        await this.enqueue(async () => {
          await this.send()
          if (this.s.exactlyOnce) await this.commitStaged(null, this.epoch, this.seq)
        })
      }
    } finally {
      this.closed = true
      await this.s.client.end().catch(() => undefined)
    }
  }

  /** Drops what is buffered and disconnects once the statement in flight (if any) is done. */
  async abort(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.pending = []
    this.pendingRecords = []
    await this.queue.catch(() => undefined)
    await this.s.client.end().catch(() => undefined)
  }

  connection(): ConnectionStatus {
    return this.s.tracker.status()
  }

  private key(): unknown[] {
    return [this.s.target, this.s.sinkId, this.s.subtask]
  }

  /**
   * Learns the columns (option, or the first object record's fields), finds or creates the table,
   * and checks it has every column (and for upsert a unique index on the key). False when no
   * record of `first` is an object (each was reported): the next batch tries again.
   */
  private async setUp(first: readonly T[]): Promise<boolean> {
    const s = this.s
    const sample = first.find((r) => typeof r === 'object' && r !== null && !Array.isArray(r)) as Record<string, unknown> | undefined
    if (sample === undefined && s.columns === null) {
      for (const r of first) s.reject(r, notAnObject(r))
      return false
    }
    const names = s.columns ?? Object.keys(sample as Record<string, unknown>)
    if (names.length === 0) throw new SluiceError('CONNECTOR_OPTION_INVALID', `postgresSink "${s.sinkId}": the first record has no fields to write into ${s.target}; pass columns`)
    const missingKey = s.key.filter((k) => !names.includes(k))
    if (missingKey.length > 0) throw new SluiceError('CONNECTOR_OPTION_INVALID', `postgresSink "${s.sinkId}": the key column${missingKey.length > 1 ? 's' : ''} ${missingKey.join(', ')} ${missingKey.length > 1 ? 'are' : 'is'} not among the record's fields ${names.join(', ')}`)
    const example = sample ?? {}
    let info = await sqlStep(s, 'read the table', () => readColumns(s.client, s.qualified))
    if (info === null) {
      const ddl = createTableSql(s.qualified, names, s.key, example)
      if (!s.createTable) throw new SluiceError('CONNECTOR_NOT_FOUND', `table ${s.target} does not exist in ${s.where}; create it, e.g. ${ddl}, or pass createTable: true (URI: create=true) to let the sink create it so`)
      await sqlStep(s, 'create the table', () => transaction(s.client, async () => {
        await s.client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice create ${s.target}`])
        await s.client.query(ddl.replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS'))
      }))
      info = await sqlStep(s, 'read the table', () => readColumns(s.client, s.qualified))
      if (info === null) throw new SluiceError('SINK_IO', `table ${s.target} in ${s.where} is gone right after it was created`)
    }
    const absent = names.filter((n) => !info.has(n))
    if (absent.length > 0) {
      const add = absent.map((n) => `ALTER TABLE ${s.qualified} ADD COLUMN ${ident(n)} ${inferType(example[n])}`).join('; ')
      throw new SluiceError('CONNECTOR_NOT_FOUND', `table ${s.target} in ${s.where} has no column${absent.length > 1 ? 's' : ''} ${absent.join(', ')} (the sink writes ${names.join(', ')}); add ${absent.length > 1 ? 'them' : 'it'} (${add}) or pass columns`)
    }
    if (s.upsertKey !== null && !(await sqlStep(s, 'read the indexes', () => hasUniqueIndexOn(s.client, s.qualified, s.key)))) {
      throw new SluiceError('CONNECTOR_NOT_FOUND', `table ${s.target} in ${s.where} has no unique index on (${s.key.join(', ')}), which upsert needs; create one: CREATE UNIQUE INDEX ON ${s.qualified} (${s.key.map(ident).join(', ')})`)
    }
    this.cols = names.map((n) => info.get(n) as ColumnInfo)
    this.stageInsert = `INSERT INTO ${s.stage} (target, sink_id, subtask, epoch, seq, columns, rows) VALUES ($1, $2, $3, $4, $5, $6, $7)`
    this.directInsert = moveSql(s.qualified, this.cols, s.upsertKey, 'jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, n), (SELECT 0 AS seq) s')
    return true
  }

  /** Encodes a batch onto `pending`; records that cannot go into the table are reported and left out. */
  private encode(batch: readonly T[]): void {
    const cols = this.cols as ColumnInfo[]
    const n = cols.length
    const rows: unknown[][] = []
    const records: unknown[] = []
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i] as Record<string, unknown>
      if (typeof r !== 'object' || r === null || Array.isArray(r)) {
        this.s.reject(r, notAnObject(r))
        continue
      }
      const row = new Array<unknown>(n)
      let bad = -1
      for (let j = 0; j < n; j++) {
        const v = encode(cols[j], r[cols[j].name])
        if (v === BAD) {
          bad = j
          break
        }
        row[j] = v
      }
      if (bad >= 0) {
        this.s.reject(r, explain(cols[bad], r[cols[bad].name]))
        continue
      }
      rows.push(row)
      records.push(r)
    }
    if (rows.length === 0) return
    let text: string | null = null
    try {
      text = JSON.stringify(rows)
    } catch {
      text = null
    }
    if (text === null || MAYBE_UNSTORABLE.test(text)) {
      text = this.encodeEach(rows, records)
      if (text === '') return
    } else {
      text = text.slice(1, -1)
    }
    this.pending.push(text)
    this.pendingChars += text.length
    this.pendingRows += rows.length
    if (!this.s.exactlyOnce) for (const r of records) this.pendingRecords.push(r)
  }

  /** The rows one by one, reporting those JSON cannot carry or PostgreSQL cannot store (NUL characters). */
  private encodeEach(rows: unknown[][], records: unknown[]): string {
    const texts: string[] = []
    const kept: unknown[] = []
    for (let i = 0; i < rows.length; i++) {
      let t: string
      try {
        t = JSON.stringify(rows[i])
      } catch (e) {
        this.s.reject(records[i], `a field cannot be encoded as JSON: ${describeCause(e)}`)
        continue
      }
      if (UNSTORABLE.test(t)) {
        this.s.reject(records[i], 'a string holds a NUL character (\\u0000) or a lone UTF-16 surrogate, which PostgreSQL text and jsonb cannot store')
        continue
      }
      texts.push(t)
      kept.push(records[i])
    }
    records.length = 0
    for (const r of kept) records.push(r)
    rows.length = kept.length
    return texts.join(',')
  }

  private full(): boolean {
    return this.pendingRows >= this.s.batchRows || this.pendingChars >= CHUNK_CHARS
  }

  /** Sends the pending rows as one statement: a staged chunk, or (direct) an INSERT into the target. */
  private async send(): Promise<void> {
    if (this.pendingRows === 0) return
    const json = `[${this.pending.join(',')}]`
    const records = this.pendingRecords
    this.pending = []
    this.pendingRecords = []
    this.pendingRows = 0
    this.pendingChars = 0
    const s = this.s
    const cols = (this.cols as ColumnInfo[]).map((c) => c.name)
    if (s.exactlyOnce) {
      this.seq++
      await sqlStep(s, 'stage rows', () => s.client.query(this.stageInsert, [s.target, s.sinkId, s.subtask, this.epoch, this.seq, cols, json]))
      return
    }
    try {
      await s.client.query(this.directInsert, [json])
    } catch (e) {
      if (!isRowError(e)) throw sqlError(s, 'insert rows', e)
      await this.sendEach(JSON.parse(json) as unknown[], records)
    }
  }

  /** After a batch failed on one row's data: every row alone, reporting those the server refuses. */
  private async sendEach(rows: unknown[], records: unknown[]): Promise<void> {
    for (let i = 0; i < rows.length; i++) {
      try {
        await this.s.client.query(this.directInsert, [JSON.stringify([rows[i]])])
      } catch (e) {
        if (!isRowError(e)) throw sqlError(this.s, 'insert rows', e)
        this.s.reject(records[i], `PostgreSQL refused the row: ${describeCause(e)}`)
      }
    }
  }

  /**
   * In one transaction: advances the progress row to `ckpt` (null: keeps it, the end of input)
   * if this writer still holds the epoch, and moves the staged chunks of `epoch` up to `seq`
   * into the target. Already committed: nothing happens. Fenced: CONNECTOR_FENCED, nothing moves.
   */
  private async commitStaged(ckpt: number | null, epoch: number, seq: number): Promise<void> {
    const s = this.s
    const key = this.key()
    await sqlStep(s, ckpt === null ? 'commit at the end of input' : `commit checkpoint ${ckpt}`, () => transaction(s.client, async () => {
      const advanced = ckpt === null
        ? await s.client.query(`UPDATE ${s.progress} SET ckpt = ckpt WHERE target = $1 AND sink_id = $2 AND subtask = $3 AND epoch = $4`, [...key, this.epoch])
        : await s.client.query(`UPDATE ${s.progress} SET ckpt = $5 WHERE target = $1 AND sink_id = $2 AND subtask = $3 AND epoch = $4 AND ckpt < $5`, [...key, this.epoch, ckpt])
      if (advanced.rowCount === 0) {
        const row = (await s.client.query<{ epoch: string }>(`SELECT epoch FROM ${s.progress} WHERE target = $1 AND sink_id = $2 AND subtask = $3`, key)).rows[0]
        if (row === undefined || Number(row.epoch) !== this.epoch) throw this.fenced(ckpt === null ? 'commit at the end of input' : `commit checkpoint ${ckpt}`)
        return false
      }
      if (this.cols !== null && epoch === this.epoch) await moveWith(s, this.cols, epoch, seq)
      else await moveStaged(s, epoch, seq)
      return true
    }))
  }

  private fenced(action: string): SluiceError {
    return new SluiceError('CONNECTOR_FENCED', `postgresSink "${this.s.sinkId}" subtask ${this.s.subtask} cannot ${action} into ${this.s.target}: a newer writer took over its progress row in ${this.s.where} (this one has epoch ${this.epoch}); nothing was written`)
  }

  /** Runs `op` after everything enqueued before it; a failure makes the writer unusable. */
  private enqueue<R>(op: () => Promise<R>): Promise<R> {
    const run = this.queue.then(() => {
      this.throwIfUnusable()
      return op()
    })
    this.queue = run.catch((e: unknown) => {
      if (this.error === null) this.error = isSluiceError(e) ? e : new SluiceError('SINK_IO', `postgresSink "${this.s.sinkId}" writing ${this.s.target}: ${describeCause(e)}`, { cause: e })
    })
    return run
  }

  private throwIfUnusable(): void {
    if (this.error !== null) throw this.error
    if (this.closed) throw new SluiceError('SINK_IO', `cannot write to ${this.s.target}: the sink is closed`)
  }
}

function notAnObject(r: unknown): string {
  return `the record is ${r === null ? 'null' : Array.isArray(r) ? 'an array' : `a ${typeof r}`}, not an object with a field per column`
}

/** Checks a commit handed back from a checkpoint: it must be one of this sink's. */
export function checkCommit(target: string, commit: SinkCommit, action: string): PostgresCommit {
  const { table, ckpt, epoch, seq } = commit
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  if (!whole(ckpt) || !whole(epoch) || !whole(seq)) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `postgresSink cannot ${action} ${JSON.stringify(commit)}: ckpt, epoch and seq must be whole numbers >= 0`)
  }
  if (table !== target) throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `postgresSink writing ${target} cannot ${action} a commit of ${JSON.stringify(table)} (did the job's table change?)`)
  return { table, ckpt, epoch, seq }
}
