/**
 * Exactly-once under crashes: a keyed, windowed job reads a file and writes the exactly-once file
 * sink with checkpoints every 50 ms. The whole process is killed with SIGKILL at random moments
 * (seeded; some during start-up or restore, most after the run has written a checkpoint of its own,
 * some while one is being written) and run again with the same command until it finishes; the
 * output must equal a fault-free run's — byte for byte at parallelism 1, and as a multiset when the
 * job is rescaled 1 → 2 → 1 between crashes. Kills wait for checkpoint files, not for a time: on a
 * loaded machine start-up alone can outlast any fixed delay.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SeededRandom } from '../src/testing/random.ts'
import { checkpointIds, runAndKill } from './support/kill.ts'

const root = new URL('..', import.meta.url).pathname
let dir: string
let input: string
let reference: string

function run(args: string[], env: Record<string, string>): { status: number | null; stderr: string } {
  return runOn(['--workers', '0', ...args], env)
}

function runOn(args: string[], env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/crash-job.ts', '--no-server', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 280_000 })
  return { status: r.status, stderr: r.stderr }
}

/** The node arguments of the job in one thread, for runAndKill. */
const crashJob = (args: string[]): string[] => [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/crash-job.ts', '--no-server', '--workers', '0', ...args]

/** Polls `ready` every 50 ms; fails naming `what` only if it does not hold within `timeoutMs`. */
async function until(ready: () => boolean, what: () => string, timeoutMs = 60_000): Promise<void> {
  const end = performance.now() + timeoutMs
  while (!ready()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'))
  input = join(dir, 'clicks.jsonl')
  const rnd = new SeededRandom(42)
  const lines: string[] = []
  // 1.5 M clicks over ~4 h of event time, a little out of order, 500 users: a few seconds of work,
  // so that ten kills at random moments fall before the job could finish.
  for (let i = 0; i < 1_500_000; i++) lines.push(JSON.stringify({ user: `u${Math.floor(rnd.float() * 500)}`, page: i % 97, ts: i * 10 - Math.floor(rnd.float() * 1500) }))
  writeFileSync(input, `${lines.join('\n')}\n`)
  reference = join(dir, 'reference.jsonl')
  const r = run([], { CRASH_INPUT: input, CRASH_OUT: reference })
  expect(r.status, r.stderr).toBe(0)
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * Eleven process starts and their first checkpoints: ~60 s on an idle machine, 300-380 s at load
 * 30 on 2 cores (each `sluice run` start-up transpiles TypeScript). A deadline, not a wait.
 */
const CRASH_LOOP_DEADLINE_MS = 900_000

/** A file's lines, sorted: the multiset to compare when parallelism may reorder them. */
const sorted = (p: string): string[] => readFileSync(p, 'utf8').split('\n').filter((l) => l !== '').sort()

async function crashLoop(name: string, parallelisms: number[], seed: number, maxKills: number): Promise<{ out: string; kills: number }> {
  const out = join(dir, `${name}.jsonl`)
  const chk = join(dir, `${name}-checkpoints`)
  // 3 µs a record: ~4.5 s of work in all, far more than ten kills' worth of progress (each late
  // kill lands at most ~0.4 s after the run's first new checkpoint) even on an idle machine.
  const env = { CRASH_INPUT: input, CRASH_OUT: out, CRASH_WORK_US: '3' }
  const rnd = new SeededRandom(seed)
  const args = (p: number): string[] => ['--parallelism', String(p), '--checkpoint-dir', chk, '--checkpoint-interval', '50ms']
  let kills = 0
  for (let k = 0; k < maxKills; k++) {
    const p = parallelisms[kills % parallelisms.length]
    // Every fourth kill lands at a random moment of start-up or restore; the others once the run
    // has written a checkpoint of its own (it did work), plus up to 300 ms.
    const end = await runAndKill(crashJob(args(p)), { cwd: root, env, chk, rnd, early: k % 4 === 3, maxDelayMs: 300 })
    if (!end.killed) {
      // A run that finished by itself is the trial's last: running it again would start afresh.
      expect(end.code, `run ${k + 1} ended by itself: ${end.stderr}`).toBe(0)
      return { out, kills }
    }
    kills++
  }
  // Finish: the same command, not killed now. (A kill can land after a finished run cleared its
  // checkpoints: then the last run starts afresh.)
  const resumes = checkpointIds(chk).length > 0
  const last = run(args(parallelisms[0]), env)
  expect(last.status, last.stderr).toBe(0)
  if (resumes) expect(last.stderr).toMatch(/resuming from checkpoint \d+/)
  // A run that completes clears its checkpoints.
  expect(existsSync(chk) ? readdirSync(chk).filter((n) => n.endsWith('.sluice')) : []).toEqual([])
  return { out, kills }
}

describe('exactly-once under kill -9', () => {
  it('killed at 10 random moments and rerun until done, the output is byte-identical to a fault-free run', async () => {
    const { out, kills } = await crashLoop('p1', [1], 7, 10)
    expect(kills).toBe(10)
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(reference, 'utf8'))
  }, CRASH_LOOP_DEADLINE_MS)

  it('rescaled 1 → 2 → 1 between crashes, the output holds the same lines', async () => {
    const { out, kills } = await crashLoop('rescale', [1, 2], 11, 10)
    expect(kills).toBeGreaterThanOrEqual(2)
    expect(sorted(out)).toEqual(sorted(reference))
  }, CRASH_LOOP_DEADLINE_MS)

  it('on worker threads, a worker that dies at random records fails the job, and each rerun resumes: same lines', async () => {
    const out = join(dir, 'workers.jsonl')
    const chk = join(dir, 'workers-checkpoints')
    const rnd = new SeededRandom(5)
    // No restarts in the process: each failure ends the command, and the next command resumes.
    const args = ['--parallelism', '2', '--workers', '2', '--checkpoint-dir', chk, '--checkpoint-interval', '50ms', '--restart-attempts', '0']
    let failures = 0
    let last: { status: number | null; stderr: string } = { status: null, stderr: '' }
    // Each run exits its worker once at a random record (while the mark is absent), then the same
    // command runs again; the last runs have no exit left and finish.
    for (let k = 0; k < 8 && last.status !== 0; k++) {
      const env = { CRASH_INPUT: input, CRASH_OUT: out, ...(k < 4 ? { CRASH_EXIT_AT: String(50_000 + Math.floor(rnd.float() * 300_000)), CRASH_EXIT_MARK: join(dir, `exit-${k}`) } : {}) }
      last = runOn(args, env)
      if (last.status !== 0) {
        expect(last.stderr).toMatch(/WORKER_FAILED: worker \d of 2 exited with code 3/)
        failures++
      }
    }
    expect(last.status, last.stderr).toBe(0)
    expect(failures).toBeGreaterThanOrEqual(2)
    expect(last.stderr).toMatch(/resuming from checkpoint \d+/)
    expect(sorted(out)).toEqual(sorted(reference))
  }, 300_000)

  it('with a restart strategy, a dying worker is restarted in the same process from the latest checkpoint', () => {
    const out = join(dir, 'restart.jsonl')
    const chk = join(dir, 'restart-checkpoints')
    // Late in the input (each of the 2 map subtasks sees ~750 000 records), and not before a
    // checkpoint has completed, however loaded the machine.
    const env = { CRASH_INPUT: input, CRASH_OUT: out, CRASH_EXIT_AT: '600000', CRASH_EXIT_MARK: join(dir, 'restart-exit'), CRASH_EXIT_AFTER_CHECKPOINT_IN: chk }
    const r = runOn(['--parallelism', '2', '--workers', '2', '--checkpoint-dir', chk, '--checkpoint-interval', '50ms', '--restart-attempts', '2', '--restart-delay', '500ms'], env)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/WORKER_FAILED: worker \d of 2 exited with code 3/)
    expect(r.stderr).toMatch(/restarting from the latest checkpoint in 500 ms \(restart 1 of 2\)/)
    expect(r.stderr).toMatch(/resuming from checkpoint \d+/)
    expect(sorted(out)).toEqual(sorted(reference))
  }, 300_000)

  it('a job started from a savepoint restarts from its own newest checkpoint, not from the savepoint', async () => {
    const out = join(dir, 'from-sp-restart.jsonl')
    const first = join(dir, 'from-sp-first')
    // A savepoint is a checkpoint file kept elsewhere: take one from a run killed part-way, once it
    // has written one (a run that finished first cleared its own; then take another run).
    const env = { CRASH_INPUT: input, CRASH_OUT: out, CRASH_WORK_US: '4' }
    const rnd = new SeededRandom(3)
    for (let i = 0; i < 3 && checkpointIds(first).length === 0; i++) await runAndKill(crashJob(['--checkpoint-dir', first, '--checkpoint-interval', '50ms']), { cwd: root, env, chk: first, rnd, early: false, maxDelayMs: 0 })
    expect(checkpointIds(first).length).toBeGreaterThan(0)
    const savepoint = join(dir, 'from-sp-savepoint.sluice')
    writeFileSync(savepoint, readFileSync(join(first, `checkpoint-${Math.max(...checkpointIds(first))}.sluice`)))
    const chk = join(dir, 'from-sp-checkpoints')
    const r = runOn(['--parallelism', '2', '--workers', '2', '--checkpoint-dir', chk, '--checkpoint-interval', '50ms', '--from-savepoint', savepoint, '--restart-attempts', '2', '--restart-delay', '200ms'],
      // The worker dies once the job has a checkpoint of its own to restart from.
      { CRASH_INPUT: input, CRASH_OUT: out, CRASH_EXIT_AT: '400000', CRASH_EXIT_MARK: join(dir, 'from-sp-exit'), CRASH_EXIT_AFTER_CHECKPOINT_IN: chk })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr.match(/starting from savepoint/g)).toHaveLength(1)
    expect(r.stderr).toMatch(/restarting from the latest checkpoint in 200 ms \(restart 1 of 2\)/)
    expect(r.stderr).toContain(`in ${chk}`)
    expect(r.stderr).toMatch(/resuming from checkpoint \d+ \(taken [^)]+\) in /)
    expect(sorted(out)).toEqual(sorted(reference))
  }, 180_000)

  it('a bug in user code is not restarted: the same record would fail again', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/failing-job.ts', '--no-server', '--workers', '0', '--checkpoint-dir', join(dir, 'bug-checkpoints'), '--restart-attempts', '3'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/RECORD_FAILED: operator "explode"/)
    expect(r.stderr).not.toMatch(/restarting/)
  }, 60_000)

  it('sluice savepoint --stop on a running job, then --from-savepoint: the output is exactly a fault-free run\'s', async () => {
    const out = join(dir, 'savepoint.jsonl')
    // 30 µs a record (a wall-clock spin, so as long on a loaded machine): ~45 s of work, far longer
    // than a `sluice savepoint` process takes to start there; the savepoint stops the job early.
    const env = { ...process.env, CRASH_INPUT: input, CRASH_OUT: out, CRASH_WORK_US: '30' }
    const child = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/crash-job.ts', '--port', '0', '--workers', '0', '--checkpoint-dir', join(dir, 'sp-chk'), '--checkpoint-interval', '50ms', '--savepoint-dir', join(dir, 'savepoints-cli')], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)))
    try {
      await until(() => /Dashboard: (\S+)/.test(stderr), () => `the "Dashboard: <url>" line; stderr:\n${stderr}`)
      const url = (/Dashboard: (\S+)/.exec(stderr) as RegExpExecArray)[1]
      // Mid-stream: the job has read records and written a checkpoint (not a time after start-up).
      await until(() => checkpointIds(join(dir, 'sp-chk')).length > 0, () => `a checkpoint of the running job; stderr:\n${stderr}`)
      // The server writes only under the job's --savepoint-dir; --dir is relative to it. Without
      // a token the CLI fetches the server's CSRF value first.
      const sp = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'savepoint', url, '--dir', 'upgrade', '--stop'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
      expect(sp.status, sp.stderr).toBe(0)
      const path = sp.stdout.trim()
      expect(path).toMatch(/savepoints-cli\/upgrade\/savepoint-\d+-\d{8}T\d{6}Z-[0-9a-f]{6}\.sluice$/)
      expect(await exited).toBe(0)
      expect(stderr).toMatch(/job "crash-counts" stopped/)
      const r = runOn(['--workers', '0', '--checkpoint-dir', join(dir, 'sp-chk2'), '--from-savepoint', path], { CRASH_INPUT: input, CRASH_OUT: out })
      expect(r.status, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/starting from savepoint/)
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(reference, 'utf8'))
    } finally {
      child.kill('SIGKILL')
    }
  }, 120_000)

  it('sluice nexmark run killed with SIGKILL resumes when run again: q5 rows exactly a fault-free run\'s', async () => {
    const q5 = (out: string, extra: string[] = []): string[] => [join(root, 'bin/sluice.js'), 'nexmark', 'run', '--query', 'q5', '--events', '4000000', '--out', out, '--no-server', ...extra]
    const ref = join(dir, 'q5-reference.jsonl')
    const a = spawnSync(process.execPath, q5(ref), { cwd: root, encoding: 'utf8', timeout: 120_000 })
    expect(a.status, a.stderr).toBe(0)
    const out = join(dir, 'q5-crash.jsonl')
    const chk = join(dir, 'q5-checkpoints')
    const args = q5(out, ['--checkpoint-dir', chk, '--checkpoint-interval', '50ms'])
    // Killed part-way — each time within 300 ms of the run's first checkpoint of its own (the whole
    // run is ~1.3 s of work on an idle machine) — then run once more, not killed.
    const rnd = new SeededRandom(9)
    let killed = 0
    let finished: { code: number | null; stderr: string } | null = null
    for (let k = 0; k < 3; k++) {
      const end = await runAndKill(args, { cwd: root, chk, rnd, early: false, maxDelayMs: 300 })
      if (!end.killed) {
        // The trial's last run: running it again would start afresh from cleared checkpoints.
        finished = { code: end.code, stderr: end.stderr }
        break
      }
      killed++
    }
    if (finished === null) {
      const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 120_000 })
      finished = { code: r.status, stderr: r.stderr }
    }
    expect(killed).toBeGreaterThan(0)
    expect(finished.code, finished.stderr).toBe(0)
    expect(finished.stderr).toMatch(/resuming from checkpoint \d+/)
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(ref, 'utf8'))
  }, 180_000)

  it('a corrupt newest checkpoint is skipped for the previous complete one, with a log line', async () => {
    const out = join(dir, 'corrupt.jsonl')
    const chk = join(dir, 'corrupt-checkpoints')
    const env = { CRASH_INPUT: input, CRASH_OUT: out }
    const rnd = new SeededRandom(13)
    // Killed as soon as it has written two checkpoints (three are kept, so two remain); a run that
    // finished first cleared its own, then another run is taken.
    let ids: number[] = []
    for (let i = 0; i < 3 && ids.length < 2; i++) {
      rmSync(chk, { recursive: true, force: true })
      await runAndKill(crashJob(['--checkpoint-dir', chk, '--checkpoint-interval', '50ms']), { cwd: root, env, chk, rnd, early: false, afterCheckpoints: 2, maxDelayMs: 0 })
      ids = checkpointIds(chk).sort((a, b) => b - a)
    }
    expect(ids.length).toBeGreaterThanOrEqual(2)
    expect(existsSync(join(chk, `checkpoint-${ids[0]}.sluice`))).toBe(true)
    writeFileSync(join(chk, `checkpoint-${ids[0]}.sluice`), 'garbage')
    const r = run(['--checkpoint-dir', chk, '--checkpoint-interval', '50ms'], env)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`skipping checkpoint ${ids[0]}: CHECKPOINT_CORRUPT`))
    expect(r.stderr).toMatch(new RegExp(`resuming from checkpoint ${ids[1]}`))
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(reference, 'utf8'))
  }, 120_000)

  it('regression: a second process on the same --checkpoint-dir is refused, naming the holder; once the holder is killed, its stale lock is taken over', async () => {
    const out = join(dir, 'locked.jsonl')
    const chk = join(dir, 'locked-checkpoints')
    const child = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/crash-job.ts', '--no-server', '--workers', '0', '--checkpoint-dir', chk, '--checkpoint-interval', '50ms'], { cwd: root, env: { ...process.env, CRASH_INPUT: input, CRASH_OUT: out, CRASH_WORK_US: '20' }, stdio: 'ignore' })
    const exited = new Promise<void>((r) => child.on('close', () => r()))
    try {
      // Wait for the event: the first has its lock and a checkpoint a second could resume from.
      const end = performance.now() + 60_000
      while (!(existsSync(join(chk, 'sluice.lock')) && readdirSync(chk).some((n) => /^checkpoint-\d+\.sluice$/.test(n))) && performance.now() < end) await new Promise((r) => setTimeout(r, 20))
      const second = run(['--checkpoint-dir', chk, '--checkpoint-interval', '50ms'], { CRASH_INPUT: input, CRASH_OUT: join(dir, 'locked-second.jsonl') })
      expect(second.status).toBe(1)
      expect(second.stderr).toMatch(new RegExp(`CHECKPOINT_LOCKED: checkpoint directory ${chk} is in use by job "crash-counts", process ${child.pid} on this host \\([^)]+\\), since \\d{4}-\\d\\d-\\d\\dT[^:]+:\\d\\d:\\d\\d\\.\\d+Z: stop that job first, or give this one its own --checkpoint-dir`))
      expect(second.stderr).not.toMatch(/resuming from checkpoint/)
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    // Killed, the first leaves its lock behind: the next run takes it over and resumes.
    const third = run(['--checkpoint-dir', chk, '--checkpoint-interval', '50ms'], { CRASH_INPUT: input, CRASH_OUT: out })
    expect(third.status, third.stderr).toBe(0)
    expect(third.stderr).toContain(`sluice: taking over the lock on ${chk} from process ${child.pid}`)
    expect(third.stderr).toMatch(/resuming from checkpoint \d+/)
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(reference, 'utf8'))
    expect(readdirSync(chk)).toEqual([])
  }, 180_000)
})

