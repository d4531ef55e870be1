/**
 * Nexmark from the brokers: the events published by `nexmark generate --out <broker URI>` (one JSON
 * event per message over 8 partitions), read back by a bounded source at parallelism 2, give q5
 * and q7 exactly the rows DuckDB computes with the reference SQL over the same events' file.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadQueryConnectors, nexmarkPipeline } from '../src/cli/nexmark-command.ts'
import { writeEventsFile } from '../src/nexmark/jsonl.ts'
import { memorySink } from '../src/testing/index.ts'
import { compareResults, openOracle } from './oracle/duckdb-oracle.ts'
import { deleteBrokerObject } from './support/broker-cleanup.ts'
import { requireService, SERVICES, uniqueName } from './support/services.ts'

const root = new URL('..', import.meta.url).pathname
const sluice = join(root, 'bin/sluice.js')
const EVENTS = 60_000
const SEED = 11
const RATE = 1000

let dir: string
let file: string
let oracle: Awaited<ReturnType<typeof openOracle>>
const created: string[] = []

const brokers = [
  { name: 'kafka', uri: () => `${SERVICES.kafka.uri}/${uniqueName('nexmark')}`, read: '?bounded=true' },
  { name: 'nats', uri: () => `${SERVICES.nats.uri}/${uniqueName('nexmark').replace(/[^A-Za-z0-9_-]/g, '_')}`, read: '?bounded=true' },
  // Redis streams are keys: generate writes KEY.0 … KEY.7, and the source reads them with ?partitions=8.
  { name: 'redis', uri: () => `${SERVICES.redis.uri}/${uniqueName('nexmark')}`, read: '?partitions=8&bounded=true' },
] as const

beforeAll(async () => {
  await Promise.all([requireService('kafka'), requireService('nats'), requireService('redis')])
  dir = mkdtempSync(join(tmpdir(), 'sluice-broker-nexmark-'))
  file = join(dir, 'events.jsonl')
  await writeEventsFile(file, { seed: SEED, eventsPerSecond: RATE }, EVENTS)
  oracle = await openOracle(file)
}, 120_000)

afterAll(async () => {
  oracle?.close()
  for (const uri of created) await deleteBrokerObject(uri).catch(() => {})
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe('Nexmark from a broker equals DuckDB on the same events', () => {
  for (const b of brokers) {
    it(`${b.name}: generate --out ${b.name}://…, then q5 and q7 at parallelism 2 from the bounded source`, async () => {
      const uri = b.uri()
      created.push(uri)
      const g = spawnSync(process.execPath, [sluice, 'nexmark', 'generate', '--events', String(EVENTS), '--seed', String(SEED), '--rate', String(RATE), '--out', uri], { cwd: root, encoding: 'utf8', timeout: 180_000 })
      expect(g.status, g.stderr).toBe(0)
      expect(g.stderr).toContain(`generated ${EVENTS} events`)
      for (const q of ['q5', 'q7']) {
        const sink = memorySink<Record<string, unknown>>()
        const o = { query: q, input: `${uri}${b.read}`, parallelism: '2' }
        await loadQueryConnectors(o)
        const p = nexmarkPipeline(o, sink)
        const result = await p.run().done
        expect(result.status).toBe('finished')
        const expected = await oracle.run(q)
        const cmp = compareResults(q, sink.records, expected)
        if (!cmp.equal) console.error(cmp.report)
        expect(cmp.equal).toBe(true)
        expect(expected.length).toBeGreaterThan(q === 'q5' ? 10 : 3)
      }
    }, 300_000)
  }
})
