import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { closedPort, requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import type { LookupTable } from '../../operators/async/lookup.ts'
import { RecordFailure } from '../record-failure.ts'
import { postgresLookup, type PostgresLookup } from './lookup.ts'

const URI = SERVICES.postgres.uri
let db: pg.Client
const views: string[] = []
const tables: string[] = []
const opened: PostgresLookup<unknown, unknown>[] = []

interface Customer { id: number; name: string; tier: string }

beforeAll(async () => {
  await requireService('postgres')
  db = new pg.Client({ connectionString: URI })
  await db.connect()
})

afterAll(async () => {
  for (const t of opened) await t.close()
  if (db === undefined) return
  for (const v of views) await db.query(`DROP VIEW IF EXISTS ${v}`)
  for (const t of tables) await db.query(`DROP TABLE IF EXISTS ${t}`)
  await db.end()
})

/** A new table of `n` customers: id 1..n, name "c<id>", tier gold for multiples of 3. */
async function customers(n: number, name = uniqueName('lookup_pg')): Promise<string> {
  const quoted = `"${name.replace(/"/g, '""')}"`
  tables.push(quoted)
  await db.query(`CREATE TABLE ${quoted} (id integer PRIMARY KEY, name text NOT NULL, tier text NOT NULL, since date)`)
  await db.query(`INSERT INTO ${quoted} (id, name, tier) SELECT g, 'c' || g, CASE WHEN g % 3 = 0 THEN 'gold' ELSE 'basic' END FROM generate_series(1, $1::int) g`, [n])
  return name
}

async function open<K, V>(t: PostgresLookup<K, V>): Promise<PostgresLookup<K, V>> {
  await t.open()
  opened.push(t as PostgresLookup<unknown, unknown>)
  return t
}

const customer = (id: number): Customer => ({ id, name: `c${id}`, tier: id % 3 === 0 ? 'gold' : 'basic' })

async function connectionsOf(table: string, state?: 'active'): Promise<number> {
  const res = await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND ($2::text IS NULL OR state = $2)', [`sluice lookup ${table}`.slice(0, 63), state ?? null])
  return Number(res.rows[0].n)
}

/** Resolves once `cond()` holds, asking every 10 ms for at most 20 s (a deadline, not a wait). */
async function eventually(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not within 20 s: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Counts the queries the lookup's connections run (the test's own `db` excluded) while `body` runs. */
async function countingQueries<T>(body: () => Promise<T>): Promise<{ result: T; queries: number }> {
  const spy = vi.spyOn(pg.Client.prototype, 'query')
  try {
    const result = await body()
    return { result, queries: spy.mock.contexts.filter((c) => c !== db).length }
  } finally {
    spy.mockRestore()
  }
}

/** A view of `table` whose rows take 30 s each to compute (a key with no row answers at once). */
async function slowView(table: string): Promise<string> {
  const name = uniqueName('lookup_pg_slow')
  views.push(`"${name}"`)
  await db.query(`CREATE VIEW "${name}" AS SELECT id, name, pg_sleep(30) IS NULL AS slept FROM "${table}"`)
  return name
}

const call = (signal: AbortSignal) => ({ signal, attempt: 1 })

describe('postgresLookup', () => {
  it('answers each key with its row (the chosen columns), undefined where there is none, in the order asked', async () => {
    const name = await customers(10)
    const t = await open(postgresLookup<Customer, number>({ connection: URI, table: name, keyColumn: 'id', columns: ['id', 'name', 'tier'] }))
    expect(await t.get([3, 42, 1, 10, 0])).toEqual([customer(3), undefined, customer(1), customer(10), undefined])
    expect(await t.get([])).toEqual([])
    expect(t.name).toBe(`postgres table ${name} at ${URI}`)
  })

  it('is a LookupTable, and gives every column without columns', async () => {
    const name = await customers(3)
    const t: LookupTable<number, Record<string, unknown>> = await open(postgresLookup({ connection: URI, table: `public.${name}`, keyColumn: 'id' }))
    expect(await t.get([2], { signal: new AbortController().signal, attempt: 1 })).toEqual([{ ...customer(2), since: null }])
  })

  it('answers a key asked twice in one call twice', async () => {
    const name = await customers(5)
    const t = await open(postgresLookup<Customer, number>({ connection: URI, table: name, keyColumn: 'id', columns: ['id', 'name', 'tier'] }))
    expect(await t.get([2, 2, 9, 2])).toEqual([customer(2), customer(2), undefined, customer(2)])
  })

  it('looks up many keys in one call', async () => {
    const name = await customers(20_000)
    const t = await open(postgresLookup<Pick<Customer, 'name'>, number>({ connection: URI, table: name, keyColumn: 'id', columns: ['name'] }))
    const keys = Array.from({ length: 10_000 }, (_, i) => 25_000 - 2 * i)
    const values = await t.get(keys)
    expect(values).toHaveLength(keys.length)
    keys.forEach((k, i) => expect(values[i]).toEqual(k <= 20_000 ? { name: `c${k}` } : undefined))
  })

  it('matches keys by the server\'s equality: a text key, a bigint key given as a number, a uuid in upper case', async () => {
    const name = uniqueName('lookup_pg_types')
    tables.push(`"${name}"`)
    await db.query(`CREATE TABLE "${name}" (code text PRIMARY KEY, big bigint UNIQUE, u uuid UNIQUE, label text)`)
    await db.query(`INSERT INTO "${name}" VALUES ('a-1', 9007199254740991, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'first'), ('b-2', 2, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'second')`)
    const byCode = await open(postgresLookup<{ label: string }, string>({ connection: URI, table: name, keyColumn: 'code', columns: ['label'] }))
    expect(await byCode.get(['b-2', 'zz', 'a-1'])).toEqual([{ label: 'second' }, undefined, { label: 'first' }])
    const byBig = await open(postgresLookup<{ big: string }, number>({ connection: URI, table: name, keyColumn: 'big', columns: ['big'] }))
    expect(await byBig.get([9007199254740991, 3])).toEqual([{ big: '9007199254740991' }, undefined])
    const byUuid = await open(postgresLookup<{ label: string }, string>({ connection: URI, table: name, keyColumn: 'u', columns: ['label'] }))
    expect(await byUuid.get(['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'])).toEqual([{ label: 'first' }])
  })

  it('quotes names: a table and column with a quote, a space and upper case', async () => {
    const name = uniqueName('Lookup "odd" name')
    const quoted = `"${name.replace(/"/g, '""')}"`
    tables.push(quoted)
    await db.query(`CREATE TABLE ${quoted} ("Key ""k""" text PRIMARY KEY, "Value" int)`)
    await db.query(`INSERT INTO ${quoted} VALUES ('x', 1)`)
    const t = await open(postgresLookup<{ Value: number }, string>({ connection: URI, table: name, keyColumn: 'Key "k"', columns: ['Value'] }))
    expect(await t.get(["x'; DROP TABLE x; --", 'x'])).toEqual([undefined, { Value: 1 }])
  })

  it('shares one pool between opens and ends it at the last close', async () => {
    const name = await customers(3)
    const t = postgresLookup<Customer, number>({ connection: URI, table: name, keyColumn: 'id', poolSize: 2 })
    await Promise.all([t.open(), t.open()])
    await Promise.all([t.get([1]), t.get([2]), t.get([3])])
    expect(await connectionsOf(name)).toBeGreaterThanOrEqual(1)
    expect(await connectionsOf(name)).toBeLessThanOrEqual(2)
    await t.close()
    expect((await t.get([1]))[0]).toMatchObject({ id: 1 })
    await t.close()
    await expect(t.get([1])).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('before open()') })
    // The server ends a backend just after its client hung up: wait for that, not for a time.
    for (let tries = 0; tries < 500 && (await connectionsOf(name)) > 0; tries++) await new Promise((r) => setTimeout(r, 10))
    expect(await connectionsOf(name)).toBe(0)
    await t.open()
    expect((await t.get([1]))[0]).toMatchObject({ id: 1 })
    await t.close()
  })

  it('a missing table, key column or column is CONNECTOR_NOT_FOUND at open, naming it (and the columns there are)', async () => {
    const missing = uniqueName('lookup_pg_missing')
    await expect(postgresLookup({ connection: URI, table: missing, keyColumn: 'id' }).open()).rejects.toMatchObject({
      code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining(`table ${missing} does not exist in ${URI}`),
    })
    await expect(postgresLookup({ connection: URI, table: `nosuchschema.${missing}`, keyColumn: 'id' }).open()).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND' })
    const name = await customers(1)
    await expect(postgresLookup({ connection: URI, table: name, keyColumn: 'customer_id' }).open()).rejects.toMatchObject({
      code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining('has no column customer_id (keyColumn); it has id, name, tier, since'),
    })
    await expect(postgresLookup({ connection: URI, table: name, keyColumn: 'id', columns: ['name', 'email', 'phone'] }).open()).rejects.toMatchObject({
      code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining('has no columns email, phone (columns)'),
    })
  })

  it('a table dropped after open fails the call with CONNECTOR_NOT_FOUND naming the table, without the password', async () => {
    const name = await customers(2)
    const withPassword = URI.replace('root@', 'root:hunter2secret@')
    const t = await open(postgresLookup({ connection: withPassword, table: name, keyColumn: 'id' }))
    await db.query(`DROP TABLE "${name}"`)
    const err = (await t.get([1]).catch((e: unknown) => e)) as Error
    expect(err).toMatchObject({ code: 'CONNECTOR_NOT_FOUND', kind: 'user' })
    expect(err.message).toContain(`postgres table ${name} at ${URI.replace('root@', 'root:***@')}`)
    expect(err.message).toContain('does not exist')
    expect(err.message).not.toContain('hunter2secret')
  })

  it('a key that does not fit the key column fails only its place, with RECORD_FAILED naming the column, the cause and no password', async () => {
    const name = await customers(2)
    const withPassword = URI.replace('root@', 'root:hunter2secret@')
    const t = await open(postgresLookup<Customer, unknown>({ connection: withPassword, table: name, keyColumn: 'id', columns: ['id', 'name', 'tier'] }))
    const [seven] = await t.get(['seven'])
    expect(seven).toBeInstanceOf(RecordFailure)
    const cause = (seven as RecordFailure).cause as Error
    expect(cause).toMatchObject({ code: 'RECORD_FAILED', message: expect.stringContaining('a key does not fit column id: invalid input syntax for type integer: "seven"') })
    expect(cause.message).toContain(URI.replace('root@', 'root:***@'))
    expect(cause.message).not.toContain('hunter2secret')
  })

  it('bad keys among good ones: the good keys get their rows, each bad key a RecordFailure, in few queries (one when all keys fit)', async () => {
    const name = await customers(120)
    const t = await open(postgresLookup<Customer, unknown>({ connection: URI, table: name, keyColumn: 'id', columns: ['id', 'name', 'tier'] }))
    const keys: unknown[] = Array.from({ length: 100 }, (_, i) => i + 1)
    keys[37] = 'abc'
    keys[80] = 99999999999
    const { result, queries } = await countingQueries(() => t.get(keys))
    keys.forEach((k, i) => {
      if (typeof k === 'number' && k <= 120) expect(result[i]).toEqual(customer(k))
    })
    const failed = result.flatMap((v, i) => (v instanceof RecordFailure ? [[i, (v.cause as Error).message]] : []))
    expect(failed).toEqual([
      [37, expect.stringContaining('a key does not fit column id: invalid input syntax for type integer: "abc"')],
      [80, expect.stringContaining('a key does not fit column id: value "99999999999" is out of range for type integer')],
    ])
    expect((result[37] as RecordFailure).cause).toMatchObject({ code: 'RECORD_FAILED' })
    // Halving finds each of 2 bad keys among 100 in at most 2·log2(100) queries, after the first.
    expect(queries).toBeLessThanOrEqual(1 + 2 * 2 * Math.ceil(Math.log2(100)))
    expect((await countingQueries(() => t.get([5, 500, 6]))).queries).toBe(1)
    // The connection that met the errors is sound and back in the pool.
    expect(await t.get([3])).toEqual([customer(3)])
  })

  it("a call's signal aborting rejects the call at once with its reason, cancels the query on the server, and the pool answers afterwards", async () => {
    const view = await slowView(await customers(3))
    const t = await open(postgresLookup<Record<string, unknown>, number>({ connection: URI, table: view, keyColumn: 'id', poolSize: 1 }))
    const controller = new AbortController()
    const reason = new Error('the operator timed the call out')
    const pending = t.get([1, 2], call(controller.signal))
    await eventually(async () => (await connectionsOf(view, 'active')) === 1, 'the lookup query running on the server')
    // A second call waits for the pool's one connection: its abort rejects it there, at once.
    const waiting = new AbortController()
    const queued = t.get([3], call(waiting.signal))
    waiting.abort(new Error('the job stopped'))
    await expect(queued).rejects.toThrow('the job stopped')
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
    await eventually(async () => (await connectionsOf(view, 'active')) === 0, 'the server-side query cancelled')
    // One connection in the pool: it went back sound, and serves the next call.
    expect(await t.get([42], call(new AbortController().signal))).toEqual([undefined])
    expect(await connectionsOf(view)).toBe(1)
  })

  it('an already aborted signal rejects the call with its reason without a query', async () => {
    const name = await customers(3)
    const t = await open(postgresLookup<Customer, number>({ connection: URI, table: name, keyColumn: 'id' }))
    const controller = new AbortController()
    const reason = new Error('aborted before the call')
    controller.abort(reason)
    const { result, queries } = await countingQueries(() => t.get([1], call(controller.signal)).catch((e: unknown) => e))
    expect(result).toBe(reason)
    expect(queries).toBe(0)
  })

  it('an address where nothing listens is CONNECTOR_UNREACHABLE at open, at once, without the password', async () => {
    const port = await closedPort()
    const t = postgresLookup({ connection: `postgres://root:hunter2secret@127.0.0.1:${port}/test`, table: 'customers', keyColumn: 'id', connectTimeoutMs: 2_000 })
    const err = (await t.open().catch((e: unknown) => e)) as Error
    expect(err).toMatchObject({ code: 'CONNECTOR_UNREACHABLE', kind: 'external' })
    expect(err.message).toContain(`postgres://root:***@127.0.0.1:${port}/test`)
    expect(err.message).not.toContain('hunter2secret')
    await expect(t.get([1])).rejects.toMatchObject({ code: 'INTERNAL' })
    await t.close()
  })

  it('refuses bad options with CONNECTOR_OPTION_INVALID or CONNECTOR_URI_INVALID', () => {
    const ok = { connection: URI, table: 't', keyColumn: 'id' }
    expect(() => postgresLookup({ ...ok, connection: 'mysql://h/db' })).toThrow(/CONNECTOR_URI_INVALID/)
    expect(() => postgresLookup({ ...ok, table: '' })).toThrow(/CONNECTOR_OPTION_INVALID: postgresLookup: table must name a table/)
    expect(() => postgresLookup({ ...ok, table: 'a.' })).toThrow(/table must name a table/)
    expect(() => postgresLookup({ ...ok, keyColumn: '' })).toThrow(/keyColumn must name the column/)
    expect(() => postgresLookup({ ...ok, columns: [] })).toThrow(/columns must be a non-empty list/)
    expect(() => postgresLookup({ ...ok, columns: ['a', 'a'] })).toThrow(/columns names a column twice/)
    expect(() => postgresLookup({ ...ok, poolSize: 0 })).toThrow(/poolSize must be a whole number from 1 to 1000, got 0/)
  })
})
