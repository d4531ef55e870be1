/**
 * PostgreSQL sink throughput: `node bin/run-ts.js bench/connectors/postgres.ts [--rows N] [--runs N] [--checkpoint-every N]`.
 *
 * The same rows (Nexmark-bid-like: 2 bigint, 1 double, 3 text… 6 columns) written into a fresh
 * table by:
 *   hand-written    a `pg` Client, multi-row INSERT … VALUES ($1, …) of 1000 rows, awaited in turn
 *   hand-written unnest  the same Client, INSERT … SELECT FROM unnest($1::bigint[], …) of 4000 rows:
 *                   one array parameter per column, the fastest plain-`pg` pattern we know
 *   sluice direct   postgresSink({ exactlyOnce: false }): batched INSERTs straight into the table
 *   sluice exactly-once  postgresSink(): staged chunks, preCommit + commit every --checkpoint-every rows
 * Writers get batches of 1024 records, as a task hands them. Every acknowledged statement is
 * committed (synchronous_commit on) in all cases. Runs alternate between cases; each figure is
 * the median; client CPU is this process's user+system time in the run. Prints a table and a
 * final JSON line.
 */
import pg from 'pg'
import { postgresSink } from '../../src/connectors/postgres/postgres-sink.ts'
import type { SinkContext } from '../../src/connectors/spi.ts'

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const ROWS = arg('--rows', 200_000)
const RUNS = arg('--runs', 3)
const EVERY = arg('--checkpoint-every', 20_000)
const URI = process.env.SLUICE_PG_URI ?? 'postgres://root@127.0.0.1:5432/test'
const TABLE = `bench_pg_sink_${process.pid}`
const TASK_BATCH = 1024
const HAND_BATCH = 1000

interface Bid {
  auction: number
  bidder: number
  price: number
  channel: string
  url: string
  extra: string
}

const bids: Bid[] = Array.from({ length: ROWS }, (_, i) => ({
  auction: 1000 + (i % 9973),
  bidder: 2000 + ((i * 7) % 50_021),
  price: Math.round(((i * 37) % 100_000) * 1.37) / 100,
  channel: ['Google', 'Facebook', 'Baidu', 'Apple'][i % 4],
  url: `https://www.nexmark.com/item.htm?query=${i}&channel_id=${i % 1000}`,
  extra: i % 3 === 0 ? '' : `bench row ${i} é`,
}))
const COLUMNS = ['auction', 'bidder', 'price', 'channel', 'url', 'extra'] as const

const db = new pg.Client({ connectionString: URI })
await db.connect()

async function freshTable(): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db.query(`CREATE TABLE ${TABLE} (auction bigint NOT NULL, bidder bigint NOT NULL, price double precision NOT NULL, channel text NOT NULL, url text NOT NULL, extra text NOT NULL)`)
}

async function count(): Promise<number> {
  return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE}`)).rows[0].n)
}

async function handWritten(): Promise<void> {
  const c = new pg.Client({ connectionString: URI })
  await c.connect()
  const w = COLUMNS.length
  const placeholders = (n: number): string => Array.from({ length: n }, (_, r) => `(${COLUMNS.map((_, j) => `$${r * w + j + 1}`).join(', ')})`).join(', ')
  const full = `INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) VALUES ${placeholders(HAND_BATCH)}`
  for (let at = 0; at < ROWS; at += HAND_BATCH) {
    const n = Math.min(HAND_BATCH, ROWS - at)
    const params: unknown[] = []
    for (let i = at; i < at + n; i++) {
      const b = bids[i]
      params.push(b.auction, b.bidder, b.price, b.channel, b.url, b.extra)
    }
    await c.query(n === HAND_BATCH ? full : `INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) VALUES ${placeholders(n)}`, params)
  }
  await c.end()
}

async function handWrittenUnnest(): Promise<void> {
  const c = new pg.Client({ connectionString: URI })
  await c.connect()
  const sql = `INSERT INTO ${TABLE} (${COLUMNS.join(', ')}) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::text[], $5::text[], $6::text[])`
  for (let at = 0; at < ROWS; at += 4000) {
    const cols: unknown[][] = COLUMNS.map(() => [])
    for (let i = at; i < Math.min(at + 4000, ROWS); i++) {
      const b = bids[i]
      cols[0].push(b.auction)
      cols[1].push(b.bidder)
      cols[2].push(b.price)
      cols[3].push(b.channel)
      cols[4].push(b.url)
      cols[5].push(b.extra)
    }
    await c.query(sql, cols)
  }
  await c.end()
}

const ctx: SinkContext = { sinkId: 'bench', clock: { now: () => 0 }, subtaskIndex: 0, parallelism: 1, reportBadRecord: (_r, why) => { throw new Error(why) } }

async function sluice(exactlyOnce: boolean): Promise<void> {
  const w = await postgresSink<Bid>({ connection: URI, table: TABLE, exactlyOnce }).open(ctx)
  let ckpt = 0
  let sinceCheckpoint = 0
  for (let at = 0; at < ROWS; at += TASK_BATCH) {
    await w.write(bids.slice(at, at + TASK_BATCH))
    sinceCheckpoint += Math.min(TASK_BATCH, ROWS - at)
    if (exactlyOnce && sinceCheckpoint >= EVERY) {
      await w.commit(await w.preCommit(++ckpt))
      sinceCheckpoint = 0
    }
  }
  await w.flush()
  await w.close()
}

const cases: [string, () => Promise<void>][] = [
  ['hand-written pg INSERT', handWritten],
  ['hand-written pg unnest', handWrittenUnnest],
  ['sluice direct (at-least-once)', () => sluice(false)],
  [`sluice exactly-once (commit every ${EVERY})`, () => sluice(true)],
]
const times = new Map<string, number[]>(cases.map(([n]) => [n, []]))
const cpu = new Map<string, number[]>(cases.map(([n]) => [n, []]))
for (let run = 0; run < RUNS; run++) {
  for (const [name, f] of cases) {
    await freshTable()
    await db.query('CHECKPOINT')
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    await f()
    const s = (performance.now() - t0) / 1000
    const c1 = process.cpuUsage(c0)
    cpu.get(name)?.push((c1.user + c1.system) / 1e6)
    const n = await count()
    if (n !== ROWS) throw new Error(`${name} wrote ${n} rows, expected ${ROWS}`)
    times.get(name)?.push(s)
  }
}
await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
await db.query(`DELETE FROM sluice_progress WHERE target = $1`, [`public.${TABLE}`]).catch(() => undefined)
await db.end()

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rate = new Map([...times].map(([n, ts]) => [n, ROWS / median(ts)]))
const hand = rate.get(cases[0][0]) as number
console.log(`PostgreSQL sink, ${ROWS} rows of 6 columns, median of ${RUNS} runs`)
const cpuMedian = new Map([...cpu].map(([n, cs]) => [n, median(cs)]))
console.log('| writer | rows/s | vs hand-written INSERT | client CPU s |')
console.log('|---|---|---|---|')
for (const [n, r] of rate) console.log(`| ${n} | ${Math.round(r).toLocaleString('en-US')} | ${(r / hand).toFixed(2)}× | ${(cpuMedian.get(n) as number).toFixed(2)} |`)
console.log(JSON.stringify({
  bench: 'postgres-sink', rows: ROWS, runs: RUNS, checkpointEvery: EVERY,
  rowsPerSecond: Object.fromEntries([...rate].map(([n, r]) => [n, Math.round(r)])),
  clientCpuSeconds: Object.fromEntries([...cpuMedian].map(([n, c]) => [n, Number(c.toFixed(2))])),
}))
