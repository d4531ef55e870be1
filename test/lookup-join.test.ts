/**
 * The lookup join in real jobs (issue 14, item 6): records enriched from PostgreSQL and from Redis
 * through `stream.lookupJoin`, the cache's hit ratio in the job's metrics, `onMissing: 'drop'`, a
 * restart from a checkpoint with the lookup in the job, and the errors a user meets first (a
 * missing table, a server that does not answer).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Pipeline, type CallMetricsSnapshot, type DeadLetter, type JobResult, type LookupResult, type LookupTable } from '../src/index.ts'
import { collectSink, fromArray, generatorSource, postgresLookup, redisLookup } from '../src/connectors/index.ts'
import { memorySink, until } from '../src/testing/index.ts'
import { failingOnce } from './support/failing-sink.ts'
import { closedPort, requireService, SERVICES, uniqueName } from './support/services.ts'

const PG = SERVICES.postgres.uri
const REDIS = SERVICES.redis.uri
let db: pg.Client
const redis = createClient({ url: REDIS })
const tables: string[] = []
const views: string[] = []
const prefixes: string[] = []
let dir: string

interface Order { id: number; customer: number }
interface Customer { id: number; name: string; tier: string }

beforeAll(async () => {
  await requireService('postgres')
  await requireService('redis')
  db = new pg.Client({ connectionString: PG })
  await db.connect()
  await redis.connect()
  dir = mkdtempSync(join(tmpdir(), 'sluice-lookup-join-'))
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (db !== undefined) {
    for (const v of views) await db.query(`DROP VIEW IF EXISTS "${v}"`)
    for (const t of tables) await db.query(`DROP TABLE IF EXISTS "${t}"`)
    await db.end()
  }
  if (redis.isOpen) {
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(keys)
    }
    redis.destroy()
  }
})

const customer = (id: number): Customer => ({ id, name: `customer ${id}`, tier: id % 4 === 0 ? 'gold' : 'basic' })

/** A table of customers 1..n. */
async function customers(n: number): Promise<string> {
  const t = uniqueName('lookup_join')
  tables.push(t)
  await db.query(`CREATE TABLE "${t}" (id integer PRIMARY KEY, name text NOT NULL, tier text NOT NULL)`)
  await db.query(`INSERT INTO "${t}" SELECT g, 'customer ' || g, CASE WHEN g % 4 = 0 THEN 'gold' ELSE 'basic' END FROM generate_series(1, $1::int) g`, [n])
  return t
}

function callsOf(result: JobResult, operator: string): CallMetricsSnapshot {
  const rows = result.metrics.operators.filter((o) => o.operator === operator)
  expect(rows.length, `metrics rows of ${operator}`).toBeGreaterThan(0)
  const calls = rows.map((r) => r.calls as CallMetricsSnapshot)
  const sum = (f: (c: CallMetricsSnapshot) => number): number => calls.reduce((s, c) => s + f(c), 0)
  return { ...calls[0], calls: sum((c) => c.calls), cacheHits: sum((c) => c.cacheHits), cacheMisses: sum((c) => c.cacheMisses), cacheEntries: sum((c) => c.cacheEntries) }
}

/** 400 orders of customers 1..20, and every 25th of customer 99, who does not exist. */
const ORDERS: Order[] = Array.from({ length: 400 }, (_, id) => ({ id, customer: id % 25 === 24 ? 99 : 1 + ((id * 7) % 20) }))

describe('lookupJoin from PostgreSQL', () => {
  it('enriches every record, in order, and the cache answers all but the first lookup of each key', async () => {
    const t = await customers(20)
    const out = memorySink<LookupResult<Order, Customer>>()
    const p = new Pipeline(uniqueName('lookup-pg'))
    p.source('orders', fromArray(ORDERS))
      .lookupJoin('enrich', (o) => o.customer, postgresLookup<Customer, number>({ connection: PG, table: t, keyColumn: 'id' }), {
        cache: { maxEntries: 1000 }, maxBatch: 10, maxWaitMs: 0, concurrency: 1,
      })
      .to('out', out)
    const result = await p.run().done
    expect(out.records).toEqual(ORDERS.map((o) => ({ record: o, value: o.customer === 99 ? undefined : customer(o.customer) })))
    const calls = callsOf(result, 'enrich')
    // One call at a time: each of the 21 keys (customer 99 too, a cached miss) is missed once, then hit.
    expect(calls.cacheMisses).toBe(21)
    expect(calls.cacheEntries).toBe(21)
    expect(calls.cacheHits).toBeGreaterThan(0)
    expect(calls.cacheHits / (calls.cacheHits + calls.cacheMisses)).toBeGreaterThan(0.5)
  })

  it("with onMissing 'drop' and a join function: records of unknown customers leave nothing; without a cache every batch asks", async () => {
    const t = await customers(20)
    const out = memorySink<{ order: number; name: string }>()
    const p = new Pipeline(uniqueName('lookup-pg-drop'))
    p.source('orders', fromArray(ORDERS))
      .lookupJoin('enrich', (o) => o.customer, postgresLookup<Customer, number>({ connection: PG, table: t, keyColumn: 'id', columns: ['name'] }), {
        cache: false, onMissing: 'drop', join: (o, c) => ({ order: o.id, name: c?.name ?? '?' }), maxBatch: 50, concurrency: 4,
      })
      .to('out', out)
    const result = await p.run().done
    expect(out.records).toEqual(ORDERS.filter((o) => o.customer !== 99).map((o) => ({ order: o.id, name: `customer ${o.customer}` })))
    const calls = callsOf(result, 'enrich')
    expect({ hits: calls.cacheHits, misses: calls.cacheMisses, entries: calls.cacheEntries }).toEqual({ hits: 0, misses: 0, entries: 0 })
    expect(calls.calls).toBeGreaterThanOrEqual(ORDERS.length / 50)
  })

  it('restarts from a checkpoint taken with lookups in flight: every record enriched exactly once in the output', async () => {
    const t = await customers(50)
    const count = 3_000
    const out = collectSink<{ id: number; tier: string | null }>()
    let armed = (): boolean => false
    // The table's 5th call answers only once two checkpoints have completed: those are taken with
    // its records held in the operator (results leave unordered, so the other calls go on and the
    // operator does not fill up; the source runs 1.5 s at least, so it is still reading and
    // checkpoints go on). The sink then fails (a retryable SINK_IO) at its next write; the
    // restored operator calls the held records again.
    const table = postgresLookup<Customer, number>({ connection: PG, table: t, keyColumn: 'id' })
    let calls = 0
    const gated: LookupTable<number, Customer> = {
      name: table.name,
      open: () => table.open(),
      close: () => table.close(),
      get: async (keys) => {
        if (++calls === 5) await until(armed, 60_000)
        return table.get(keys)
      },
    }
    const p = new Pipeline(uniqueName('lookup-pg-restart'))
    p.source('orders', generatorSource((i) => ({ id: i, customer: 1 + (i % 60) }), { count, ratePerSecond: 2_000 }))
      .lookupJoin('enrich', (o) => o.customer, gated, {
        cache: false, join: (o, c) => ({ id: o.id, tier: c === undefined ? null : c.tier }), maxBatch: 20, maxWaitMs: 1, concurrency: 4, ordered: false,
      })
      .to('out', failingOnce(out, () => armed(), 'injected failure after a checkpoint'))
    const job = p.run({ checkpoints: { dir: join(dir, 'restart'), intervalMs: 20 }, restart: { attempts: 1, delayMs: 0, resetMs: 600_000 } })
    armed = () => (job.checkpoints()?.completed ?? 0) >= 2
    const result = await job.done
    expect(result.status).toBe('finished')
    expect(job.checkpoints()?.restarts).toBe(1)
    expect([...out.records].sort((a, b) => a.id - b.id)).toEqual(Array.from({ length: count }, (_, i) => {
      const c = 1 + (i % 60)
      return { id: i, tier: c > 50 ? null : customer(c).tier }
    }))
  }, 60_000)

  it('records whose key the key column cannot hold are dead-lettered alone, the reason naming the cause; the others are joined', async () => {
    const t = await customers(20)
    const orders = Array.from({ length: 90 }, (_, id) => ({ id, customer: id % 20 === 7 ? 'abc' : id === 50 ? 99_999_999_999 : 1 + (id % 20) }))
    const bad = (o: (typeof orders)[number]): boolean => typeof o.customer !== 'number' || o.customer > 20
    const out = memorySink<LookupResult<(typeof orders)[number], Customer>>()
    const dead = memorySink<DeadLetter>()
    const p = new Pipeline(uniqueName('lookup-pg-bad-keys'), { deadLetter: dead })
    p.source('orders', fromArray(orders))
      .lookupJoin('enrich', (o) => o.customer, postgresLookup<Customer, number | string>({ connection: PG, table: t, keyColumn: 'id' }), {
        maxBatch: 30, maxWaitMs: 0, retry: { attempts: 3, backoffMs: 0 }, onError: 'dead-letter',
      })
      .to('out', out)
    const result = await p.run().done
    expect(out.records).toEqual(orders.filter((o) => !bad(o)).map((o) => ({ record: o, value: customer(o.customer as number) })))
    expect(dead.records.map((d) => d.record)).toEqual(orders.filter(bad))
    for (const d of dead.records) {
      expect(d.operator).toBe('enrich')
      expect(d.reason).toContain('a key does not fit column id: ')
      expect(d.reason).toContain(d.record !== null && (d.record as { customer: unknown }).customer === 'abc' ? 'invalid input syntax for type integer: "abc"' : 'value "99999999999" is out of range for type integer')
    }
    // A failed key is not retried: the calls failed no attempt.
    expect(callsOf(result, 'enrich')).toMatchObject({ retries: 0 })
  })

  it('a call that times out has its query cancelled on the server', async () => {
    const t = await customers(3)
    const view = uniqueName('lookup_join_slow')
    views.push(view)
    await db.query(`CREATE VIEW "${view}" AS SELECT id, name, pg_sleep(30) IS NULL AS slept FROM "${t}"`)
    const dead = memorySink<DeadLetter>()
    const p = new Pipeline(uniqueName('lookup-pg-timeout'), { deadLetter: dead })
    p.source('orders', fromArray([{ id: 1, customer: 2 }]))
      .lookupJoin('enrich', (o) => o.customer, postgresLookup({ connection: PG, table: view, keyColumn: 'id', poolSize: 1 }), { timeoutMs: 200, onError: 'dead-letter' })
      .to('out', memorySink())
    await p.run().done
    expect(dead.records).toEqual([expect.objectContaining({ operator: 'enrich', reason: expect.stringContaining('no answer within timeoutMs 200 ms') })])
    const active = async (): Promise<number> => Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'", [`sluice lookup ${view}`.slice(0, 63)])).rows[0].n)
    for (const deadline = Date.now() + 20_000; (await active()) > 0; await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > deadline) throw new Error('the timed-out query still runs on the server after 20 s')
    }
  })

  it('a missing table fails the job: the failed call names the table and what to do', async () => {
    const missing = uniqueName('lookup_join_missing')
    const p = new Pipeline(uniqueName('lookup-pg-missing'))
    p.source('orders', fromArray(ORDERS)).lookupJoin('enrich', (o) => o.customer, postgresLookup({ connection: PG, table: missing, keyColumn: 'id' })).to('out', memorySink())
    // The table is opened at the subtask's first call, so its error is that call's cause.
    await expect(p.run().done).rejects.toMatchObject({
      code: 'ASYNC_CALL_FAILED',
      message: expect.stringContaining(`lookupJoin "enrich" input record #1: call failed: CONNECTOR_NOT_FOUND: postgresLookup: table ${missing} does not exist in ${PG}`),
    })
  })
})

describe('lookupJoin from Redis', () => {
  it("enriches from JSON values, with the cache's hit ratio in the metrics", async () => {
    const prefix = `${uniqueName('lookup_join')}:`
    prefixes.push(prefix)
    await redis.mSet(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`${prefix}${i + 1}`, JSON.stringify(customer(i + 1))])))
    const out = memorySink<LookupResult<Order, Customer>>()
    const p = new Pipeline(uniqueName('lookup-redis'))
    p.source('orders', fromArray(ORDERS))
      .lookupJoin('enrich', (o) => o.customer, redisLookup<Customer, number>({ url: REDIS, type: 'json', keyPrefix: prefix }), {
        cache: { maxEntries: 100, ttlMs: 3_600_000 }, maxBatch: 16, concurrency: 1,
      })
      .to('out', out)
    const result = await p.run().done
    expect(out.records).toEqual(ORDERS.map((o) => ({ record: o, value: o.customer === 99 ? undefined : customer(o.customer) })))
    const calls = callsOf(result, 'enrich')
    expect(calls.cacheMisses).toBe(21)
    expect(calls.cacheHits / (calls.cacheHits + calls.cacheMisses)).toBeGreaterThan(0.5)
  })

  it("from hashes, with onMissing 'drop'", async () => {
    const prefix = `${uniqueName('lookup_join_h')}:`
    prefixes.push(prefix)
    for (let i = 1; i <= 20; i++) await redis.hSet(`${prefix}${i}`, { name: `customer ${i}`, tier: customer(i).tier })
    const out = memorySink<string>()
    const p = new Pipeline(uniqueName('lookup-redis-hash'))
    p.source('orders', fromArray(ORDERS))
      .lookupJoin('enrich', (o) => o.customer, redisLookup({ url: REDIS, type: 'hash', keyPrefix: prefix }), {
        onMissing: 'drop', join: (o, h) => `${o.id}:${h?.tier}`,
      })
      .to('out', out)
    await p.run().done
    expect(out.records).toEqual(ORDERS.filter((o) => o.customer !== 99).map((o) => `${o.id}:${customer(o.customer).tier}`))
  })

  it('a server that does not answer fails the job, naming the address without the password, without hanging', async () => {
    const port = await closedPort()
    const p = new Pipeline(uniqueName('lookup-redis-down'))
    p.source('orders', fromArray(ORDERS))
      .lookupJoin('enrich', (o) => o.customer, redisLookup({ url: `redis://u:hunter2secret@127.0.0.1:${port}`, type: 'string', connectTimeoutMs: 2_000 }))
      .to('out', memorySink())
    const err = (await p.run().done.then(() => null, (e: unknown) => e)) as Error | null
    expect(err).toMatchObject({ code: 'ASYNC_CALL_FAILED' })
    expect(err?.message).toContain(`call failed: CONNECTOR_UNREACHABLE`)
    expect(err?.message).toContain(`redis://u:***@127.0.0.1:${port}`)
    expect(err?.message).not.toContain('hunter2secret')
  })
})
