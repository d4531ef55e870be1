/**
 * `npm run bench`: every measurement in a fresh process, then one table with the targets and the
 * ratios against the baselines timed in this same run.
 *   --quick        fewer events (a smoke run)
 *   --events N     events per Nexmark query (default 2 000 000)
 *   --memory       also run each query over 10 M events and report peak RSS
 *   --parallel     also run each query at parallelism 1 and 2 (worker threads), 10 M events
 *   --slow-sink    backpressure across threads: a sink ~100× slower than its source for 60 s
 *   --exchange     cross-thread exchange end to end (codec + ring between two workers)
 *   --checkpoints  q5 and q7 with checkpoints every 1 s vs none (alternating runs, medians)
 *   --overhead     monitoring on vs off on q0 and q5, or the --only queries (alternating runs, medians)
 *   --state-sizes  checkpoint and restore phases vs keyed state size, one thread (bench/recovery-breakdown.ts)
 *   --recovery     kill -9 a job holding ~104 MB of keyed state, rerun it: time to resume and to the first record (bench/recovery.ts)
 *   --only a,b     only these cases (q0,q5,generator,baselines,startup,async; `connectors` alone runs the connector benches)
 *   async          (a case) a 10 ms service called at concurrency 1..256: Sluice's mapAsync against a hand-written
 *                  bounded loop and RxJS mergeMap, and mapAsyncBatch of 100 against unbatched at concurrency 8
 *                  (bench/async.ts; --rounds N alternating runs, medians; default 3, --quick 1)
 *   --async-http   (or --only async-http) the same over a real loopback HTTP server in another process
 *   --async-stall  (or --only async-stall) a service that never answers for 60 s (--quick: 15 s; --stall-seconds N):
 *                  RSS growth after a 5 s warm-up, for mapAsync, mapAsyncBatch and mapAsync with timeouts
 *   startup        (a case) start-up from the process spawn, compiled package: node -e 0 vs `sluice --version` vs a
 *                  1-event job, worker threads spawn to ready, q0/q5 end to end at p=2 vs p=1, recovery of ~104 MB
 *                  (bench/startup.ts; --quick: fewer rounds, no recovery)
 *   --connectors   the connector benches (bench/connectors/*, needs `bash scripts/services.sh up`): each source and
 *                  sink against the same client used by hand, and q5 end to end from Kafka and JetStream
 */
import { execFileSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'

const args = process.argv.slice(2)
const flag = (f: string): boolean => args.includes(f)
const opt = (f: string): string | undefined => {
  const i = args.indexOf(f)
  return i >= 0 ? args[i + 1] : undefined
}
const quick = flag('--quick')
const events = Number(opt('--events') ?? (quick ? 200_000 : 2_000_000))
const only = opt('--only')?.split(',')
const want = (name: string): boolean => only === undefined || only.includes(name)

interface Row {
  [k: string]: unknown
  perSecond: number
  maxRssMB: number
}

function measure(...a: string[]): Row {
  return measureEnv({}, ...a)
}

function measureEnv(env: Record<string, string>, ...a: string[]): Row {
  const out = execFileSync(process.execPath, ['bin/run-ts.js', 'bench/measure.ts', ...a], { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, ...env } })
  return JSON.parse(out.trim().split('\n').pop() as string) as Row
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const fmt = (n: number): string => `${(n / 1e6).toFixed(2)} M/s`
const lines: string[] = []
const say = (s: string): void => {
  lines.push(s)
  process.stdout.write(`${s}\n`)
}

say(`Sluice benchmarks — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB`)
say('')

const connectorsOnly = only !== undefined && only.length === 1 && only[0] === 'connectors'

if (want('generator') && !connectorsOnly) {
  const g = measure('generator', String(Math.max(events, 1_000_000) * 2))
  say(`| generator alone | ${fmt(g.perSecond)} | target ≥ 3 M/s | ${g.perSecond >= 3e6 ? 'met' : 'NOT met'} |`)
}

const QUERIES = [
  ['q0', 2e6],
  ['q1', 2e6],
  ['q2', 2e6],
  ['q3', 3e5],
  ['q4', 3e5],
  ['q5', 3e5],
  ['q7', 3e5],
  ['q8', 3e5],
  ['q9', 3e5],
  ['q11', 3e5],
] as const
if (QUERIES.some(([q]) => want(q))) {
  say('')
  say('| query | events | events/s | target | met | peak RSS | result rows |')
  say('|---|---|---|---|---|---|---|')
}
for (const [q, target] of QUERIES) {
  if (!want(q)) continue
  const r = measure('query', q, String(events))
  say(`| ${q} | ${events.toLocaleString('en-US')} | ${fmt(r.perSecond)} | ≥ ${fmt(target)} | ${r.perSecond >= target ? 'yes' : 'NO'} | ${r.maxRssMB} MB | ${r.results} |`)
}

// --against DIR: the same queries, single thread, from another checkout (a git worktree of an
// earlier commit with its node_modules), measured alternately in this run; events per CPU-second,
// the median of --rounds runs each, so a change is judged against its parent on the same machine.
const against = opt('--against')
if (against !== undefined) {
  const rounds = Number(opt('--rounds') ?? 3)
  const there = (q: string): Row => JSON.parse(execFileSync(process.execPath, ['bin/run-ts.js', 'bench/measure.ts', 'query', q, String(events)], { cwd: against, encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n').pop() as string) as Row
  say('')
  say(`| query (${events.toLocaleString('en-US')} events, ${rounds} rounds) | this checkout, events/CPU-s | ${against}, events/CPU-s | ratio |`)
  say('|---|---|---|---|')
  for (const [q] of QUERIES) {
    if (!want(q)) continue
    const here: number[] = []
    const base: number[] = []
    for (let r = 0; r < rounds; r++) {
      here.push(Number(measure('query', q, String(events)).perCpuSecond))
      base.push(Number(there(q).perCpuSecond))
    }
    const ratio = median(here) / median(base)
    say(`| ${q} | ${fmt(median(here))} | ${fmt(median(base))} | ${ratio.toFixed(3)}× |`)
  }
}

if (want('baselines')) {
  const n = quick ? 200_000 : 1_000_000
  for (const workload of ['q1like', 'rolling']) {
    const res: Record<string, number> = {}
    for (const impl of ['plain', 'rxjs', 'node', 'sluice']) res[impl] = measure('baseline', workload, impl, String(n)).perSecond
    say('')
    say(`| ${workload} (${n.toLocaleString('en-US')} bids) | records/s | Sluice ÷ this |`)
    say('|---|---|---|')
    for (const impl of ['plain', 'rxjs', 'node', 'sluice']) say(`| ${impl} | ${fmt(res[impl])} | ${(res.sluice / res[impl]).toFixed(2)}× |`)
    say(`targets: Sluice ≥ 1.5× RxJS (${res.sluice >= 1.5 * res.rxjs ? 'met' : 'NOT met'}), ≥ 10× Node object streams (${res.sluice >= 10 * res.node ? 'met' : 'NOT met'})`)
  }
}

if (want('startup') && !connectorsOnly) {
  // Its own processes; its table on stdout (kept), progress on stderr, a last JSON line (dropped).
  const a = quick ? ['--runs', '3', '--e2e-runs', '1', '--events', String(events), '--no-recovery'] : ['--events', String(events)]
  const out = execFileSync(process.execPath, ['bin/run-ts.js', 'bench/startup.ts', ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 })
  say('')
  for (const line of out.trim().split('\n')) if (!line.startsWith('{')) say(line)
}

const ASYNC_CONCURRENCY = [1, 4, 16, 64, 256]
const asyncRounds = Number(opt('--rounds') ?? (quick ? 1 : 3))
/** Records per case: ~3 s at the ideal rate (c calls per 10 ms), ~1 s with --quick. */
const asyncRecords = (c: number, perCall = 1): number => (quick ? 100 : 300) * c * perCall
const rate = (x: number): string => `${Math.round(x).toLocaleString('en-US')}/s`

/**
 * Medians over `asyncRounds` rounds, the implementations alternating within each round; `ratio(a, b)`
 * is the median of the rounds' a ÷ b, runs side by side in time (steadier on a shared machine than
 * the ratio of the medians).
 */
function asyncMedians(impls: readonly string[], c: number, n: number, service = 'memory'): { rows: Record<string, Row>; ratio: (a: string, b: string) => number } {
  const runs: Record<string, Row[]> = {}
  for (let r = 0; r < asyncRounds; r++) for (const impl of impls) (runs[impl] ??= []).push(measure('async', impl, String(c), String(n), service))
  const rows: Record<string, Row> = {}
  for (const impl of impls) {
    const sorted = [...runs[impl]].sort((a, b) => a.perSecond - b.perSecond)
    rows[impl] = sorted[Math.floor(sorted.length / 2)]
  }
  return { rows, ratio: (a, b) => median(runs[a].map((x, i) => x.perSecond / runs[b][i].perSecond)) }
}

function asyncTable(service: 'memory' | 'http'): void {
  const http = service === 'http'
  const cap = http ? (quick ? 20_000 : 60_000) : Infinity
  say('')
  say(`| ${http ? 'loopback HTTP' : 'in-process'} service, 10 ms, one thread (medians of ${asyncRounds} rounds; ratios: median of the rounds' ratios) | records | ideal (c per 10 ms) | hand-written pool | Sluice mapAsync | Sluice ÷ hand | ${http ? '≥ 0.9× (the target is in-process)' : 'target ≥ 0.9×'} |${http ? '' : ' RxJS mergeMap | Sluice ÷ RxJS |'} CPU µs/record Sluice / hand |`)
  say(`|---|---|---|---|---|---|---|${http ? '' : '---|---|'}---|`)
  let at256: Row | null = null
  const rows: [number, string][] = ASYNC_CONCURRENCY.map((c) => [c, 'sluice'])
  rows.push([256, 'sluice-unordered'])
  for (const [c, impl] of rows) {
    const n = Math.min(cap, asyncRecords(c))
    const { rows: m, ratio: paired } = asyncMedians(http ? ['hand', impl] : ['hand', impl, 'rxjs'], c, n, service)
    const s = m[impl]
    const ratio = paired(impl, 'hand')
    if (c === 256 && impl === 'sluice') at256 = s
    const name = `${c}${impl === 'sluice' ? '' : ', unordered'}`
    const cpu = `${(s.cpuUsPerRecord as number).toFixed(1)} / ${(m.hand.cpuUsPerRecord as number).toFixed(1)}`
    const rx = http ? '' : ` ${rate(m.rxjs.perSecond)} | ${paired(impl, 'rxjs').toFixed(2)}× |`
    say(`| ${name} | ${n.toLocaleString('en-US')} | ${rate(c * 100)} | ${rate(m.hand.perSecond)} | ${rate(s.perSecond)} | ${ratio.toFixed(2)}× | ${http ? (ratio >= 0.9 ? 'yes' : 'no') : ratio >= 0.9 ? 'met' : 'NOT met'} |${rx} ${cpu} |`)
  }
  if (!http && at256 !== null) say(`target: concurrency 256 ≥ 20 K records/s on one thread: ${rate(at256.perSecond)}, ${at256.perSecond >= 20_000 ? 'met' : 'NOT met'}`)
}

if (want('async') && !connectorsOnly) {
  asyncTable('memory')
  const c = 8
  const n = asyncRecords(c, 100)
  const un = asyncMedians(['sluice'], c, asyncRecords(c)).rows
  const b = asyncMedians(['sluice-batched', 'hand-batched', 'rxjs-batched'], c, n).rows
  say('')
  say(`| concurrency 8, 10 ms per call (median of ${asyncRounds}) | records | records/s | ÷ Sluice unbatched | records per call |`)
  say('|---|---|---|---|---|')
  say(`| Sluice mapAsync (unbatched) | ${asyncRecords(c).toLocaleString('en-US')} | ${rate(un.sluice.perSecond)} | 1.00× | 1 |`)
  const names: Record<string, string> = { 'sluice-batched': 'Sluice mapAsyncBatch (maxBatch 100, maxWaitMs 10)', 'hand-batched': 'hand-written pool, 100 per call', 'rxjs-batched': 'RxJS bufferCount(100) + mergeMap' }
  for (const impl of ['sluice-batched', 'hand-batched', 'rxjs-batched']) {
    const per = b[impl].recordsPerCall as number | undefined
    say(`| ${names[impl]} | ${n.toLocaleString('en-US')} | ${rate(b[impl].perSecond)} | ${(b[impl].perSecond / un.sluice.perSecond).toFixed(1)}× | ${per === undefined || per === null ? '100' : per.toFixed(1)} |`)
  }
  const x = b['sluice-batched'].perSecond / un.sluice.perSecond
  say(`target: batching of 100 ≥ 10× unbatched at concurrency 8: ${x.toFixed(1)}×, ${x >= 10 ? 'met' : 'NOT met'}`)
}

if (flag('--async-http') || only?.includes('async-http') === true) asyncTable('http')

if (flag('--async-stall') || only?.includes('async-stall') === true) {
  const seconds = Number(opt('--stall-seconds') ?? (quick ? 15 : 60))
  const warmup = quick ? 3 : 5
  say('')
  say(`| stalled service, ${seconds} s after ${warmup} s of warm-up, one thread | records read (warm-up → end) | held / in flight | RSS at warm-up | RSS at end | growth | target < 50 MB | RSS peak (sampled) | heap growth | stop took |`)
  say('|---|---|---|---|---|---|---|---|---|---|')
  const names: Record<string, string> = { map: 'mapAsync, concurrency 256, no timeout', batch: 'mapAsyncBatch 100, concurrency 8, no timeout', timeout: 'mapAsync 256, timeoutMs 1000, onError skip' }
  for (const variant of ['map', 'batch', 'timeout']) {
    const r = measure('async-stall', variant, String(seconds), String(warmup))
    const g = r.growthMB as number
    say(`| ${names[variant]} | ${(r.readAtWarmup as number).toLocaleString('en-US')} → ${(r.readEnd as number).toLocaleString('en-US')}${variant === 'timeout' ? ` (${(r.skipped as number).toLocaleString('en-US')} skipped)` : ''} | ${r.held} / ${r.inFlight} | ${r.rssAtWarmupMB} MB | ${r.rssEndMB} MB | ${g} MB | ${g < 50 ? 'met' : 'NOT met'} | ${r.maxRssSampledMB} MB | ${r.heapGrowthMB} MB | ${r.stopMs === null ? 'did not stop in 10 s' : `${r.stopMs} ms`} |`)
  }
}

if (flag('--parallel')) {
  say('')
  say('| query | p=1 events/s | p=2 on 2 workers, end to end | worker start-up | p=2 once running | speed-up once running |')
  say('|---|---|---|---|---|---|')
  for (const [q] of QUERIES) {
    if (!want(q)) continue
    const one = measure('query', q, '10000000')
    const two = measure('query', q, '10000000', '2')
    say(`| ${q} | ${fmt(one.perSecond)} | ${fmt(two.perSecond)} | ${(two.startupSeconds as number).toFixed(2)} s | ${fmt(two.runningPerSecond as number)} | ${((two.runningPerSecond as number) / one.perSecond).toFixed(2)}× |`)
  }
}

if (flag('--overhead')) {
  const runs = quick ? 3 : 7
  const n = quick ? 1_000_000 : 5_000_000
  say('')
  say(`| monitoring overhead (${n.toLocaleString('en-US')} events, median of ${runs} alternating runs) | on | off | on ÷ off | target ≥ 0.97 |`)
  say('|---|---|---|---|---|')
  // q0 and q5 by default (the targets); --only picks other queries.
  for (const q of only?.filter((x) => /^q\d+$/.test(x)) ?? ['q0', 'q5']) {
    const on: Row[] = []
    const off: Row[] = []
    for (let i = 0; i < runs; i++) {
      on.push(measureEnv({ SLUICE_BENCH_MONITORING: '1' }, 'query', q, String(n)))
      off.push(measureEnv({ SLUICE_BENCH_MONITORING: '0' }, 'query', q, String(n)))
    }
    const wall = median(on.map((r) => r.perSecond)) / median(off.map((r) => r.perSecond))
    const cpu = median(on.map((r) => r.perCpuSecond as number)) / median(off.map((r) => r.perCpuSecond as number))
    say(`| ${q} | ${fmt(median(on.map((r) => r.perSecond)))} | ${fmt(median(off.map((r) => r.perSecond)))} | ${wall.toFixed(3)} wall, ${cpu.toFixed(3)} per CPU-second | ${cpu >= 0.97 ? 'met' : 'NOT met'} (per CPU-second) |`)
  }
}

if (flag('--checkpoints')) {
  const runs = quick ? 2 : 5
  const n = quick ? 2_000_000 : 10_000_000
  say('')
  say(`| checkpoints every 1 s (${n.toLocaleString('en-US')} events, median of ${runs}) | none | every 1 s | ratio | target ≥ 0.90 (q5) | checkpoints | last duration | last size |`)
  say('|---|---|---|---|---|---|---|---|')
  for (const q of only?.filter((x) => /^q\d+$/.test(x)) ?? ['q5', 'q7']) {
    const off: Row[] = []
    const on: Row[] = []
    for (let i = 0; i < runs; i++) {
      off.push(measureEnv({ SLUICE_BENCH_CHECKPOINT_MS: '0' }, 'query', q, String(n)))
      on.push(measureEnv({ SLUICE_BENCH_CHECKPOINT_MS: '1000' }, 'query', q, String(n)))
    }
    const ratio = median(on.map((r) => r.perSecond)) / median(off.map((r) => r.perSecond))
    const c = on[on.length - 1].checkpoints as { completed: number; lastDurationMs: number | null; lastSizeBytes: number | null }
    say(`| ${q} | ${fmt(median(off.map((r) => r.perSecond)))} | ${fmt(median(on.map((r) => r.perSecond)))} | ${ratio.toFixed(3)} | ${q === 'q5' ? (ratio >= 0.9 ? 'met' : 'NOT met') : '—'} | ${c.completed} | ${c.lastDurationMs?.toFixed(1) ?? '-'} ms | ${c.lastSizeBytes ?? '-'} B |`)
  }
}

if (flag('--exchange')) {
  const out = execFileSync(process.execPath, ['bin/run-ts.js', 'bench/exchange.ts'], { encoding: 'utf8' })
  say('')
  say('Cross-thread exchange (targets: ≥ 10 M/s schema\'d numeric, ≥ 2 M/s generic):')
  for (const line of out.trim().split('\n')) say(`    ${line}`)
}

if (flag('--slow-sink')) {
  const r = measure('slow-sink', '60')
  say('')
  say('| slow sink, 60 s, p=2 on 2 workers | source records/s | sink records/s | RSS at 5 s | RSS at end | growth | target < 100 MB |')
  say('|---|---|---|---|---|---|---|')
  say(`| keyBy exchange between threads | ${Math.round(r.sourceRate as number).toLocaleString('en-US')} | ${Math.round(r.sinkRate as number).toLocaleString('en-US')} | ${r.rssAt5sMB} MB | ${r.rssEndMB} MB | ${r.growthMB} MB | ${(r.growthMB as number) < 100 ? 'met' : 'NOT met'} |`)
}

if (flag('--memory')) {
  say('')
  say('| query | 10 M events | events/s | peak RSS | under 1 GiB |')
  say('|---|---|---|---|---|')
  for (const [q] of QUERIES) {
    if (!want(q)) continue
    const r = measure('query', q, '10000000')
    say(`| ${q} | 10,000,000 | ${fmt(r.perSecond)} | ${r.maxRssMB} MB | ${r.maxRssMB < 1024 ? 'yes' : 'NO'} |`)
  }
}

if (flag('--state-sizes')) {
  say('')
  say('| keyed state (keys × 100-char values) | encoded state | snapshot (on the task\'s thread) | write + fsync (asynchronous) | read + check | decode + restore |')
  say('|---|---|---|---|---|---|')
  for (const keys of [100_000, 300_000, 1_000_000]) {
    const out = execFileSync(process.execPath, ['bin/run-ts.js', 'bench/recovery-breakdown.ts', String(keys)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 })
    const r = JSON.parse(out.trim().split('\n').pop() as string) as { stateBytes: number; phases: Record<string, number> }
    const ph = r.phases
    const ms = (x: number): string => `${x.toLocaleString('en-US')} ms`
    say(`| ${keys.toLocaleString('en-US')} | ${(r.stateBytes / 1e6).toFixed(1)} MB | ${ms(ph.snapshotState + ph.encodeSnapshot)} first, ${ms(ph['snapshotState (reusing buffers)'])} next | ${ms(ph['write+fsync+rename'])} | ${ms(ph.readFileSync + ph.decodeCheckpoint)} | ${ms(ph.decodeSnapshot + ph.restoreState)} |`)
  }
}

if (flag('--recovery')) {
  // Its own processes (build, kill -9, restart); progress on stderr, one JSON line on stdout.
  let out: string
  try {
    out = execFileSync(process.execPath, ['bin/run-ts.js', 'bench/recovery.ts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 })
  } catch (e) {
    // It failed, and said why on its last line.
    out = String((e as { stdout?: unknown }).stdout ?? '') || JSON.stringify({ error: String(e) })
  }
  const r = JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>
  say('')
  if (typeof r.error === 'string') {
    say(`recovery: FAILED — ${r.error}`)
  } else {
    const s = (x: unknown): string => `${(x as number).toFixed(2)} s`
    const after = r.afterRestore as { watchedS: number; records: number; flowingAfterS: number | null }
    say('| recovery, kill -9 and rerun (--workers 0, --checkpoint-interval 1s) | state | checkpoint (trigger → written) | "resuming" log | first record, from spawn | from job module loaded | target ≤ 2 s | after the first record |')
    say('|---|---|---|---|---|---|---|---|')
    say(`| ${(r.keys as number).toLocaleString('en-US')} keys × ${r.valueBytes} B | ${((r.stateBytes as number) / 1e6).toFixed(1)} MB | ${s((r.checkpointDurationMs as number) / 1000)} | ${s(r.resumeLogS)} | ${s(r.firstRecordS)} (fresh start: ${s((r.fresh as { firstRecordS: number }).firstRecordS)}) | ${s(r.restoreToProcessingS)} | ${r.targetMet ? 'met' : 'NOT met'} (with start-up: ${r.targetMetIncludingStartup ? 'met' : 'NOT met'}) | ${after.records.toLocaleString('en-US')} records in ${after.watchedS.toFixed(0)} s${after.flowingAfterS === null ? ', never at full rate' : `, full rate after ${after.flowingAfterS.toFixed(1)} s`} |`)
  }
}

if (flag('--connectors') || connectorsOnly) {
  // Each bench prints its own table (kept here) and a last JSON line (dropped: the table says it all).
  const benches: [string, string[]][] = [
    ['bench/connectors/kafka-source.ts', ['--messages', quick ? '100000' : '300000', '--rounds', '3']],
    ['bench/connectors/kafka-sink.ts', ['--messages', quick ? '100000' : '300000', '--rounds', '3']],
    ['bench/connectors/nats.ts', quick ? ['--messages', '100000'] : []],
    ['bench/connectors/postgres.ts', ['--rows', quick ? '50000' : '200000', '--runs', '3']],
    ['bench/connectors/redis.ts', ['--count', quick ? '50000' : '200000', '--rounds', '4']],
    ['bench/http-ingest.ts', ['--records', quick ? '200000' : '500000']],
    ['bench/connectors/end-to-end.ts', ['--events', quick ? '200000' : '1000000']],
  ]
  for (const [file, a] of benches) {
    say('')
    say(`### ${file}`)
    try {
      const out = execFileSync(process.execPath, ['bin/run-ts.js', file, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 })
      for (const line of out.trim().split('\n')) if (!line.startsWith('{')) say(line)
    } catch (e) {
      say(`FAILED: ${String((e as Error).message).split('\n')[0]}`)
    }
  }
}
