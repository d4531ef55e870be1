/**
 * The async I/O cases (issue 14), one per process, run by bench/measure.ts:
 *
 *   async <impl> <concurrency> <records> [memory|http]
 *     impl: hand | rxjs | sluice | sluice-unordered          one record per call (service())
 *           hand-batched | rxjs-batched | sluice-batched     up to BATCH records per call (batchService())
 *     A warm-up run over an eighth of the records, then one timed run; prints records/s, CPU per
 *     record and (Sluice) the operator's call metrics and its task's time split.
 *   async-stall <map|batch|timeout> <seconds> [warm-up seconds]
 *     An endless source as fast as it goes into a service that never answers; RSS and heap every
 *     second; growth = last sample − the sample at the end of the warm-up (default 5 s).
 *
 * Sluice runs in this thread (`run()`, workers 0: one thread), monitoring as by default
 * (SLUICE_BENCH_MONITORING=0 turns latency markers off, as for the other cases).
 */
import { Pipeline, type JobMetrics } from '../src/index.ts'
import { fromArray } from '../src/connectors/array-source.ts'
import { generatorSource } from '../src/connectors/generator-source.ts'
import type { Sink } from '../src/connectors/spi.ts'
import { Fold, batchService, expected, handBatchedPool, handPool, records, rxjsBatched, rxjsMergeMap, service, stalledService, type AsyncResult, type BatchCall, type Call } from './async-service.ts'

/** Records per call of the batched cases, and how long a partial batch waits. */
export const BATCH = 100
export const BATCH_WAIT_MS = 10

const MONITORING = process.env.SLUICE_BENCH_MONITORING !== '0'

function report(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...o, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`)
}

/** A sink folding what reaches it (count, checksum, order breaks). */
function foldSink(fold: Fold): Sink<number> {
  return {
    kind: 'fold',
    open: () => ({
      write: (batch: readonly number[]) => {
        for (let i = 0; i < batch.length; i++) fold.add(batch[i])
      },
    }),
  }
}

interface SluiceRun {
  result: AsyncResult
  metrics: JobMetrics
}

async function sluice(input: number[], c: number, mode: 'ordered' | 'unordered' | 'batched', call: Call, batch: BatchCall): Promise<SluiceRun> {
  const fold = new Fold()
  const p = new Pipeline(`async-${mode}`)
  const src = p.source('records', fromArray(input))
  const out =
    mode === 'batched'
      ? src.mapAsyncBatch('call', (vs: number[]) => batch(vs), { maxBatch: BATCH, maxWaitMs: BATCH_WAIT_MS, concurrency: c })
      : src.mapAsync('call', (v: number) => call(v), { concurrency: c, ordered: mode === 'ordered' })
  out.to('fold', foldSink(fold))
  const r = await p.run({ latencyMarkerIntervalMs: MONITORING ? 200 : 0 }).done
  return { result: fold.r, metrics: r.metrics }
}

async function runImpl(impl: string, input: number[], c: number, call: Call): Promise<SluiceRun | AsyncResult> {
  switch (impl) {
    case 'hand':
      return handPool(input, c, call)
    case 'rxjs':
      return rxjsMergeMap(input, c, call)
    case 'sluice':
      return sluice(input, c, 'ordered', call, batchService)
    case 'sluice-unordered':
      return sluice(input, c, 'unordered', call, batchService)
    case 'hand-batched':
      return handBatchedPool(input, c, BATCH, batchService)
    case 'rxjs-batched':
      return rxjsBatched(input, c, BATCH, batchService)
    case 'sluice-batched':
      return sluice(input, c, 'batched', call, batchService)
    default:
      throw new Error(`unknown async implementation ${impl}`)
  }
}

function check(impl: string, n: number, r: AsyncResult): void {
  const e = expected(n)
  // Sluice keeps input order (ordered: true, the default; a batch's results are in order); the
  // hand-written and RxJS loops emit as calls complete.
  const ordered = impl === 'sluice' || impl === 'sluice-batched'
  if (r.count !== e.count || r.checksum !== e.checksum || (ordered && r.outOfOrder !== 0)) {
    throw new Error(`${impl} computed ${JSON.stringify(r)}, expected ${JSON.stringify(e)}${ordered ? ' in order' : ''}`)
  }
}

/** The call metrics and task time split of the `call` operator (one subtask). */
function callDetails(m: JobMetrics): Record<string, unknown> {
  const op = m.operators.find((o) => o.operator === 'call')
  const task = m.tasks.find((t) => t.operators.includes('call'))
  const calls = op?.calls
  return {
    calls: calls?.calls,
    recordsPerCall: calls === undefined || calls.calls === 0 ? null : calls.callRecords / calls.calls,
    meanLatencyMs: calls === undefined || calls.calls === 0 ? null : calls.latencySumMs / calls.calls,
    maxLatencyMs: calls?.latencyMaxMs,
    fullMs: calls?.fullMs,
    task: task === undefined ? null : { busyMs: task.busyMs, waitingMs: task.waitingMs, backpressuredMs: task.backpressuredMs, idleMs: task.idleMs },
  }
}

export async function measureAsync(impl: string, c: number, n: number, serviceKind = 'memory'): Promise<void> {
  let call = service
  let close = (): void => {}
  if (serviceKind === 'http') {
    const { startHttpService } = await import('./async-http.ts')
    const h = await startHttpService(c)
    call = h.call
    close = h.close
  } else if (serviceKind !== 'memory') {
    throw new Error(`unknown service ${serviceKind} (memory or http)`)
  }
  try {
    const warm = records(Math.max(c, Math.floor(n / 8)))
    const w = await runImpl(impl, warm, c, call)
    check(impl, warm.length, 'result' in w ? w.result : w)
    const input = records(n)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const r = await runImpl(impl, input, c, call)
    const s = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const result = 'result' in r ? r.result : r
    check(impl, n, result)
    report({
      case: 'async', impl, concurrency: c, service: serviceKind, records: n, seconds: s, perSecond: n / s,
      cpuUsPerRecord: (cpu.user + cpu.system) / n, outOfOrder: result.outOfOrder, monitoring: MONITORING,
      ...('metrics' in r ? callDetails(r.metrics) : {}),
    })
  } finally {
    close()
  }
}

const STALL_CONCURRENCY = 256
const STALL_BATCH_CONCURRENCY = 8

/** The job of the stall case; `variant` picks the operator (see measureAsyncStall). */
export function stallPipeline(variant: string): Pipeline {
  const p = new Pipeline(`async-stall-${variant}`)
  const src = p.source('records', generatorSource((n) => n))
  const out =
    variant === 'map'
      ? src.mapAsync('call', stalledService, { concurrency: STALL_CONCURRENCY, timeoutMs: 0 })
      : variant === 'batch'
        ? src.mapAsyncBatch('call', (vs: number[]) => stalledService().then(() => vs), { maxBatch: BATCH, maxWaitMs: BATCH_WAIT_MS, concurrency: STALL_BATCH_CONCURRENCY, timeoutMs: 0 })
        : variant === 'timeout'
          ? src.mapAsync('call', stalledService, { concurrency: STALL_CONCURRENCY, timeoutMs: 1000, onError: 'skip' })
          : null
  if (out === null) throw new Error(`unknown stall variant ${variant} (map, batch or timeout)`)
  out.to('out', { kind: 'discard', open: () => ({ write: () => {} }) })
  return p
}

/**
 * A stalled service: `map` — mapAsync at concurrency 256, no timeout; `batch` — mapAsyncBatch of
 * 100 at concurrency 8, no timeout; `timeout` — mapAsync at 256 with a 1 s timeout and
 * onError 'skip' (every call is abandoned and its record skipped, so calls, timers and signals
 * come and go for the whole run). RSS and heapUsed are sampled every second.
 */
export async function measureAsyncStall(variant: string, seconds: number, warmupSeconds = 5): Promise<void> {
  const job = stallPipeline(variant).run({ latencyMarkerIntervalMs: MONITORING ? 200 : 0 })
  job.done.catch(() => {})
  interface Sample { t: number; rssMB: number; heapMB: number; read: number; held: number; inFlight: number; skipped: number; sourceQueue: number | null }
  const samples: Sample[] = []
  const t0 = performance.now()
  const total = warmupSeconds + seconds
  while (performance.now() - t0 < total * 1000) {
    await new Promise((r) => setTimeout(r, 1000))
    const m = job.metrics()
    const op = m.operators.find((o) => o.operator === 'call')
    const source = m.tasks.find((t) => t.operators.includes('records'))
    const mem = process.memoryUsage()
    samples.push({
      t: Math.round((performance.now() - t0) / 1000),
      rssMB: mem.rss / 2 ** 20,
      heapMB: mem.heapUsed / 2 ** 20,
      read: m.operators.filter((o) => o.operator === 'records').reduce((a, o) => a + o.recordsOut, 0),
      held: op?.calls?.held ?? -1,
      inFlight: op?.calls?.inFlight ?? -1,
      skipped: op?.skipped ?? 0,
      sourceQueue: source?.outputQueueUsage ?? null,
    })
  }
  const first = samples.find((x) => x.t >= warmupSeconds) ?? samples[0]
  const last = samples[samples.length - 1]
  const stopT0 = performance.now()
  const stopped = await Promise.race([job.stop().then(() => true, () => true), new Promise<false>((r) => setTimeout(r, 10_000, false))])
  const round = (x: number): number => Math.round(x * 10) / 10
  report({
    case: 'async-stall', variant, seconds, warmupSeconds,
    rssAtWarmupMB: round(first.rssMB), rssEndMB: round(last.rssMB), growthMB: round(last.rssMB - first.rssMB),
    maxRssSampledMB: round(Math.max(...samples.map((x) => x.rssMB))),
    heapAtWarmupMB: round(first.heapMB), heapEndMB: round(last.heapMB), heapGrowthMB: round(last.heapMB - first.heapMB),
    readAtWarmup: first.read, readEnd: last.read, held: last.held, inFlight: last.inFlight, skipped: last.skipped, sourceQueueUsage: last.sourceQueue,
    stopMs: stopped ? Math.round(performance.now() - stopT0) : null,
    perSecond: 0,
    samples: samples.map((x) => [x.t, round(x.rssMB), round(x.heapMB), x.read]),
  })
  process.exit(0)
}
