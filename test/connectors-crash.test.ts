/**
 * Exactly-once through real brokers under kill -9: Nexmark q5 read from a broker at parallelism 2
 * on worker threads with checkpoints every 100 ms, the whole process killed with SIGKILL at 10
 * random moments (half during start-up or restore, half once the run has written a checkpoint of
 * its own), then the same command run to its end. The output the target holds must be exactly a
 * fault-free run's rows, as a multiset: nothing lost, nothing twice.
 *
 * - Kafka → Sluice → Kafka: the transactional sink, read back with isolation read_committed.
 * - JetStream → Sluice → PostgreSQL: the staging-table sink with its epoch-fenced progress row.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConnectors, sourceFromUri } from '../src/connectors/registry.ts'
import { readSource, TestSourceContext } from '../src/connectors/source-contract.ts'
import { SeededRandom } from '../src/testing/random.ts'
import { deleteBrokerObject } from './support/broker-cleanup.ts'
import { checkpointIds, runAndKill } from './support/kill.ts'
import { requireService, SERVICES, uniqueName } from './support/services.ts'

const root = new URL('..', import.meta.url).pathname
const sluice = join(root, 'bin/sluice.js')
// Enough input that a fast machine (q5 at ~130 K events/s once running) still needs more than the
// ten runs: a late kill lets a run persist at most ~300 ms of progress, an early one a checkpoint.
const EVENTS = 400_000
const SEED = 3
// 500 events/s of event time: 800 s, so q5's sliding windows fire many times.
const RATE = 500
const KILLS = 10
let dir: string
let reference: string[]
const created: string[] = []

/** A row as comparable text: keys sorted, numbers as numbers (PostgreSQL returns bigints as strings). */
function canonical(row: Record<string, unknown>): string {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(row).sort()) {
    const v = row[k]
    out[k] = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v
  }
  return JSON.stringify(out)
}

const sortedRows = (rows: Record<string, unknown>[]): string[] => rows.map(canonical).sort()

function generate(out: string): void {
  const g = spawnSync(process.execPath, [sluice, 'nexmark', 'generate', '--events', String(EVENTS), '--seed', String(SEED), '--rate', String(RATE), '--out', out], { cwd: root, encoding: 'utf8', timeout: 180_000 })
  expect(g.status, g.stderr).toBe(0)
}

/** Kills the run KILLS times at random moments, then runs it to its end; returns the kills done. */
async function killRepeatedly(args: string[], chk: string, seed: number): Promise<number> {
  const rnd = new SeededRandom(seed)
  let kills = 0
  for (let k = 0; k < KILLS; k++) {
    const end = await runAndKill(args, { cwd: root, chk, rnd, early: k % 2 === 1, maxDelayMs: 200 })
    if (!end.killed) {
      expect(end.code, `run ${k + 1} ended by itself: ${end.stderr}`).toBe(0)
      return kills
    }
    kills++
  }
  const resumes = checkpointIds(chk).length > 0
  const last = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000 })
  expect(last.status, last.stderr).toBe(0)
  if (resumes) expect(last.stderr).toMatch(/resuming from checkpoint \d+/)
  expect(last.stderr).toContain(`: ${EVENTS} events in `)
  return kills
}

function runArgs(input: string, out: string, chk: string): string[] {
  return [sluice, 'nexmark', 'run', '--query', 'q5', '--input', input, '--out', out, '--parallelism', '2', '--workers', '2', '--checkpoint-dir', chk, '--checkpoint-interval', '100ms', '--restart-attempts', '0', '--no-server']
}

beforeAll(async () => {
  await Promise.all([requireService('kafka'), requireService('nats'), requireService('postgres')])
  dir = mkdtempSync(join(tmpdir(), 'sluice-connectors-crash-'))
  const events = join(dir, 'events.jsonl')
  generate(events)
  const out = join(dir, 'reference.jsonl')
  const r = spawnSync(process.execPath, [sluice, 'nexmark', 'run', '--query', 'q5', '--input', events, '--out', out, '--workers', '0', '--no-server'], { cwd: root, encoding: 'utf8', timeout: 180_000 })
  expect(r.status, r.stderr).toBe(0)
  reference = sortedRows(readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>))
  expect(reference.length).toBeGreaterThan(50)
}, 300_000)

afterAll(async () => {
  for (const uri of created) await deleteBrokerObject(uri).catch(() => {})
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe(`exactly-once through real brokers under kill -9 (${KILLS} kills)`, () => {
  it('Kafka → Sluice (q5, parallelism 2, 2 workers) → Kafka (transactional): read_committed output equals a fault-free run', async () => {
    const input = `${SERVICES.kafka.uri}/${uniqueName('crash-in')}`
    const output = `${SERVICES.kafka.uri}/${uniqueName('crash-out')}`
    created.push(input, output)
    generate(input)
    const chk = join(dir, 'kafka-chk')
    const kills = await killRepeatedly(runArgs(`${input}?bounded=true`, `${output}?partitions=2&guarantee=exactly-once`, chk), chk, 11)
    expect(kills).toBeGreaterThanOrEqual(5)
    await loadConnectors([output])
    const rows = await readSource(sourceFromUri<Record<string, unknown>>(`${output}?bounded=true&isolation=read_committed`), new TestSourceContext('fail'))
    expect(sortedRows(rows)).toEqual(reference)
  }, 900_000)

  it('JetStream → Sluice (q5, parallelism 2, 2 workers) → PostgreSQL (staging + fenced progress row): the table equals a fault-free run', async () => {
    const stream = uniqueName('crash').replace(/[^A-Za-z0-9_-]/g, '_')
    const input = `${SERVICES.nats.uri}/${stream}`
    const table = uniqueName('q5_crash')
    const output = `${SERVICES.postgres.uri}?table=${table}`
    created.push(input, output)
    generate(input)
    const chk = join(dir, 'nats-chk')
    const kills = await killRepeatedly(runArgs(`${input}?bounded=true`, `${output}&create=true`, chk), chk, 13)
    expect(kills).toBeGreaterThanOrEqual(5)
    const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'root', database: 'test' })
    await client.connect()
    try {
      const r = await client.query<{ row: Record<string, unknown> }>(`SELECT row_to_json(t) AS row FROM "${table}" t`)
      expect(sortedRows(r.rows.map((x) => x.row))).toEqual(reference)
    } finally {
      await client.end()
    }
  }, 900_000)
})
