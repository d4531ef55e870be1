/**
 * `sluice demo` (and `npm start`): a continuous Nexmark job at full speed — hot items (q5) and
 * the highest bids (q7) over one unbounded generator — with the live dashboard (its URL is printed)
 * and a status line every second: throughput, end-to-end p99, the diagnosis' top finding.
 */
import { Pipeline, boundedOutOfOrderness } from '../index.ts'
import { blackholeSink } from '../connectors/blackhole-sink.ts'
import { nexmarkSource } from '../nexmark/source.ts'
import { eventTime } from '../nexmark/model.ts'
import { q5 } from '../nexmark/queries/q5.ts'
import { defaultWorkers } from '../runtime/coordinator/threaded-attempt.ts'
import { EXIT_OK } from './errors.ts'
import { monitorJob, type ServerFlags } from './monitoring.ts'
import { onInterrupt, parseOption } from './options.ts'
import { NEXMARK_OUT_OF_ORDERNESS_MS } from './nexmark-command.ts'

export interface DemoFlags extends ServerFlags {
  duration?: string
  events?: string
  parallelism?: string
  workers?: string
}

/**
 * The demo's job: q5 over the generator (`events`: bounded; absent or 0: unbounded), every operator
 * at `parallelism` (default 1). Worker threads rebuild it from this module with the same options.
 */
export function demoPipeline(o: { events?: number; parallelism?: number } = {}): Pipeline {
  const events = o.events
  const p = new Pipeline('demo-hot-items', o.parallelism === undefined ? {} : { parallelism: o.parallelism })
  // Wall-clock event time: at full speed, generated times would run ahead of the clock (×100 at
  // 1 M events/s), so the watermark lag the dashboard shows would mean nothing.
  const source = p.source('nexmark', nexmarkSource({ eventTime: 'wall-clock', ...(events ? { events } : {}) }), {
    watermarks: boundedOutOfOrderness({ timestamp: eventTime, maxOutOfOrdernessMs: NEXMARK_OUT_OF_ORDERNESS_MS }),
  })
  q5(source).to('hot-items', blackholeSink())
  p.module = { url: import.meta.url, exportName: 'demoPipeline', args: [o] }
  return p
}

export async function demoCommand(o: DemoFlags): Promise<number> {
  const durationS = parseOption('--duration', o.duration)
  const events = parseOption('--events', o.events)
  const parallelism = parseOption('--parallelism', o.parallelism) ?? 1
  const workers = parseOption('--workers', o.workers) ?? (parallelism > 1 ? defaultWorkers(parallelism) : 0)
  const p = demoPipeline({ ...(events === undefined ? {} : { events }), parallelism })
  const where = workers > 0 ? `, parallelism ${parallelism} on ${workers} worker threads` : parallelism > 1 ? `, parallelism ${parallelism} in one thread` : ''
  process.stdout.write(`Sluice demo: Nexmark q5 (hot items) on an unbounded generator, at full speed${where}. Ctrl-C to stop.\n${p.explain()}\n\n`)
  const job = p.run({ workers })
  const release = onInterrupt(() => void job.stop())
  const monitoring = await monitorJob(p, job, o, { progress: false })
  const t0 = performance.now()
  const off = monitoring.monitor.onSnapshot((v) => {
    const count = v.operators.find((x) => x.id === 'q5-count')
    const wm = count?.watermark
    // Event time follows the wall clock (see demoPipeline): the lag is how far the job is behind.
    const lag = wm ? `${((Date.now() - wm) / 1000).toFixed(1)} s` : '-'
    const windows = v.operators.find((x) => x.id === 'hot-items')?.recordsIn ?? 0
    const p99 = v.latency === null ? '-' : `${v.latency.p99.toFixed(1)} ms`
    const finding = v.topFinding === null || v.topFinding.kind === 'healthy' ? '' : `  [${v.topFinding.severity}] ${v.topFinding.title}`
    process.stdout.write(
      `${(v.uptimeMs / 1000).toFixed(0).padStart(4)} s  ${Math.round(v.recordsPerSecond).toLocaleString('en-US').padStart(11)} events/s  p99 ${p99}  hot-item windows ${windows}  watermark lag ${lag}${finding}\n`,
    )
    if (durationS !== undefined && performance.now() - t0 >= durationS * 1000) void job.stop()
  })
  try {
    const r = await job.done
    process.stdout.write(`demo ${r.status} after ${(r.durationMs / 1000).toFixed(1)} s\n`)
    return EXIT_OK
  } finally {
    off()
    release()
    await monitoring.close()
  }
}
