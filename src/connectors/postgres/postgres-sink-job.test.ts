import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import { Pipeline, type RestartEvent } from '../../api/pipeline.ts'
import { generatorSource } from '../generator-source.ts'
import { postgresSink } from './postgres-sink.ts'

const URI = SERVICES.postgres.uri
let db: pg.Client
const table = uniqueName('pgjob')
let dir: string

beforeAll(async () => {
  await requireService('postgres')
  db = new pg.Client({ connectionString: URI })
  await db.connect()
  dir = mkdtempSync(join(tmpdir(), 'sluice-pgjob-'))
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (db === undefined) return
  await db.query(`DROP TABLE IF EXISTS "${table}"`)
  await db.query('DELETE FROM sluice_stage WHERE target = $1', [`public.${table}`]).catch(() => undefined)
  await db.query('DELETE FROM sluice_progress WHERE target = $1', [`public.${table}`]).catch(() => undefined)
  await db.end()
})

async function committed(): Promise<number> {
  const r = await db.query<{ ckpt: string }>('SELECT ckpt FROM sluice_progress WHERE target = $1', [`public.${table}`]).catch(() => ({ rows: [] }))
  return r.rows.length === 0 ? -1 : Number(r.rows[0].ckpt)
}

describe('postgresSink in a checkpointed job', () => {
  it('the sink session killed 3 times mid-run: the job restarts from its checkpoints and every record is in the table once', async () => {
    const count = 30_000
    const sinkId = uniqueName('out')
    const p = new Pipeline(uniqueName('pgjob'))
    p.source('n', generatorSource((i) => ({ id: i, label: `r${i}` }), { count, ratePerSecond: 6_000 }))
      .to(sinkId, postgresSink({ connection: URI, table, createTable: true, batchRows: 500 }))
    const job = p.run({ checkpoints: { dir, intervalMs: 100 }, restart: { attempts: 5, delayMs: 0, resetMs: 600_000 } })
    const restarts: RestartEvent[] = []
    job.onRestart((e) => restarts.push(e))
    let ended = false
    job.done.catch(() => undefined).finally(() => (ended = true))
    for (let kill = 0; kill < 3; kill++) {
      // Wait for a commit of this attempt (the checkpoint id moved on), then end the sink's session.
      const before = await committed()
      await until(async () => ((await committed()) > before + 1 || ended ? true : undefined), 'a checkpoint committed into PostgreSQL', 60_000)
      if (ended) break
      await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`sluice ${sinkId}/0`])
      await until(() => (restarts.length > kill || ended ? true : undefined), 'the job to restart', 60_000)
    }
    expect((await job.done).status).toBe('finished')
    expect(restarts.length).toBe(3)
    const r = await db.query<{ n: string; d: string; lo: number; hi: number }>(`SELECT count(*) AS n, count(DISTINCT id) AS d, min(id) AS lo, max(id) AS hi FROM "${table}"`)
    expect(r.rows[0]).toEqual({ n: String(count), d: String(count), lo: 0, hi: count - 1 })
  }, 120_000)
})
