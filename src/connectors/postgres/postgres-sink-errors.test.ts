import { createServer, type AddressInfo } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import type { SinkContext } from '../spi.ts'
import { postgresSink, postgresSinkFromUri } from './postgres-sink.ts'

const URI = SERVICES.postgres.uri
let db: pg.Client
const tables: string[] = []

beforeAll(async () => {
  await requireService('postgres')
  db = new pg.Client({ connectionString: URI })
  await db.connect()
})

afterAll(async () => {
  if (db === undefined) return
  for (const t of tables) await db.query(`DROP TABLE IF EXISTS "${t}"`)
  const targets = tables.map((t) => `public.${t}`)
  for (const book of ['sluice_stage', 'sluice_progress']) {
    if ((await db.query('SELECT to_regclass($1) AS t', [book])).rows[0].t !== null) await db.query(`DELETE FROM ${book} WHERE target = ANY($1)`, [targets])
  }
  await db.end()
})

function table(): string {
  const t = uniqueName('pgerr')
  tables.push(t)
  return t
}

function collecting(): SinkContext & { bad: { record: unknown; reason: string }[] } {
  const bad: { record: unknown; reason: string }[] = []
  return { sinkId: uniqueName('s'), clock: { now: () => 0 }, subtaskIndex: 0, parallelism: 1, bad, reportBadRecord: (record, reason) => bad.push({ record, reason }) }
}

async function columnTypes(t: string): Promise<Record<string, string>> {
  const res = await db.query<{ column_name: string; data_type: string }>('SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1', [t])
  return Object.fromEntries(res.rows.map((r) => [r.column_name, r.data_type]))
}

describe('postgresSink createTable', () => {
  const record = { id: 1, name: 'a', ok: true, tags: ['x'], when: new Date(0), raw: new Uint8Array([1, 255]), big: 12n, nothing: null }

  it('off (default): a missing table is CONNECTOR_NOT_FOUND naming the CREATE TABLE it would need, and nothing is created', async () => {
    const t = table()
    const w = await postgresSink({ connection: URI, table: t, key: ['id'] }).open(collecting())
    const err = await Promise.resolve().then(() => w.write([record])).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONNECTOR_NOT_FOUND' })
    expect((err as Error).message).toContain(`CREATE TABLE "public"."${t}" ("id" double precision NOT NULL, "name" text, "ok" boolean, "tags" jsonb, "when" timestamptz, "raw" bytea, "big" bigint, "nothing" jsonb, PRIMARY KEY ("id"))`)
    expect((err as Error).message).toContain('createTable: true')
    await w.abort()
    expect((await db.query('SELECT to_regclass($1) AS t', [t])).rows[0].t).toBeNull()
  })

  it('on: creates the table with types inferred from the first record, the key as primary key, and writes into it', async () => {
    const t = table()
    const w = await postgresSink({ connection: URI, table: t, key: ['id'], createTable: true }).open(collecting())
    await w.write([record, { ...record, id: 2.5, big: -(2n ** 62n) }])
    await w.close()
    expect(await columnTypes(t)).toEqual({ id: 'double precision', name: 'text', ok: 'boolean', tags: 'jsonb', when: 'timestamp with time zone', raw: 'bytea', big: 'bigint', nothing: 'jsonb' })
    const out = (await db.query(`SELECT id, name, ok, tags, "when", raw, big, nothing FROM "${t}" ORDER BY id`)).rows
    expect(out).toEqual([
      { id: 1, name: 'a', ok: true, tags: ['x'], when: new Date(0), raw: Buffer.from([1, 255]), big: '12', nothing: null },
      { id: 2.5, name: 'a', ok: true, tags: ['x'], when: new Date(0), raw: Buffer.from([1, 255]), big: String(-(2n ** 62n)), nothing: null },
    ])
    const pk = await db.query(`SELECT 1 FROM pg_index WHERE indrelid = to_regclass($1) AND indisprimary`, [t])
    expect(pk.rowCount).toBe(1)
  })

  it('a column the table lacks is CONNECTOR_NOT_FOUND with the ALTER TABLE that adds it', async () => {
    const t = table()
    await db.query(`CREATE TABLE "${t}" (id int)`)
    const w = await postgresSink({ connection: URI, table: t }).open(collecting())
    await expect(Promise.resolve().then(() => w.write([{ id: 1, label: 'x' }]))).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining(`ALTER TABLE "public"."${t}" ADD COLUMN "label" text`) })
    await w.abort()
  })
})

describe('postgresSink bad records', () => {
  for (const exactlyOnce of [true, false]) {
    it(`routes records the table cannot take to reportBadRecord with the reason and writes the rest (exactlyOnce ${exactlyOnce})`, async () => {
      const t = table()
      await db.query(`CREATE TABLE "${t}" (n int NOT NULL, code varchar(3), doc jsonb, at timestamptz)`)
      const ctx = collecting()
      const w = await postgresSink<unknown>({ connection: URI, table: t, columns: ['n', 'code', 'doc', 'at'], exactlyOnce }).open(ctx)
      const good = [{ n: 1, code: 'abc', doc: { a: 1 }, at: '2024-01-02T03:04:05Z' }, { n: 2, code: null, doc: null, at: null }, { n: 3, code: '日本語', doc: [1, 'a backslash, then u0000: \\u0000 \\ud800'], at: 0 }]
      const bad: [unknown, string][] = [
        [{ n: 4, code: 'abc', doc: {} }, 'no field "at"'],
        [{ n: 1.5, code: 'a', doc: {}, at: null }, 'column "n" (integer) takes a whole number'],
        [{ n: 2 ** 40, code: 'a', doc: {}, at: null }, 'from -2147483648 to 2147483647'],
        [{ n: null, code: 'a', doc: {}, at: null }, 'NOT NULL'],
        [{ n: 5, code: 'abcd', doc: {}, at: null }, 'at most 3 characters'],
        [{ n: 6, code: 'a\u0000', doc: {}, at: null }, 'NUL character'],
        [{ n: 7, code: 'a', doc: { big: 1n }, at: null }, 'cannot be encoded as JSON'],
        [{ n: 9, code: 'a', doc: { s: 'half an emoji \ud83d' }, at: null }, 'lone UTF-16 surrogate'],
        [{ n: 8, code: 'a', doc: {}, at: 'yesterday' }, 'ISO 8601'],
        [42, 'not an object'],
      ]
      await w.write([good[0], ...bad.map(([r]) => r), good[1]])
      await w.write([good[2]])
      await w.close()
      // Records JSON cannot carry are found when their batch is stringified, after the others.
      expect(ctx.bad).toHaveLength(bad.length)
      for (const [record, why] of bad) expect(ctx.bad.find((b) => b.record === record)?.reason).toContain(why)
      const out = (await db.query(`SELECT n, code, doc, at FROM "${t}" ORDER BY n`)).rows
      expect(out).toEqual([
        { n: 1, code: 'abc', doc: { a: 1 }, at: new Date('2024-01-02T03:04:05Z') },
        { n: 2, code: null, doc: null, at: null },
        { n: 3, code: '日本語', doc: [1, 'a backslash, then u0000: \\u0000 \\ud800'], at: new Date(0) },
      ])
    })
  }

  for (const exactlyOnce of [true, false]) {
    it(`rows the server refuses (a CHECK constraint, a duplicate primary key) are reported, the rest written (exactlyOnce ${exactlyOnce})`, async () => {
      const t = table()
      await db.query(`CREATE TABLE "${t}" (n int PRIMARY KEY CHECK (n > 0))`)
      const ctx = collecting()
      const w = await postgresSink({ connection: URI, table: t, exactlyOnce }).open(ctx)
      await w.write([{ n: 1 }, { n: -1 }, { n: 2 }, { n: 1 }])
      if (exactlyOnce) await w.commit!(await w.preCommit!(1))
      await w.write([{ n: 3 }])
      await w.close()
      expect(ctx.bad).toEqual([
        { record: { n: -1 }, reason: expect.stringContaining('check constraint') },
        { record: { n: 1 }, reason: expect.stringContaining('duplicate key') },
      ])
      expect((await db.query(`SELECT n FROM "${t}" ORDER BY n`)).rows).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    })
  }

  it('without a runtime context a bad record fails the write with SINK_RECORD_UNWRITABLE', async () => {
    const t = table()
    await db.query(`CREATE TABLE "${t}" (n int)`)
    const w = await postgresSink({ connection: URI, table: t }).open({ sinkId: 's', clock: { now: () => 0 }, subtaskIndex: 0, parallelism: 1 })
    await expect(Promise.resolve().then(() => w.write([{ n: 'x' }]))).rejects.toMatchObject({ code: 'SINK_RECORD_UNWRITABLE' })
    await w.abort()
  })
})

describe('postgresSink errors', () => {
  it('an address nobody listens on is CONNECTOR_UNREACHABLE naming it', async () => {
    const sink = postgresSink({ connection: 'postgres://root:secret@127.0.0.1:1/test', table: 't', connectTimeoutMs: 5000 })
    const err = await Promise.resolve(sink.open(collecting())).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONNECTOR_UNREACHABLE', message: expect.stringContaining('postgres://root:***@127.0.0.1:1/test') })
    expect((err as Error).message).not.toContain('secret')
  })

  it('a server that accepts the connection but never answers is CONNECTOR_UNREACHABLE once the connect timeout passes', async () => {
    const silent = createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as AddressInfo).port
    try {
      const sink = postgresSink({ connection: { host: '127.0.0.1', port, database: 'test', user: 'root' }, table: 't', connectTimeoutMs: 300 })
      await expect(Promise.resolve(sink.open(collecting()))).rejects.toMatchObject({ code: 'CONNECTOR_UNREACHABLE', message: expect.stringContaining(`127.0.0.1:${port}`) })
    } finally {
      silent.close()
    }
  })

  it('a refused login is CONNECTOR_AUTH without the password', async () => {
    // The test server trusts every local login, so an unknown role is the refusal it can show.
    const err = await Promise.resolve(postgresSinkFromUri('postgres://nobody_here:hunter2@127.0.0.1:5432/test?table=t').open(collecting())).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CONNECTOR_AUTH', message: expect.stringContaining('nobody_here') })
    expect((err as Error).message).not.toContain('hunter2')
  })

  it('a missing database is CONNECTOR_NOT_FOUND', async () => {
    await expect(Promise.resolve(postgresSink({ connection: 'postgres://root@127.0.0.1:5432/no_such_db_here', table: 't' }).open(collecting()))).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND' })
  })

  it('a database error not about one record (the session killed) is SINK_IO with the server message, and the writer stays failed', async () => {
    const t = table()
    await db.query(`CREATE TABLE "${t}" (n int)`)
    const ctx = collecting()
    const w = await postgresSink({ connection: URI, table: t, batchRows: 1 }).open(ctx)
    await w.write([{ n: 1 }])
    await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`sluice ${ctx.sinkId}/0`])
    const err = await Promise.resolve().then(() => w.write([{ n: 2 }])).catch((e: unknown) => e)
    // The server's FATAL message, or (when the socket closes before the client reads it) the lost connection.
    expect(err).toMatchObject({ code: 'SINK_IO', message: expect.stringMatching(/terminating connection due to administrator command|Connection terminated unexpectedly/) })
    expect(() => w.write([{ n: 3 }])).toThrow(/SINK_IO/)
    expect(w.connection().state).toBe('failed')
    await w.abort()
  })

  it.each([
    ['mysql://root@127.0.0.1/test?table=t', 'expected scheme postgres://'],
    ['postgres://root@127.0.0.1:5432/test', 'parameter "table" is required'],
    ['postgres://root@127.0.0.1:5432/?table=t', 'the path must be the database'],
    ['postgres://root@127.0.0.1:5432/test?table=t&mode=merge', 'must be one of insert, upsert'],
    ['postgres://root@127.0.0.1:5432/test?table=t&tabel=u', 'unknown parameter "tabel"'],
    ['postgres://root@127.0.0.1:5432/test?table=t&create=yes', 'must be true or false'],
  ])('URI %s is CONNECTOR_URI_INVALID (%s)', (uri, why) => {
    expect(() => postgresSinkFromUri(uri)).toThrow(expect.objectContaining({ code: 'CONNECTOR_URI_INVALID', message: expect.stringContaining(why) }))
  })

  it('a bad connection string is CONNECTOR_URI_INVALID, bad options CONNECTOR_OPTION_INVALID, both at build time', () => {
    expect(() => postgresSink({ connection: 'host=localhost', table: 't' })).toThrow(expect.objectContaining({ code: 'CONNECTOR_URI_INVALID' }))
    expect(() => postgresSink({ connection: URI, table: 't', mode: 'upsert' })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID', message: expect.stringContaining('needs key') }))
    expect(() => postgresSink({ connection: URI, table: 't', key: ['id'], columns: ['name'] })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
    expect(() => postgresSink({ connection: URI, table: '' })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })

  it('the URI sink upserts into a table it creates', async () => {
    const t = table()
    const sink = postgresSinkFromUri(`${URI}?table=${t}&mode=upsert&key=id&create=true&batchRows=2`)
    expect(sink.exactlyOnce).toBe(true)
    const w = await sink.open(collecting())
    await w.write([{ id: 1, v: 'a' }, { id: 2, v: 'b' }, { id: 1, v: 'c' }])
    await w.close()
    expect((await db.query(`SELECT id, v FROM "${t}" ORDER BY id`)).rows).toEqual([{ id: 1, v: 'c' }, { id: 2, v: 'b' }])
  })
})
