/**
 * `sluice demo` (and `npm start`): a continuous Nexmark job at full speed — hot items (q5) and
 * the highest bids (q7) over one unbounded generator — with a status line every second.
 */
import { Pipeline, boundedOutOfOrderness } from '../index.ts'
import { blackholeSink, countingSink } from '../connectors/blackhole-sink.ts'
import { nexmarkSource } from '../connectors/nexmark-source.ts'
import { eventTime } from '../nexmark/model.ts'
import { q5 } from '../nexmark/queries/q5.ts'
import { EXIT_OK } from './errors.ts'
import { onInterrupt, parseCount } from './options.ts'
import { NEXMARK_OUT_OF_ORDERNESS_MS } from './nexmark-command.ts'

export async function demoCommand(o: { duration?: string; events?: string }): Promise<number> {
  const durationS = parseCount('--duration', o.duration)
  const events = parseCount('--events', o.events)
  const p = new Pipeline('demo-hot-items')
  const source = p.source('nexmark', nexmarkSource(events ? { events } : {}), {
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
  process.stdout.write(`Sluice demo: Nexmark q5 (hot items) on an unbounded generator. Ctrl-C to stop.\n${p.explain()}\n\n`)
  const job = p.run()
  const release = onInterrupt(() => void job.stop())
  const t0 = performance.now()
  let lastEvents = 0
  let lastT = t0
  const timer = setInterval(() => {
    const m = job.metrics()
    const ev = m.operators.find((x) => x.operator === 'nexmark')?.recordsOut ?? 0
    const now = performance.now()
    const rate = ((ev - lastEvents) * 1000) / (now - lastT)
    lastEvents = ev
    lastT = now
    const wm = m.tasks.find((t) => t.task === 'q5-count')?.watermark
    const top = latest === null ? '-' : `auction ${latest.auction} with ${latest.num} bids`
    process.stdout.write(
      `${((now - t0) / 1000).toFixed(0).padStart(4)} s  ${Math.round(rate).toLocaleString('en-US').padStart(11)} events/s  total ${ev.toLocaleString('en-US')}  windows' hot items ${hot.count}  event time ${wm ? new Date(wm).toISOString() : '-'}  latest: ${top}\n`,
    )
    if (durationS !== undefined && now - t0 >= durationS * 1000) void job.stop()
  }, 1000)
  try {
    const r = await job.done
    process.stdout.write(`demo ${r.status} after ${(r.durationMs / 1000).toFixed(1)} s\n`)
    return EXIT_OK
  } finally {
    clearInterval(timer)
    release()
  }
}
