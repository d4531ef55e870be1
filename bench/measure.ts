/**
 * One measurement, run in its own process so JIT warm-up and memory of one case never leak into
 * another: `node bin/run-ts.js bench/measure.ts <case> [args]`. Prints one JSON line.
 *
 * Cases:
 *   query <qN> <events> [p]        a Nexmark query, generator inside the job, blackhole sink;
 *                                  p > 1 runs it at parallelism p on worker threads
 *   generator <events>             the Nexmark generator alone
 *   slow-sink [seconds]            backpressure across worker threads: RSS with a sink ~100× slower than its source
 *   baseline <workload> <impl> <n> q1like|rolling × plain|rxjs|node|sluice over the same bids
 *   async <impl> <c> <records> [memory|http]   a 10 ms service at concurrency c: Sluice's mapAsync,
 *                                  mapAsyncBatch, a hand-written loop, RxJS mergeMap (bench/async.ts)
 *   async-stall <variant> <seconds> [warm-up]  a service that never answers: RSS growth (bench/async.ts)
 */
import { Pipeline, count, operatorTotal } from '../src/index.ts'
import { blackholeSink, countingSink } from '../src/connectors/blackhole-sink.ts'
import { fromArray } from '../src/connectors/array-source.ts'
import { nexmarkJob, nexmarkPipeline } from '../src/cli/nexmark-command.ts'
import { defaultWorkers } from '../src/runtime/coordinator/threaded-attempt.ts'
import { JobMonitor } from '../src/monitoring/job-monitor.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NexmarkGenerator } from '../src/nexmark/generator.ts'
import type { NexmarkEvent } from '../src/nexmark/model.ts'
import { makeBids, isExpensive, referenceQ1Like, referenceRollingCount, toEuro, type BenchBid, type Result } from './baselines/workload.ts'
import { rxjsQ1Like, rxjsRollingCount } from './baselines/rxjs.ts'
import { nodeStreamsQ1Like, nodeStreamsRollingCount } from './baselines/node-streams.ts'

/**
 * SLUICE_BENCH_MONITORING=0: sampled monitoring off (no latency markers, no hot-key sampling, no
 * monitor), for the overhead comparison. Counters and busy/idle time are always on.
 */
const MONITORING = process.env.SLUICE_BENCH_MONITORING !== '0'

function report(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...o, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`)
}

async function measureQuery(q: string, events: number, parallelism = 1): Promise<void> {
  if (parallelism > 1) {
    // On worker threads: the job is rebuilt from its module in each worker; sinks discard.
    const t0 = performance.now()
    const r = await (await nexmarkJob({ query: q, events: String(events), seed: '0', discard: true, parallelism: String(parallelism) })).run({ workers: defaultWorkers(parallelism) }).done
    const s = (performance.now() - t0) / 1000
    const running = s - r.startupMs / 1000
    const results = operatorTotal(r.metrics, 'results', 'recordsIn')
    report({ case: 'query', query: q, parallelism, events, seconds: s, perSecond: events / s, startupSeconds: r.startupMs / 1000, runningPerSecond: events / running, results })
    return
  }
  const sink = countingSink<unknown>(blackholeSink())
  const p = nexmarkPipeline({ query: q, events: String(events), seed: '0' }, sink)
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const chkMs = Number(process.env.SLUICE_BENCH_CHECKPOINT_MS ?? '0')
  const chkDir = chkMs > 0 ? mkdtempSync(join(tmpdir(), 'sluice-bench-chk-')) : null
  const job = p.run({ latencyMarkerIntervalMs: MONITORING ? 200 : 0, ...(chkDir === null ? {} : { checkpoints: { dir: chkDir, intervalMs: chkMs } }) })
  // Monitoring on: latency markers, hot-key sampling and a JobMonitor sampling every second, as
  // `sluice nexmark run` does (the server only adds work when someone asks it).
  const monitor = MONITORING && process.env.SLUICE_BENCH_MONITOR !== '0' ? new JobMonitor('bench', p, job, { log: () => {} }).start() : null
  await job.done
  const checkpoints = job.checkpoints()
  if (chkDir !== null) rmSync(chkDir, { recursive: true, force: true })
  monitor?.stop()
  const s = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  // Events per CPU-second (user + system, all threads of this process): steadier than wall time on
  // a shared machine, where other tenants steal time.
  const perCpuSecond = events / ((cpu.user + cpu.system) / 1e6)
  report({ case: 'query', query: q, parallelism: 1, monitoring: MONITORING, checkpoints, events, seconds: s, perSecond: events / s, perCpuSecond, runningPerSecond: events / s, results: sink.count })
}

function measureGenerator(events: number): void {
  const g = new NexmarkGenerator({ seed: 0 }, 0, events)
  const buf: NexmarkEvent[] = []
  let n = 0
  let checksum = 0
  const t0 = performance.now()
  for (;;) {
    buf.length = 0
    const got = g.next(buf, 1024)
    if (got === 0) break
    n += got
    checksum += buf[got - 1].event_type
  }
  const s = (performance.now() - t0) / 1000
  report({ case: 'generator', events: n, seconds: s, perSecond: n / s, checksum })
}

function sluiceQ1Like(bids: BenchBid[]): Promise<Result> {
  const r: Result = { count: 0, checksum: 0 }
  const p = new Pipeline('q1-like')
  p.source('bids', fromArray(bids))
    .map('euro', toEuro)
    .filter('expensive', isExpensive)
    .to('sum', {
      kind: 'checksum',
      open: () => ({
        write: (batch) => {
          for (let i = 0; i < batch.length; i++) r.checksum += batch[i].auction + batch[i].price
          r.count += batch.length
        },
      }),
    })
  return p.run().done.then(() => r)
}

function sluiceRolling(bids: BenchBid[]): Promise<Result> {
  const r: Result = { count: 0, checksum: 0 }
  const p = new Pipeline('rolling')
  p.source('bids', fromArray(bids))
    .keyBy((b) => b.bidder)
    .aggregate('count', count(), (bidder, n) => ({ bidder, count: n }))
    .to('sum', {
      kind: 'checksum',
      open: () => ({
        write: (batch) => {
          for (let i = 0; i < batch.length; i++) r.checksum += batch[i].count
          r.count += batch.length
        },
      }),
    })
  return p.run({ latencyMarkerIntervalMs: MONITORING ? 200 : 0 }).done.then(() => r)
}

const IMPLS: Record<string, Record<string, (b: BenchBid[]) => Result | Promise<Result>>> = {
  q1like: { plain: referenceQ1Like, rxjs: rxjsQ1Like, node: nodeStreamsQ1Like, sluice: sluiceQ1Like },
  rolling: { plain: referenceRollingCount, rxjs: rxjsRollingCount, node: nodeStreamsRollingCount, sluice: sluiceRolling },
}

async function measureBaseline(workload: string, impl: string, n: number): Promise<void> {
  const fn = IMPLS[workload]?.[impl]
  if (fn === undefined) throw new Error(`unknown baseline ${workload}/${impl}`)
  const bids = makeBids(n)
  const expected = IMPLS[workload].plain(bids) as Result
  // Steady state, the same rule for every implementation: one full warm-up run, then the median
  // of three timed runs (a stream engine runs for hours; its first seconds are JIT warm-up).
  await fn(bids)
  const seconds: number[] = []
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now()
    const r = await fn(bids)
    seconds.push((performance.now() - t0) / 1000)
    if (r.count !== expected.count || Math.abs(r.checksum - expected.checksum) > 1e-6 * Math.abs(expected.checksum)) {
      throw new Error(`${workload}/${impl} computed ${JSON.stringify(r)}, expected ${JSON.stringify(expected)}`)
    }
  }
  const s = seconds.sort((a, b) => a - b)[1]
  report({ case: 'baseline', workload, impl, records: n, seconds: s, perSecond: n / s })
}

/** Backpressure across threads: a sink ~100× slower than its source, RSS sampled every second. */
async function measureSlowSink(seconds: number): Promise<void> {
  const { slowSinkJob } = await import('./slow-sink-job.ts')
  const job = slowSinkJob(2, 30).run({ workers: 2 })
  const samples: { t: number; rssMB: number; read: number; written: number }[] = []
  const t0 = performance.now()
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000))
    const m = job.metrics()
    samples.push({ t: Math.round((performance.now() - t0) / 1000), rssMB: Math.round(process.memoryUsage().rss / 2 ** 20), read: operatorTotal(m, 'nexmark', 'recordsOut'), written: operatorTotal(m, 'slow', 'recordsIn') })
  }
  await job.stop()
  const first = samples.find((x) => x.t >= 5) ?? samples[0]
  const last = samples[samples.length - 1]
  const rate = (x: typeof first, y: typeof first, f: 'read' | 'written'): number => (y[f] - x[f]) / Math.max(1, y.t - x.t)
  report({ case: 'slow-sink', seconds, rssAt5sMB: first.rssMB, rssEndMB: last.rssMB, growthMB: last.rssMB - first.rssMB, maxRssSampledMB: Math.max(...samples.map((x) => x.rssMB)), sourceRate: rate(first, last, 'read'), sinkRate: rate(first, last, 'written'), perSecond: rate(first, last, 'written') })
}

const [kind, a, b, c, d] = process.argv.slice(2)
if (kind === 'query') await measureQuery(a, Number(b), c === undefined ? 1 : Number(c))
else if (kind === 'generator') measureGenerator(Number(a))
else if (kind === 'slow-sink') await measureSlowSink(Number(a ?? 60))
else if (kind === 'baseline') await measureBaseline(a, b, Number(c))
else if (kind === 'async') await (await import('./async.ts')).measureAsync(a, Number(b), Number(c), d)
else if (kind === 'async-stall') await (await import('./async.ts')).measureAsyncStall(a, Number(b), c === undefined ? undefined : Number(c))
else {
  process.stderr.write('usage: measure.ts query <qN> <events> | generator <events> | baseline <workload> <impl> <n> | async <impl> <c> <records> [memory|http] | async-stall <variant> <seconds> [warm-up]\n')
  process.exit(2)
}
