/**
 * `sluice demo` (and `npm start`): a continuous Nexmark job at full speed — hot items (q5) and
 * the highest bids (q7) over one unbounded generator — with the live dashboard (its URL is printed)
 * and a status line every second: throughput, end-to-end p99, the diagnosis' top finding.
 */
import { Pipeline, boundedOutOfOrderness } from '../index.ts'
import { blackholeSink, countingSink } from '../connectors/blackhole-sink.ts'
import { nexmarkSource } from '../nexmark/source.ts'
import { eventTime } from '../nexmark/model.ts'
import { q5 } from '../nexmark/queries/q5.ts'
import { EXIT_OK } from './errors.ts'
import { monitorJob, type ServerFlags } from './monitoring.ts'
import { onInterrupt, parseCount } from './options.ts'
import { NEXMARK_OUT_OF_ORDERNESS_MS } from './nexmark-command.ts'

export async function demoCommand(o: { duration?: string; events?: string } & ServerFlags): Promise<number> {
  const durationS = parseCount('--duration', o.duration)
  const events = parseCount('--events', o.events)
  const p = new Pipeline('demo-hot-items')
  // Wall-clock event time: at full speed, generated times would run ahead of the clock (×100 at
  // 1 M events/s), so the watermark lag the dashboard shows would mean nothing.
  const source = p.source('nexmark', nexmarkSource({ eventTime: 'wall-clock', ...(events ? { events } : {}) }), {
    watermarks: boundedOutOfOrderness({ timestamp: eventTime, maxOutOfOrdernessMs: NEXMARK_OUT_OF_ORDERNESS_MS }),
  })
  const hot = countingSink<{ auction: number; num: number }>(blackholeSink())
  let latest: { auction: number; num: number } | null = null
  q5(source)
    .map('remember', (r) => {
      latest = r
      return r
    })
    .to('hot-items', hot)
  process.stdout.write(`Sluice demo: Nexmark q5 (hot items) on an unbounded generator, at full speed. Ctrl-C to stop.\n${p.explain()}\n\n`)
  const job = p.run()
  const release = onInterrupt(() => void job.stop())
  const monitoring = await monitorJob(p, job, o, { progress: false })
  const t0 = performance.now()
  const off = monitoring.monitor.onSnapshot((v) => {
    const wm = v.operators.find((x) => x.id === 'q5-count')?.watermark
    const top = latest === null ? '-' : `auction ${latest.auction} with ${latest.num} bids`
    const p99 = v.latency === null ? '-' : `${v.latency.p99.toFixed(1)} ms`
    const finding = v.topFinding === null || v.topFinding.kind === 'healthy' ? '' : `  [${v.topFinding.severity}] ${v.topFinding.title}`
    process.stdout.write(
      `${(v.uptimeMs / 1000).toFixed(0).padStart(4)} s  ${Math.round(v.recordsPerSecond).toLocaleString('en-US').padStart(11)} events/s  p99 ${p99}  hot-item windows ${hot.count}  event time ${wm ? new Date(wm).toISOString() : '-'}  latest: ${top}${finding}\n`,
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
