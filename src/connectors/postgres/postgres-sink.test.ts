import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import { sinkContract, testSinkContext } from '../sink-contract.ts'
import type { SinkCommit, SinkContext, SinkWriter } from '../spi.ts'
import { postgresSink, type PostgresSinkOptions } from './postgres-sink.ts'

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
  if (await exists('sluice_stage')) await db.query('DELETE FROM sluice_stage WHERE target = ANY($1)', [targets])
  if (await exists('sluice_progress')) await db.query('DELETE FROM sluice_progress WHERE target = ANY($1)', [targets])
  await db.end()
})

async function exists(table: string): Promise<boolean> {
  return (await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])).rows[0].t !== null
}

interface Row {
  id: number
  name: string
  ok: boolean
  meta: unknown
}

const sample: Row[] = Array.from({ length: 60 }, (_, i) => ({
  id: i,
  name: i % 7 === 0 ? `quote ' and "double" ; DROP TABLE x; -- ${i}` : `name ${i} é 日本`,
  ok: i % 2 === 0,
  meta: i % 5 === 0 ? null : i % 3 === 0 ? [i, 'x', { deep: true }] : { n: i / 3, s: 'v' },
}))

/** A fresh table with an identity column giving the order rows arrived in. */
async function freshTable(extra = ''): Promise<string> {
  const t = uniqueName('pgsink')
  tables.push(t)
  await db.query(`CREATE TABLE "${t}" (_order bigint GENERATED ALWAYS AS IDENTITY, id double precision ${extra}, name text, ok boolean, meta jsonb)`)
  return t
}

async function rows(table: string, order = '_order'): Promise<Row[]> {
  return (await db.query<Row>(`SELECT id, name, ok, meta FROM "${table}" ORDER BY ${order}`)).rows
}

function sinkOn(table: string, more: Partial<PostgresSinkOptions> = {}) {
  return postgresSink<Row>({ connection: URI, table, ...more })
}

/** A context whose bad records are collected instead of failing. */
function collectingContext(sinkId: string, subtaskIndex = 0): SinkContext & { bad: { record: unknown; reason: string }[] } {
  const bad: { record: unknown; reason: string }[] = []
  return { sinkId, clock: { now: () => 0 }, subtaskIndex, parallelism: 2, bad, reportBadRecord: (record, reason) => bad.push({ record, reason }) }
}

/** A crash: the server ends the writer's session (its process died), the writer is dropped. */
async function crash(sinkId: string, subtask = 0): Promise<void> {
  await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`sluice ${sinkId}/${subtask}`])
}

async function staged(table: string): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM sluice_stage WHERE target = $1', [`public.${table}`])).rows[0].n)
}

sinkContract('postgresSink exactly-once (insert)', async () => {
  const t = await freshTable()
  return { sink: sinkOn(t, { batchRows: 16 }), written: () => rows(t) }
}, sample, { exactlyOnce: true })

sinkContract('postgresSink at-least-once (direct inserts)', async () => {
  const t = await freshTable()
  return { sink: sinkOn(t, { exactlyOnce: false, batchRows: 16 }), written: () => rows(t) }
}, sample, { exactlyOnce: false })

describe('postgresSink exactly-once across crashes', () => {
  const [a, b, c] = [sample.slice(0, 20), sample.slice(20, 40), sample.slice(40)]

  it('a crash between preCommit and commit: recovery commits the checkpoint once, and again recovering from it adds nothing', async () => {
    const t = await freshTable()
    const id = uniqueName('s')
    const ctx = { ...testSinkContext, sinkId: id }
    const w1 = await sinkOn(t).open(ctx)
    await w1.write(a)
    const first = await w1.preCommit!(1)
    await crash(id)
    expect(await rows(t), 'nothing is visible before the commit').toEqual([])
    const w2 = await sinkOn(t).open(ctx, JSON.parse(JSON.stringify(first)) as SinkCommit)
    expect(await rows(t)).toEqual(a)
    await w2.write(b)
    await w2.commit!(await w2.preCommit!(2))
    await crash(id)
    const w3 = await sinkOn(t).open(ctx, first)
    expect(await rows(t), 'checkpoint 2 stays committed; recovering from 1 does not repeat 1').toEqual([...a, ...b])
    await w3.abort()
    await Promise.all([w1.abort(), w2.abort()])
  })

  it('a crash mid-epoch, with chunks already staged, drops them on recovery', async () => {
    const t = await freshTable()
    const id = uniqueName('s')
    const ctx = { ...testSinkContext, sinkId: id }
    const w1 = await sinkOn(t, { batchRows: 4 }).open(ctx)
    await w1.write(a)
    const first = await w1.preCommit!(1)
    await w1.commit!(first)
    await w1.write(b)
    expect(await staged(t), 'b is staged in chunks before any pre-commit').toBeGreaterThan(0)
    await crash(id)
    const w2 = await sinkOn(t, { batchRows: 4 }).open(ctx, first)
    expect(await staged(t)).toBe(0)
    expect(await rows(t)).toEqual(a)
    await w2.write([...b, ...c])
    await w2.close()
    expect(await rows(t)).toEqual(sample)
    await w1.abort()
  })

  it.each(['insert', 'upsert'] as const)('crashes at 12 random moments of a checkpointed run end with every record exactly once (%s)', async (mode) => {
    const t = await freshTable(mode === 'upsert' ? 'PRIMARY KEY' : '')
    const id = uniqueName('s')
    const ctx = { ...testSinkContext, sinkId: id }
    const records = Array.from({ length: 1200 }, (_, i) => ({ id: i, name: `r${i}`, ok: true, meta: { i } }))
    let seed = 7
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    let completed: { commit: SinkCommit; position: number } | null = null
    let ckpt = 0
    let started = false
    const dropped: SinkWriter<Row>[] = []
    for (let run = 0; ; run++) {
      const sink = sinkOn(t, { batchRows: 9, mode, key: ['id'] })
      const w: SinkWriter<Row> = await (started ? sink.open(ctx, completed?.commit ?? null) : sink.open(ctx))
      started = true
      let at: number = completed?.position ?? 0
      const crashAt = run < 12 ? at + 5 + Math.floor(random() * 80) : Infinity
      const moment = Math.floor(random() * 3) // 0 mid-epoch, 1 after pre-commit, 2 after completion before commit
      let crashed = false
      while (at < records.length && !crashed) {
        await w.write(records.slice(at, at + 13))
        at = Math.min(at + 13, records.length)
        if (at % 52 === 0 || at >= crashAt) {
          const commit = await w.preCommit!(++ckpt)
          if (at >= crashAt && moment === 1) crashed = true
          else {
            completed = { commit: JSON.parse(JSON.stringify(commit)) as SinkCommit, position: at }
            if (at >= crashAt && moment === 2) crashed = true
            else await w.commit!(commit)
          }
        }
        if (at >= crashAt && moment === 0) crashed = true
      }
      if (crashed) {
        await crash(id)
        dropped.push(w)
        continue
      }
      await w.close!()
      break
    }
    expect(dropped.length).toBe(12)
    const out = await rows(t, 'id')
    expect(out.map((r) => r.id)).toEqual(records.map((r) => r.id))
    for (const w of dropped) await w.abort!()
  })
})

describe('postgresSink at-least-once recovery', () => {
  it('reopens from its own pre-commit, or an exactly-once one, and writes on; a commit after close is a no-op', async () => {
    const t = await freshTable()
    const ctx = { ...testSinkContext, sinkId: uniqueName('s') }
    const w1 = await sinkOn(t, { exactlyOnce: false }).open(ctx)
    await w1.write(sample.slice(0, 10))
    const commit = await w1.preCommit!(1)
    expect(commit).toEqual({ table: `public.${t}` })
    expect(await rows(t), 'a pre-commit makes the rows durable in the table').toEqual(sample.slice(0, 10))
    await w1.abort()
    const w2 = await sinkOn(t, { exactlyOnce: false }).open(ctx, commit)
    await w2.write(sample.slice(10, 20))
    await w2.close()
    await w2.commit!(commit)
    const w3 = await sinkOn(t).open(ctx, commit)
    await w3.write(sample.slice(20))
    await w3.close()
    expect(await rows(t)).toEqual(sample)
  })
})

describe('postgresSink fencing', () => {
  it("an older writer's pre-commit, commit and close after a newer writer opened fail with CONNECTOR_FENCED and write nothing", async () => {
    const t = await freshTable()
    const id = uniqueName('s')
    const ctx = { ...testSinkContext, sinkId: id }
    const old = await sinkOn(t).open(ctx)
    await old.write(sample.slice(0, 10))
    const commit = await old.preCommit!(1)
    const newer = await sinkOn(t).open(ctx, null)
    await expect(old.commit!(commit)).rejects.toMatchObject({ code: 'CONNECTOR_FENCED' })
    expect(await rows(t)).toEqual([])
    const zombie = await sinkOn(t).open({ ...ctx })
    const newest = await sinkOn(t).open(ctx, null)
    await zombie.write(sample.slice(0, 5))
    await expect(zombie.preCommit!(1)).rejects.toMatchObject({ code: 'CONNECTOR_FENCED' })
    await expect(newer.close()).rejects.toMatchObject({ code: 'CONNECTOR_FENCED' })
    expect(await rows(t)).toEqual([])
    await newest.write(sample.slice(10, 15))
    await newest.commit!(await newest.preCommit!(1))
    await newest.close()
    expect(await rows(t)).toEqual(sample.slice(10, 15))
    await Promise.all([old.abort(), zombie.abort()])
  })

  it('subtasks have their own progress rows: opening one does not fence another', async () => {
    const t = await freshTable()
    const id = uniqueName('s')
    const w0 = await sinkOn(t).open(collectingContext(id, 0))
    const w1 = await sinkOn(t).open(collectingContext(id, 1))
    await w0.write(sample.slice(0, 30))
    await w1.write(sample.slice(30))
    const [c0, c1] = [await w0.preCommit!(1), await w1.preCommit!(1)]
    await w0.commit!(c0)
    await w1.commit!(c1)
    await Promise.all([w0.close(), w1.close()])
    expect(await rows(t, 'id')).toEqual(sample)
  })
})

describe('postgresSink upsert', () => {
  for (const exactlyOnce of [true, false]) {
    it(`keeps the last value per key, in a batch, across batches and over existing rows (exactlyOnce ${exactlyOnce})`, async () => {
      const t = uniqueName('pgup')
      tables.push(t)
      await db.query(`CREATE TABLE "${t}" (k text, region int, n bigint NOT NULL, note text, PRIMARY KEY (k, region))`)
      await db.query(`INSERT INTO "${t}" VALUES ('old', 1, 1, 'before'), ('kept', 1, 7, 'untouched')`)
      const sink = postgresSink<{ k: string; region: number; n: number; note: string }>({ connection: URI, table: t, mode: 'upsert', key: ['k', 'region'], exactlyOnce, batchRows: 3 })
      const w = await sink.open(collectingContext(uniqueName('s')))
      await w.write([{ k: 'a', region: 1, n: 1, note: 'x' }, { k: 'a', region: 1, n: 2, note: 'y' }, { k: 'a', region: 2, n: 3, note: 'z' }, { k: 'old', region: 1, n: 4, note: 'after' }])
      if (exactlyOnce) await w.commit!(await w.preCommit!(1))
      await w.write([{ k: 'a', region: 1, n: 5, note: 'last' }, { k: 'b', region: 1, n: 6, note: 'b' }, { k: 'b', region: 1, n: 9, note: 'b2' }])
      await w.close()
      const out = (await db.query(`SELECT k, region, n::int AS n, note FROM "${t}" ORDER BY k, region`)).rows
      expect(out).toEqual([
        { k: 'a', region: 1, n: 5, note: 'last' },
        { k: 'a', region: 2, n: 3, note: 'z' },
        { k: 'b', region: 1, n: 9, note: 'b2' },
        { k: 'kept', region: 1, n: 7, note: 'untouched' },
        { k: 'old', region: 1, n: 4, note: 'after' },
      ])
    })
  }

  it('needs a unique index on the key: CONNECTOR_NOT_FOUND with the statement that creates it', async () => {
    const t = await freshTable()
    const w = await sinkOn(t, { mode: 'upsert', key: ['id'] }).open(collectingContext(uniqueName('s')))
    await expect(Promise.resolve().then(() => w.write(sample))).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining(`CREATE UNIQUE INDEX ON "public"."${t}" ("id")`) })
    await w.abort()
  })
})
