/**
 * Every Nexmark query, run by Sluice on a generated event file, must give the same result as our
 * translation of the reference SQL run by DuckDB (multisets; the last row per id for q4). The
 * same query run on the in-job generator must give the same result as on the file, which proves
 * `nexmark run` processes exactly the events `nexmark generate` writes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nexmarkPipeline } from '../src/cli/nexmark-command.ts'
import { writeEventsFile } from '../src/nexmark/jsonl.ts'
import { QUERIES } from '../src/nexmark/queries/index.ts'
import { memorySink } from '../src/testing/index.ts'
import { compareResults, openOracle } from './oracle/duckdb-oracle.ts'

// 150 000 events at 1 000 events/s of event time: 150 s, so every window kind fires many times,
// auctions expire inside the run, and bidders have session gaps.
const EVENTS = 150_000
const RATE = 1000
const SEED = 7

let dir: string
let file: string
let oracle: Awaited<ReturnType<typeof openOracle>>

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-diff-'))
  file = join(dir, 'events.jsonl')
  await writeEventsFile(file, { seed: SEED, eventsPerSecond: RATE }, EVENTS)
  oracle = await openOracle(file)
}, 120_000)

afterAll(() => {
  oracle?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function runSluice(query: string, input: 'file' | 'generator', parallelism = 1): Promise<Record<string, unknown>[]> {
  const sink = memorySink<Record<string, unknown>>()
  const base = input === 'file' ? { query, input: file } : { query, events: String(EVENTS), seed: String(SEED), rate: String(RATE) }
  const p = nexmarkPipeline({ ...base, parallelism: String(parallelism) }, sink)
  await p.run().done
  return sink.records
}

describe('Nexmark: Sluice equals DuckDB running the reference SQL', () => {
  for (const q of Object.keys(QUERIES)) {
    it(`${q} on the event file`, async () => {
      const [actual, expected] = await Promise.all([runSluice(q, 'file'), oracle.run(q)])
      const cmp = compareResults(q, actual, expected)
      if (!cmp.equal) console.error(cmp.report)
      expect(cmp.equal).toBe(true)
      expect(expected.length).toBeGreaterThan(0)
    })
  }

  // Parallel subtasks (in one thread here): hash exchanges by key group, rebalance, watermarks
  // merged over every input channel, the generator split across source subtasks.
  for (const parallelism of [2, 4]) {
    for (const q of Object.keys(QUERIES)) {
      it(`${q} at parallelism ${parallelism} on the generator`, async () => {
        const [actual, expected] = await Promise.all([runSluice(q, 'generator', parallelism), oracle.run(q)])
        const cmp = compareResults(q, actual, expected)
        if (!cmp.equal) console.error(cmp.report)
        expect(cmp.equal).toBe(true)
      })
    }
  }

  // The event file split by byte ranges across source subtasks.
  for (const [q, parallelism] of [['q0', 2], ['q5', 3], ['q9', 2]] as const) {
    it(`${q} at parallelism ${parallelism} on the event file`, async () => {
      const [actual, expected] = await Promise.all([runSluice(q, 'file', parallelism), oracle.run(q)])
      const cmp = compareResults(q, actual, expected)
      if (!cmp.equal) console.error(cmp.report)
      expect(cmp.equal).toBe(true)
    })
  }

  for (const q of ['q3', 'q5', 'q9', 'q11']) {
    it(`${q} on the in-job generator equals ${q} on the generated file`, async () => {
      const [fromFile, fromGenerator] = await Promise.all([runSluice(q, 'file'), runSluice(q, 'generator')])
      expect(compareResults(q, fromGenerator, fromFile).equal).toBe(true)
      expect(fromGenerator.length).toBe(fromFile.length)
    })
  }
})
