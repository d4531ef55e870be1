/**
 * State written by Sluice's snapshot format 2 (commit ce00643, before the state backend) restores
 * into today's operators and continues exactly (test/fixtures/state-v1/README.md):
 * - every stateful operator's snapshots of the shared restore scenarios, taken by 1 and by 2
 *   subtasks, restored at 1 and at 3 subtasks (key groups split);
 * - a savepoint of a job with every stateful operator, restored at parallelism 1 and 2: the
 *   output before the savepoint plus the restored job's equals the uninterrupted output.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clockAtCut, runFromSnapshot, type Emitted } from '../src/state/snapshot-test-support.ts'
import { keyOf, SCENARIOS, START_MS } from '../src/operators/restore-scenarios-test-support.ts'
import { canonical, newSinks, runOptions, SINKS, stateJob } from './fixtures/state-v1/job.ts'

const FIXTURES = join(import.meta.dirname, 'fixtures', 'state-v1')
const readGz = <T>(name: string): T => JSON.parse(gunzipSync(readFileSync(join(FIXTURES, name))).toString('utf8')) as T

interface OperatorFixture {
  uninterrupted: string[]
  lateDropped: number
  snapshots: Record<string, { parts: string[]; emitted: string[]; lateDropped: number }>
}
const operators = readGz<Record<string, OperatorFixture>>('operators.json.gz')
const line = (e: Emitted): string => JSON.stringify([e.at, e.side, e.time, e.value])

describe('format-2 operator snapshots restore into today\'s operators', () => {
  it('the fixture covers every scenario', () => {
    expect(Object.keys(operators).sort()).toEqual(SCENARIOS.map((s) => s.name).sort())
  })

  for (const s of SCENARIOS) {
    it(s.name, () => {
      const f = operators[s.name]
      const o = { make: s.make, keyOf: Array.from({ length: s.inputs }, () => keyOf as (v: never) => unknown), steps: s.script.steps, cut: s.script.cut, startMs: START_MS }
      for (const [before, snap] of Object.entries(f.snapshots)) {
        const parts = snap.parts.map((b) => new Uint8Array(Buffer.from(b, 'base64')))
        for (const after of s.sameParallelismOnly === true ? [1] : [1, 3]) {
          const r = runFromSnapshot({ ...o, after }, parts, clockAtCut(o.steps, o.cut, START_MS))
          const emitted = [...snap.emitted, ...r.emitted.map(line)]
          const what = `${before} -> ${after} subtasks`
          if (before === '1' && after === 1) expect(emitted, what).toEqual(f.uninterrupted)
          else expect(emitted.slice().sort(), what).toEqual(f.uninterrupted.slice().sort())
          expect(snap.lateDropped + r.lateDropped, what).toBe(f.lateDropped)
        }
      }
    })
  }
})

describe('a format-2 savepoint of a job with every stateful operator', () => {
  const output = readGz<{ beforeSavepoint: Record<string, string[]>; uninterrupted: Record<string, string[]> }>('job-output.json.gz')
  let dir: string
  let savepoint: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-state-v1-'))
    savepoint = join(dir, 'savepoint.sluice')
    copyFileSync(join(FIXTURES, 'savepoint.sluice'), savepoint)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  for (const parallelism of [1, 2]) {
    it(`restores at parallelism ${parallelism} and continues exactly`, async () => {
      const sinks = newSinks()
      const r = await stateJob({ at: Number.POSITIVE_INFINITY }, sinks).run({ ...runOptions(), parallelism, checkpoints: { dir: join(dir, `chk-${parallelism}`), intervalMs: 3_600_000, fromSavepoint: savepoint } }).done
      expect(r.status).toBe('finished')
      // Keyed operators ran at the parallelism asked for: each subtask restored its key groups.
      expect(r.metrics.operators.filter((o) => o.operator === 'process').length).toBe(parallelism)
      for (const s of SINKS) {
        expect(sinks[s].resumedAt, s).toBe(output.beforeSavepoint[s].length)
        expect(sinks[s].records.length, s).toBeGreaterThan(0)
        expect([...output.beforeSavepoint[s], ...canonical(sinks[s].records)].sort(), s).toEqual(output.uninterrupted[s])
      }
    }, 60_000)
  }

  it('the fixture job, run uninterrupted today, gives the output format-2 code gave', async () => {
    const sinks = newSinks()
    await stateJob({ at: Number.POSITIVE_INFINITY }, sinks).run(runOptions()).done
    for (const s of SINKS) expect(canonical(sinks[s].records), s).toEqual(output.uninterrupted[s])
  }, 60_000)
})
