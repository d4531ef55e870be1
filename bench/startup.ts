/**
 * Start-up, measured from the process spawn as a user meets it (issue 12, item 4):
 *
 *   node bin/run-ts.js bench/startup.ts [--runs N] [--e2e-runs N (0: none)] [--events N] [--no-recovery] [--root DIR]
 *   (or: npm run bench -- --only startup)
 *
 * In one run, cases interleaved round by round so that a busy machine slows them alike:
 *   - `node -e 0`, the floor;
 *   - `node bin/sluice.js --version`, `--help`, and usage errors: `run` without a job file (a
 *     missing argument), `run job --parallelism 0` (a bad option value), `run no-such-job.mjs`
 *     and `nexmark run --query q99`, exit status 2
 *     (issue 13: `sluice --help` and any usage error within 2.5× of `node -e 0`);
 *   - `node bin/sluice.js run bench/fixtures/one-event-job.mjs --no-server`, a 1-event job (and the
 *     same with its monitoring server on, --port 0, and as a .ts file, which tsx loads);
 *   - worker threads: bench/fixtures/worker-start.mjs runs a job at parallelism 2 on 2 workers
 *     and reports how long after their spawn the workers were all ready (JobResult.startupMs);
 *   - end to end: `sluice nexmark run --query q0|q5 --events N --discard --no-server` at
 *     --parallelism 1 and at --parallelism 2 --workers 2, spawn to exit;
 *   - recovery: bench/recovery.ts (kill -9 a job holding ~104 MB of keyed state, rerun it): the
 *     first record out of the restored job, from the rerun's spawn.
 * Wall times are medians over --runs rounds (default 9; end to end: 3); CPU time (user + sys of
 * the process, from /usr/bin/time when present) is given beside them, steadier on a loaded machine.
 *
 * --root DIR measures another checkout (a worktree of an older commit, for before/after): the
 * fixtures are copied into its bench/fixtures for the run (a package can import itself by name only
 * from inside it); a checkout without dist/ runs the worker fixture through tsx, as Sluice ran then.
 * Prints the table, then one JSON line with every figure.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const opt = (f: string, dflt: string): string => {
  const i = args.indexOf(f)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt
}
const RUNS = Number(opt('--runs', '9'))
const E2E_RUNS = Number(opt('--e2e-runs', '3'))
const EVENTS = Number(opt('--events', '2000000'))
const RECOVERY = !args.includes('--no-recovery')
const root = resolve(opt('--root', here))
const FIXTURES = ['one-event-job.mjs', 'one-event-job.ts', 'worker-start.mjs']
const copied = root === resolve(here) ? [] : FIXTURES.map((f) => join(root, 'bench/fixtures', f)).filter((to) => !existsSync(to))
for (const to of copied) copyFileSync(join(here, 'bench/fixtures', to.split('/').pop() as string), to)
process.on('exit', () => {
  for (const f of copied) rmSync(f, { force: true })
})
const compiled = existsSync(join(root, 'dist'))
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const log = (s: string): void => {
  process.stderr.write(`startup: ${s}\n`)
}

interface Timed { wallMs: number; cpuMs: number | null; stdout: string; stderr: string }

/** Runs `node ...argv` in the checkout; wall time from spawn to exit, and its CPU time. */
function run(argv: readonly string[], okStatus = 0): Timed {
  const cpuFile = TIME === null ? null : join(tmp, 'cpu')
  const cmd = TIME === null ? process.execPath : TIME
  const full = TIME === null ? [...argv] : ['-f', '%U %S', '-o', cpuFile as string, process.execPath, ...argv]
  // Without the development condition the test suite sets: this measures the compiled package.
  const t0 = performance.now()
  const r = spawnSync(cmd, full, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, NODE_OPTIONS: '' } })
  const wallMs = performance.now() - t0
  if (r.status !== okStatus) throw new Error(`node ${argv.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`)
  let cpuMs: number | null = null
  if (cpuFile !== null) {
    const [u, s] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number)
    cpuMs = (u + s) * 1000
  }
  return { wallMs, cpuMs, stdout: r.stdout, stderr: r.stderr }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const tmp = mkdtempSync(join(tmpdir(), 'sluice-startup-'))
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }))

// ---- processes: node -e 0, --version, a 1-event job, worker start -----------------------------------

const sluice = 'bin/sluice.js'
const CASES: Record<string, readonly string[]> = {
  'node -e 0': ['-e', '0'],
  'sluice --version': [sluice, '--version'],
  'sluice --help': [sluice, '--help'],
  'sluice run (usage error: no job file)': [sluice, 'run'],
  'sluice run (usage error: --parallelism 0)': [sluice, 'run', 'bench/fixtures/one-event-job.mjs', '--parallelism', '0'],
  'sluice run (usage error: no such job file)': [sluice, 'run', 'bench/fixtures/no-such-job.mjs'],
  'sluice nexmark run (usage error: --query q99)': [sluice, 'nexmark', 'run', '--query', 'q99'],
  'sluice run (1 event, --no-server)': [sluice, 'run', 'bench/fixtures/one-event-job.mjs', '--no-server'],
  'sluice run (1 event, server on)': [sluice, 'run', 'bench/fixtures/one-event-job.mjs', '--port', '0'],
  'sluice run (1 event, .ts job, --no-server)': [sluice, 'run', 'bench/fixtures/one-event-job.ts', '--no-server'],
  'workers: 2 (spawn to ready)': compiled ? ['bench/fixtures/worker-start.mjs'] : ['bin/run-ts.js', 'bench/fixtures/worker-start.mjs'],
}
const wall: Record<string, number[]> = {}
const cpu: Record<string, number[]> = {}
const workerReady: number[] = []
const bareWorkerReady: number[] = []
const moduleLoaded: number[] = []
log(`${RUNS} rounds of ${Object.keys(CASES).length} cases in ${root}${compiled ? '' : ' (no dist/: through tsx)'}`)
for (let round = 0; round < RUNS; round++) {
  for (const [name, argv] of Object.entries(CASES)) {
    // Before --version existed, the same command line loaded the whole CLI and exited with a usage error (2).
    const r = run(argv, name.includes('usage error') || (name === 'sluice --version' && !compiled) ? 2 : 0)
    ;(wall[name] ??= []).push(r.wallMs)
    if (r.cpuMs !== null) (cpu[name] ??= []).push(r.cpuMs)
    if (name.startsWith('workers')) {
      const w = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { startupMs: number; bareMs?: number; workers: { moduleLoadedMs: number }[] }
      workerReady.push(w.startupMs)
      if (w.bareMs !== undefined) bareWorkerReady.push(w.bareMs)
      moduleLoaded.push(Math.max(...w.workers.map((x) => x.moduleLoadedMs)))
    }
  }
}

// ---- end to end: q0 and q5 at parallelism 1 and 2 ------------------------------------------------------

const e2e: Record<string, number[]> = {}
const e2eCpu: Record<string, number[]> = {}
const e2eStartup: Record<string, number[]> = {}
const CONFIGS = [['p1', ['--parallelism', '1']], ['p2', ['--parallelism', '2', '--workers', '2']]] as const
log(`end to end: q0, q5 on ${EVENTS.toLocaleString('en-US')} events, ${E2E_RUNS} rounds`)
for (let round = 0; round < E2E_RUNS; round++) {
  for (const q of ['q0', 'q5']) {
    for (const [c, flags] of CONFIGS) {
      const r = run([sluice, 'nexmark', 'run', '--query', q, '--events', String(EVENTS), '--discard', '--no-server', ...flags])
      const key = `${q} ${c}`
      ;(e2e[key] ??= []).push(r.wallMs)
      if (r.cpuMs !== null) (e2eCpu[key] ??= []).push(r.cpuMs)
      // "(0.41 s starting workers; ...)" on the CLI's last line.
      const m = /\(([\d.]+) s starting workers/.exec(r.stderr)
      if (m !== null) (e2eStartup[key] ??= []).push(Number(m[1]) * 1000)
    }
  }
}

// ---- recovery -----------------------------------------------------------------------------------------

let recovery: { firstRecordS: number; restoreToProcessingS: number; stateBytes: number; freshFirstRecordS: number } | { error: string } | null = null
if (RECOVERY) {
  log('recovery: bench/recovery.ts (builds ~104 MB of state first: a minute or two)')
  const r = spawnSync(process.execPath, ['bin/run-ts.js', 'bench/recovery.ts', '--watch-s', '3'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } })
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>
    recovery = typeof j.error === 'string'
      ? { error: j.error }
      : { firstRecordS: j.firstRecordS as number, restoreToProcessingS: j.restoreToProcessingS as number, stateBytes: j.stateBytes as number, freshFirstRecordS: (j.fresh as { firstRecordS: number }).firstRecordS }
  } catch {
    recovery = { error: `bench/recovery.ts printed no result (exit ${r.status ?? r.signal})` }
  }
}

// ---- the table ----------------------------------------------------------------------------------------

const ms = (x: number): string => `${Math.round(x)} ms`
const floor = median(wall['node -e 0'])
const floorCpu = cpu['node -e 0'] === undefined ? null : median(cpu['node -e 0'])
const cpuOf = (xs: number[] | undefined): string => (xs === undefined ? '-' : ms(median(xs)))
const ratio = (x: number, of: number | null): string => (of === null ? '-' : `${(x / of).toFixed(2)}×`)
const lines: string[] = []
const say = (s: string): void => {
  lines.push(s)
  process.stdout.write(`${s}\n`)
}
say(`| start-up (${root === resolve(here) ? 'this checkout' : root}${compiled ? ', compiled' : ', through tsx'}; median of ${RUNS}) | wall | ÷ node -e 0 | CPU | ÷ node -e 0 (CPU) | target | met |`)
say('|---|---|---|---|---|---|---|')
for (const name of Object.keys(CASES)) {
  const w = median(wall[name])
  const c = cpu[name] === undefined ? null : median(cpu[name])
  if (name.startsWith('workers')) {
    const ready = median(workerReady)
    say(`| ${name}: process | ${ms(w)} | ${ratio(w, floor)} | ${cpuOf(cpu[name])} | ${c === null ? '-' : ratio(c, floorCpu)} | | |`)
    say(`| ${name}: first Worker spawn → every worker ready | ${ms(ready)} (job module imported in the last worker at ${ms(median(moduleLoaded))} after run()) | | | | ≤ 150 ms | ${ready <= 150 ? 'met' : 'NOT met'} |`)
    if (bareWorkerReady.length > 0) say(`| floor: 2 workers with nothing to load, spawn → first message | ${ms(median(bareWorkerReady))} | | | | | |`)
    continue
  }
  const target = name === 'node -e 0' ? '' : name.includes('server on') || name.includes('.ts job') ? '' : '≤ 2.5×'
  const met = target === '≤ 2.5×' ? (w / floor <= 2.5 ? 'met' : 'NOT met') : ''
  say(`| ${name} | ${ms(w)} | ${ratio(w, floor)} | ${cpuOf(cpu[name])} | ${c === null ? '-' : ratio(c, floorCpu)} | ${target} | ${met} |`)
}
if (E2E_RUNS > 0) {
  say('')
  say(`| end to end, ${EVENTS.toLocaleString('en-US')} events, --discard (median of ${E2E_RUNS}) | p=1 | p=2 on 2 workers | p=2 ÷ p=1 (wall) | CPU p=1 / p=2 | worker start (CLI) | target: p=2 no slower |`)
  say('|---|---|---|---|---|---|---|')
  for (const q of ['q0', 'q5']) {
    const one = median(e2e[`${q} p1`])
    const two = median(e2e[`${q} p2`])
    const st = e2eStartup[`${q} p2`]
    say(`| ${q} | ${ms(one)} (${(EVENTS / one / 1000).toFixed(2)} M/s) | ${ms(two)} (${(EVENTS / two / 1000).toFixed(2)} M/s) | ${(two / one).toFixed(2)} | ${cpuOf(e2eCpu[`${q} p1`])} / ${cpuOf(e2eCpu[`${q} p2`])} | ${st === undefined ? '-' : ms(median(st))} | ${two <= one ? 'met' : 'NOT met'} |`)
  }
}
if (recovery !== null) {
  say('')
  if ('error' in recovery) say(`recovery: FAILED — ${recovery.error}`)
  else say(`| recovery of ${(recovery.stateBytes / 1e6).toFixed(1)} MB of keyed state (kill -9, rerun) | first record, from the rerun's spawn: ${recovery.firstRecordS.toFixed(2)} s | from the job module loaded: ${recovery.restoreToProcessingS.toFixed(2)} s | fresh start: ${recovery.freshFirstRecordS.toFixed(2)} s | target ≤ 2 s from the spawn: ${recovery.firstRecordS <= 2 ? 'met' : 'NOT met'} |`)
}
const med = (o: Record<string, number[]>): Record<string, number> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(median(v))]))
process.stdout.write(`${JSON.stringify({ case: 'startup', root, compiled, wallMs: med(wall), cpuMs: med(cpu), workerReadyMs: Math.round(median(workerReady)), bareWorkerReadyMs: bareWorkerReady.length === 0 ? null : Math.round(median(bareWorkerReady)), e2eMs: med(e2e), e2eCpuMs: med(e2eCpu), e2eWorkerStartMs: med(e2eStartup), recovery })}\n`)
