/**
 * Exactly-once with calls in flight (issue 14): a job (test/fixtures/async-job.ts) sends each
 * record to a real HTTP service on loopback (test/support/number-service.ts, answering after
 * 1-20 ms) through an asynchronous operator with many calls in flight, and writes the answers to
 * the exactly-once file sink with checkpoints every 50 ms. The process is killed with SIGKILL at
 * random moments (seeded) and run again with the same command until it finishes. The output must
 * equal a fault-free run's (no answer lost, none twice), while the service sees every record at
 * least once and the records in flight at a kill's checkpoint twice: calls are at-least-once,
 * output exactly-once.
 *
 * Before each resume the test reads the checkpoint it resumes from: the records the asynchronous
 * operator holds, and the calls the job had in flight when the barrier passed (the job's witness
 * operator records them in the same snapshot step). Those calls must be among the held records,
 * every held record must be called again, and some kill must come after a checkpoint with calls in
 * flight — so the trials cannot pass on quiet checkpoints alone.
 *
 * The service is the bottleneck, so the operator's input channel is full. In one thread a barrier
 * overtakes the records queued there (Task.overtakeBarrier) and checkpoints come at the interval,
 * those records in the snapshot; from another worker (a ring channel) it waits behind them, so
 * there checkpoints come every ring's worth of records. And no checkpoint comes once the source has
 * read its whole input into the queues (a run resumed near the end may finish unkilled). The inputs
 * are sized so that the first two runs of each trial have input left for several checkpoints: the
 * ordered trial's 40 000 records at ~2-3 K calls/s, the batched trial's 250 000 at ~20-40 K/s (at
 * 100 000 a quiet machine once finished its second run before a second kill).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CheckpointStorage, type Checkpoint } from '../src/runtime/checkpoint/storage.ts'
import { decodeSnapshot } from '../src/state/snapshot.ts'
import { SeededRandom } from '../src/testing/random.ts'
import { NumberService, valueOf, type ServedRequest } from './support/number-service.ts'
import { checkpointIds, runAndKill } from './support/kill.ts'
import { heldBySubtask } from './support/async-checkpoints.ts'

const root = new URL('..', import.meta.url).pathname
const job = [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/async-job.ts', '--no-server']
/** Records in the inputs: the ordered trial's (one call per record, ~2-3 K calls/s here) and the batched trial's. */
const ORDERED_RECORDS = 40_000
const BATCHED_RECORDS = 250_000
let dir: string
let service: NumberService
/** Input files by record count. */
const inputs = new Map<number, string>()
/** The fault-free run's output by record count: every answer once, in input order. */
const reference = new Map<number, string>()

/**
 * Runs the job to its end, without a kill. Asynchronous (not spawnSync): the service answering it
 * runs in this process.
 */
function runToEnd(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  // A deadline, not a wait: a job that hangs is killed rather than left behind the test.
  const child = spawn(process.execPath, [...job, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 240_000, killSignal: 'SIGKILL' })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (s: string) => (stderr += s))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })))
}

const sortedLines = (text: string): string[] => text.split('\n').filter((l) => l !== '').sort()

const lines = (n: number, line: (id: number) => string): string => `${Array.from({ length: n }, (_, i) => line(i + 1)).join('\n')}\n`

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-async-crash-'))
  for (const n of [ORDERED_RECORDS, BATCHED_RECORDS]) {
    inputs.set(n, join(dir, `items-${n}.jsonl`))
    writeFileSync(inputs.get(n) as string, lines(n, (id) => JSON.stringify({ id })))
  }
  service = await NumberService.start()
  // The reference: the larger input with batched calls (the fastest), one subtask, no checkpoints;
  // the smaller input's is its first lines. Each answer is a pure function of its record.
  const out = join(dir, 'reference.jsonl')
  const r = await runToEnd(['--workers', '0'], { ASYNC_INPUT: inputs.get(BATCHED_RECORDS) as string, ASYNC_OUT: out, ASYNC_SERVICE: service.url, ASYNC_MODE: 'batch' })
  expect(r.code, r.stderr).toBe(0)
  const text = readFileSync(out, 'utf8')
  expect(text).toBe(lines(BATCHED_RECORDS, (id) => JSON.stringify({ id, value: valueOf(id) })))
  reference.set(BATCHED_RECORDS, text)
  reference.set(ORDERED_RECORDS, lines(ORDERED_RECORDS, (id) => JSON.stringify({ id, value: valueOf(id) })))
  expect(text.startsWith(reference.get(ORDERED_RECORDS) as string)).toBe(true)
}, 120_000)

afterAll(async () => {
  await service?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The ids whose calls the job had in flight when checkpoint `c`'s barrier passed (the witness's snapshots). */
function inFlightAt(c: Checkpoint): number[] {
  return c.tasks.flatMap((t) => (t.operators.witness === undefined ? [] : (decodeSnapshot(Buffer.concat(t.operators.witness)).operatorState as number[])))
}

/**
 * Of the records checkpoint `c` holds, those whose call had reached the service before the
 * checkpoint's barrier passed the operator, from the service's log of `run` (the run that took the
 * checkpoint): the service's side of the witness, reported, not asserted — a lower bound, which a
 * loaded machine's timings make zero now and then. The barrier's time is not in the checkpoint,
 * but it has a lower bound: a record that its subtask took in before the barrier (a subtask takes
 * its input in id order, so any id up to the largest it holds) and that is not held had left the
 * operator by then, so its answer had come back. A held record whose request the service had
 * received before such an answer was in flight (or answered, waiting for its turn) at the
 * snapshot. A subtask's requests are told by their thread: null when two subtasks share one.
 */
function reachedServiceBeforeSnapshot(c: Checkpoint, log: readonly ServedRequest[], run: number): number | null {
  const held = heldBySubtask(c, (r) => (r as { id: number }).id)
  const all = new Set([...held.values()].flat())
  const ofRun = log.filter((q) => q.run === run)
  const subtasks = [...held.values()].filter((ids) => ids.length > 0).map((ids) => {
    const mine = new Set(ids)
    const calls = ofRun.filter((q) => q.ids.some((id) => mine.has(id)))
    return { mine, calls, maxHeld: Math.max(...ids), threads: new Set(calls.map((q) => q.thread)) }
  })
  const threads = subtasks.flatMap((t) => [...t.threads])
  if (new Set(threads).size !== threads.length) return null
  let count = 0
  for (const { mine, calls, maxHeld, threads: [thread] } of subtasks.map((t) => ({ ...t, threads: [...t.threads] }))) {
    let barrierAfter = -Infinity
    for (const q of ofRun) {
      if (q.thread === thread && q.ids.every((id) => id <= maxHeld && !all.has(id))) barrierAfter = Math.max(barrierAfter, q.answeredAt)
    }
    for (const q of calls) if (q.at < barrierAfter) count += q.ids.filter((id) => mine.has(id)).length
  }
  return count
}

interface Resume {
  readonly run: number
  readonly checkpoint: number
  readonly held: number
  /** Calls in flight in the job when the barrier passed (the witness). */
  readonly inFlight: number
  /** Of those, records the checkpoint does not hold (must be none). */
  readonly inFlightNotHeld: number
  /** Held records whose call had reached the service before the snapshot (reachedServiceBeforeSnapshot; null: not told). */
  readonly reachedService: number | null
  /** Held records not called again in this run or a later one (must be none). */
  readonly notCalledAgain: number
}

interface Trial {
  readonly out: string
  readonly records: number
  readonly kills: number
  readonly resumes: Resume[]
}

/**
 * Runs the job with checkpoints, killing it after each new checkpoint (plus a random delay) or
 * early (start-up, restore) on the runs in `early`, until it finishes by itself or `maxKills`
 * kills; then once more to the end. Before each run, notes the checkpoint it resumes from.
 */
async function killLoop(name: string, mode: string, records: number, args: (run: number) => string[], seed: number, o: { maxKills: number; early: number[]; afterCheckpoints: number; maxDelayMs: number }): Promise<Trial> {
  const out = join(dir, `${name}.jsonl`)
  const chk = join(dir, `${name}-checkpoints`)
  const storage = new CheckpointStorage(chk, 3, () => {})
  const runArgs = (run: number): string[] => [...args(run), '--checkpoint-dir', chk, '--checkpoint-interval', '50ms', '--restart-attempts', '0']
  service.log.length = 0
  service.maxInFlight = 0
  const env = (run: number): Record<string, string> => ({ ASYNC_INPUT: inputs.get(records) as string, ASYNC_OUT: out, ASYNC_SERVICE: service.url, ASYNC_MODE: mode, ASYNC_RUN: String(run) })
  const rnd = new SeededRandom(seed)
  /** Checkpoint id → the run that wrote it. */
  const writtenBy = new Map<number, number>()
  const pending: { run: number; checkpoint: Checkpoint }[] = []
  let kills = 0
  let finished = false
  for (let run = 1; !finished; run++) {
    const from = storage.latest()
    if (from !== null) pending.push({ run, checkpoint: from })
    if (kills < o.maxKills) {
      const end = await runAndKill([...job, ...runArgs(run)], { cwd: root, env: env(run), chk, rnd, early: o.early.includes(run), afterCheckpoints: o.afterCheckpoints, maxDelayMs: o.maxDelayMs })
      if (end.killed) kills++
      else {
        // A run that finished by itself is the trial's last: running it again would start afresh.
        expect(end.code, `run ${run} ended by itself: ${end.stderr}`).toBe(0)
        finished = true
      }
    } else {
      const last = await runToEnd(runArgs(run), env(run))
      expect(last.code, last.stderr).toBe(0)
      if (from !== null) expect(last.stderr).toMatch(/resuming from checkpoint \d+/)
      finished = true
    }
    for (const id of checkpointIds(chk)) if (!writtenBy.has(id)) writtenBy.set(id, run)
  }
  // A run that completes clears its checkpoints.
  expect(existsSync(chk) ? readdirSync(chk).filter((n) => n.endsWith('.sluice')) : []).toEqual([])
  const resumes = pending.map(({ run, checkpoint }): Resume => {
    const held = [...heldBySubtask(checkpoint, (r) => (r as { id: number }).id).values()].flat()
    const heldSet = new Set(held)
    const inFlight = inFlightAt(checkpoint)
    const calledAgain = new Set(service.log.filter((q) => q.run >= run).flatMap((q) => q.ids))
    const by = writtenBy.get(checkpoint.id) ?? -1
    return {
      run,
      checkpoint: checkpoint.id,
      held: held.length,
      inFlight: inFlight.length,
      inFlightNotHeld: inFlight.filter((id) => !heldSet.has(id)).length,
      reachedService: reachedServiceBeforeSnapshot(checkpoint, service.log, by),
      notCalledAgain: held.filter((id) => !calledAgain.has(id)).length,
    }
  })
  return { out, records, kills, resumes }
}

/** What the service saw of a trial, for the report and the assertions. */
function served(): { requests: number; records: number; distinct: number; calledTwice: number; maxInFlight: number } {
  const times = new Map<number, number>()
  for (const q of service.log) for (const id of q.ids) times.set(id, (times.get(id) ?? 0) + 1)
  return { requests: service.log.length, records: service.recordsServed(), distinct: times.size, calledTwice: [...times.values()].filter((n) => n > 1).length, maxInFlight: service.maxInFlight }
}

function report(name: string, t: Trial, startedAt: number): void {
  const s = served()
  process.stdout.write(`${name}: ${t.kills} kills in ${Math.round((performance.now() - startedAt) / 1000)} s; service: ${s.requests} requests for ${s.records} records (${t.records} in the input; ${s.calledTwice} called more than once), at most ${s.maxInFlight} in flight; resumes: ${t.resumes.map((r) => `run ${r.run} from checkpoint ${r.checkpoint} holding ${r.held} records, ${r.inFlight} of them in calls in flight at the snapshot (${r.reachedService ?? 'n/a'} seen by the service before it)`).join('; ')}\n`)
}

/** The assertions every trial shares, about the service's log and the resumes. */
function expectCallsAtLeastOnce(t: Trial, concurrency: number): void {
  const s = served()
  // Every record was called; the records held at a kill's checkpoint were called again.
  expect(s.distinct).toBe(t.records)
  expect(s.records).toBeGreaterThanOrEqual(t.records)
  // Many calls at the service at once (all `concurrency` nearly always; half, however loaded the machine).
  expect(s.maxInFlight).toBeGreaterThanOrEqual(concurrency / 2)
  for (const r of t.resumes) {
    expect(r.inFlightNotHeld, `run ${r.run}: calls in flight at checkpoint ${r.checkpoint} that it does not hold`).toBe(0)
    expect(r.notCalledAgain, `run ${r.run}: records of checkpoint ${r.checkpoint} never called again`).toBe(0)
  }
  // At least one kill came after a checkpoint taken with calls in flight.
  expect(Math.max(0, ...t.resumes.map((r) => r.inFlight))).toBeGreaterThan(0)
  expect(s.calledTwice).toBeGreaterThan(0)
}

describe('asynchronous calls in flight across kill -9', () => {
  it('ordered mapAsync, one thread: killed and resumed, the output is byte-identical to a fault-free run', async () => {
    const startedAt = performance.now()
    const t = await killLoop('ordered', 'ordered', ORDERED_RECORDS, () => ['--workers', '0'], 7, { maxKills: 3, early: [], afterCheckpoints: 1, maxDelayMs: 1000 })
    report('ordered mapAsync, 1 thread', t, startedAt)
    expect(t.kills).toBeGreaterThanOrEqual(2)
    expect(readFileSync(t.out, 'utf8')).toBe(reference.get(ORDERED_RECORDS))
    expectCallsAtLeastOnce(t, 32)
  }, 300_000)

  it('mapAsyncBatch at parallelism 2 on 2 worker threads: killed and resumed, the output holds each answer once', async () => {
    const startedAt = performance.now()
    const t = await killLoop('batch', 'batch', BATCHED_RECORDS, () => ['--parallelism', '2', '--workers', '2'], 11, { maxKills: 4, early: [3], afterCheckpoints: 2, maxDelayMs: 400 })
    report('mapAsyncBatch, parallelism 2 on 2 workers', t, startedAt)
    expect(t.kills).toBeGreaterThanOrEqual(2)
    expect(sortedLines(readFileSync(t.out, 'utf8'))).toEqual(sortedLines(reference.get(BATCHED_RECORDS) as string))
    expectCallsAtLeastOnce(t, 16)
  }, 300_000)

  it('unordered mapAsync rescaled 2 → 1 → 2 between kills (2 worker threads, then one): the output holds each answer once', async () => {
    const startedAt = performance.now()
    // A restore at another parallelism gives each new subtask the held records of the key groups
    // it owns now (a non-keyed subtask files its records under a key group of its own). Parallelism
    // 2 runs on 2 workers: the witness counts its thread's calls, so a subtask needs its own.
    const t = await killLoop('unordered', 'unordered', ORDERED_RECORDS, (run) => (run % 2 === 1 ? ['--parallelism', '2', '--workers', '2'] : ['--parallelism', '1', '--workers', '0']), 5, { maxKills: 3, early: [], afterCheckpoints: 1, maxDelayMs: 1000 })
    report('unordered mapAsync, rescaled 2 → 1 → 2', t, startedAt)
    expect(t.kills).toBeGreaterThanOrEqual(2)
    expect(sortedLines(readFileSync(t.out, 'utf8'))).toEqual(sortedLines(reference.get(ORDERED_RECORDS) as string))
    expectCallsAtLeastOnce(t, 32)
  }, 300_000)
})
