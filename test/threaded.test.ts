/**
 * The runtime on worker threads: every Nexmark query gives the DuckDB oracle's result when its
 * subtasks run on two workers with cross-thread ring channels; a failing or crashing worker stops
 * the job with a clear error and leaves no thread behind; a job module that builds a different
 * plan in a worker is refused.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nexmarkJob } from '../src/cli/nexmark-command.ts'
import { writeEventsFile } from '../src/nexmark/jsonl.ts'
import { QUERIES } from '../src/nexmark/queries/index.ts'
import { failingJob } from './fixtures/failing-job.ts'
import { schemaJob } from './fixtures/schema-job.ts'
import { idleJob } from './fixtures/idle-job.ts'
import { unencodableJob } from './fixtures/unencodable-job.ts'
import { compareResults, openOracle } from './oracle/duckdb-oracle.ts'
import { operatorTotal } from '../src/metrics/task-metrics.ts'

const root = new URL('..', import.meta.url).pathname
let dir: string
let events: string
let oracle: Awaited<ReturnType<typeof openOracle>>

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-threads-'))
  events = join(dir, 'events.jsonl')
  await writeEventsFile(events, { seed: 7, eventsPerSecond: 1000 }, 100_000)
  oracle = await openOracle(events)
}, 120_000)

afterAll(() => {
  oracle?.close()
  rmSync(dir, { recursive: true, force: true })
})

const readRows = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)

describe('Nexmark on worker threads equals DuckDB', () => {
  const cases: [string, number][] = Object.keys(QUERIES).map((q) => [q, 2])
  cases.push(['q5', 4], ['q9', 4], ['q11', 3])
  for (const [q, parallelism] of cases) {
    it(`${q} at parallelism ${parallelism} on 2 workers`, async () => {
      const out = join(dir, `${q}-p${parallelism}.jsonl`)
      const r = await (await nexmarkJob({ query: q, events: '100000', seed: '7', rate: '1000', parallelism: String(parallelism), out })).run({ workers: 2 }).done
      expect(r.status).toBe('finished')
      expect(new Set(r.metrics.tasks.map((t) => t.subtask)).size).toBe(parallelism)
      const cmp = compareResults(q, readRows(out), await oracle.run(q))
      if (!cmp.equal) console.error(cmp.report)
      expect(cmp.equal).toBe(true)
    })
  }
})

describe('bad input on worker threads', () => {
  it('dead letters from every worker reach the one dead-letter file, none lost', async () => {
    const { writeFileSync } = await import('node:fs')
    const lines = readFileSync(events, 'utf8').split('\n').filter((l) => l.length > 0).slice(0, 30_000)
    const withBad: string[] = []
    lines.forEach((l, i) => {
      withBad.push(l)
      if (i % 1000 === 999) withBad.push(`{broken line ${i}`)
    })
    const input = join(dir, 'bad.jsonl')
    writeFileSync(input, `${withBad.join('\n')}\n`)
    const dead = join(dir, 'dead.jsonl')
    const r = await (await nexmarkJob({ query: 'q2', input, parallelism: '2', onError: 'dead-letter', deadLetter: dead, discard: true })).run({ workers: 2 }).done
    const letters = readRows(dead)
    expect(letters).toHaveLength(30)
    expect(letters.every((l) => String(l.reason).startsWith('invalid JSON'))).toBe(true)
    expect(operatorTotal(r.metrics, 'nexmark', 'deadLettered')).toBe(30)
  })
})

describe('declared schemas on worker threads', () => {
  it('records of a stream with a schema cross threads column-wise, every field intact', async () => {
    const out = join(dir, 'schema.jsonl')
    const job = schemaJob('ok', out, 20_000)
    expect(job.explain()).toMatch(/item -> check: hash \(keyBy, by key group\) exchange, 1 -> 2 subtasks, columnar \(5 fields\) across threads/)
    const r = await job.run({ workers: 2 }).done
    expect(r.status).toBe('finished')
    const rows = readRows(out) as { id: number; ok: boolean }[]
    expect(rows.map((x) => x.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 20_000 }, (_, i) => i))
    expect(rows.filter((x) => !x.ok)).toEqual([])
    // The keyed operator ran on both workers, so records did cross threads.
    const perSubtask = r.metrics.operators.filter((o) => o.operator === 'check').map((o) => o.recordsIn)
    expect(perSubtask.every((n) => n > 0)).toBe(true)
  })

  it('a record that does not fit the schema stops the job naming the field', async () => {
    const job = schemaJob('misfit', join(dir, 'misfit.jsonl'), 20_000).run({ workers: 2 })
    await expect(job.done).rejects.toThrow(/RECORD_FAILED: channel item -> check#1 \(between threads\): cannot encode record \d+, field "price": expected a number, got "oops"/)
  })
})

describe('records that cannot cross threads go through the policy of the operator that built them', () => {
  const ids = (rows: Record<string, unknown>[]): number[] => rows.map((r) => Number(r.id)).sort((a, b) => a - b)
  const all = Array.from({ length: 5000 }, (_, i) => i)

  it('a record nested 20 000 deep, under onError fail: RECORD_FAILED naming the channel, not retried', async () => {
    const job = unencodableJob('deep', 'fail', join(dir, 'deep-fail.jsonl'), join(dir, 'deep-fail-dead.jsonl'), 5000).run({ workers: 2, restart: { attempts: 3, delayMs: 0 } })
    let restarts = 0
    job.onRestart(() => restarts++)
    await expect(job.done).rejects.toThrow(/RECORD_FAILED: channel build -> keep-id#1 \(between threads\): cannot encode record \d+.*Maximum call stack size exceeded/)
    expect(restarts).toBe(0)
  })

  it('a record nested 20 000 deep, under skip: counted on the operator, the job finishes', async () => {
    const out = join(dir, 'deep-skip.jsonl')
    const r = await unencodableJob('deep', 'skip', out, join(dir, 'deep-skip-dead.jsonl'), 5000).run({ workers: 2 }).done
    expect(r.status).toBe('finished')
    const skipped = operatorTotal(r.metrics, 'build', 'skipped')
    expect(skipped).toBeGreaterThan(0)
    expect(skipped).toBeLessThan(7)
    expect(ids(readRows(out))).toHaveLength(5000 - skipped)
  })

  it('a record nested 20 000 deep, under dead-letter: a letter with a preview, every other record written', async () => {
    const out = join(dir, 'deep-dead.jsonl')
    const dead = join(dir, 'deep-dead-dead.jsonl')
    const r = await unencodableJob('deep', 'dead-letter', out, dead, 5000).run({ workers: 2 }).done
    expect(r.status).toBe('finished')
    const letters = readRows(dead)
    expect(letters.length).toBe(operatorTotal(r.metrics, 'build', 'deadLettered'))
    expect(letters.length).toBeGreaterThan(0)
    for (const l of letters) {
      expect(l).toMatchObject({ operator: 'build', position: 'output to build -> keep-id#1 (between threads)' })
      expect(String(l.record)).toMatch(/^\{"id":100\d,"nested":\{"a":\{"a":/)
    }
    const lettered = letters.map((l) => Number(/"id":(\d+)/.exec(String(l.record))?.[1]))
    expect(ids(readRows(out))).toEqual(all.filter((i) => !lettered.includes(i)))
  })

  it('a cyclic record, under dead-letter: a letter, the job finishes', async () => {
    const dead = join(dir, 'cycle-dead-dead.jsonl')
    const r = await unencodableJob('cycle', 'dead-letter', join(dir, 'cycle-dead.jsonl'), dead, 5000).run({ workers: 2 }).done
    expect(r.status).toBe('finished')
    const letters = readRows(dead)
    expect(letters.length).toBeGreaterThan(0)
    expect(String(letters[0].record)).toMatch(/^\{"id":100\d,"self":\{"id":100\d,"self":/)
  })
})

describe('stopping on worker threads', () => {
  it('regression: stop() while the workers still load the job stops it (the stop was dropped before a worker had its runner)', async () => {
    // An unbounded job: without the stop it never ends. stop() right after run() reaches every
    // worker before it has built its tasks.
    const job = idleJob(undefined).run({ workers: 2 })
    const result = await job.stop()
    expect(result.status).toBe('stopped')
    expect(job.status()).toBe('stopped')
  })
})

describe('watermarks across threads', () => {
  const windowsFired = async (idleTimeoutMs: number | undefined): Promise<number[]> => {
    const job = idleJob(idleTimeoutMs).run({ workers: 2 })
    const end = performance.now() + 40_000
    const perSecond = (s: number) => job.metrics().operators.find((o) => o.operator === 'per-second' && o.subtask === s)
    const fired = (): number[] => [0, 1].map((s) => perSecond(s)?.recordsOut ?? 0)
    const received = (): number[] => [0, 1].map((s) => perSecond(s)?.recordsIn ?? 0)
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
    // Until both window subtasks report (in their workers' metrics, which also carry what they
    // fired) 2 000 records or more: even the subtask with the fewest keys (~1 in 7 records) has
    // then seen ~130 s of event time, so had the watermark advanced, windows would have fired.
    // With an idle timeout, then until they fire. Waiting for what the metrics say, not for a
    // second, keeps "nothing fired" meaningful on a loaded machine (start-up alone can take seconds).
    try {
      while (performance.now() < end && !received().every((n) => n >= 2_000)) await sleep(100)
      expect(received().every((n) => n >= 2_000), `records reached both window subtasks: ${received().join(', ')}`).toBe(true)
      while (idleTimeoutMs !== undefined && performance.now() < end && !fired().every((n) => n > 0)) await sleep(100)
      return fired()
    } finally {
      await job.stop()
    }
  }

  it('an idle input on another thread does not stall the windows (idle timeout)', async () => {
    const fired = await windowsFired(300)
    expect(fired[0]).toBeGreaterThan(0)
    expect(fired[1]).toBeGreaterThan(0)
  }, 60_000)

  it('without an idle timeout the silent input holds the watermark back', async () => {
    expect(await windowsFired(undefined)).toEqual([0, 0])
  }, 60_000)
})

describe('failures on worker threads', () => {
  it('an exception in a worker stops the job with the operator, subtask and cause', async () => {
    const job = failingJob('throw').run({ workers: 2 })
    await expect(job.done).rejects.toThrow(/RECORD_FAILED: operator "explode" \(subtask \d of 2\) failed on input record #\d+: boom at 5000.*\(worker \d of 2\)/)
    expect(job.status()).toBe('failed')
  })

  it('a worker that dies stops the job with WORKER_FAILED', async () => {
    const job = failingJob('exit').run({ workers: 2 })
    await expect(job.done).rejects.toThrow(/WORKER_FAILED: worker \d of 2 exited with code 3 before the job finished/)
  })

  it('the CLI exits with the error, no hung process or orphan threads', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/failing-job.ts', '--parallelism', '2'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(r.signal).toBeNull()
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/RECORD_FAILED: operator "explode"/)
  })

  it('a job module that builds another plan in a worker is refused', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/random-job.ts', '--parallelism', '2'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/JOB_NOT_DETERMINISTIC: worker \d imported .*random-job.ts and built a different job/)
  })
})
