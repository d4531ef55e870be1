// Per-minute latency alerts from JSON Lines on stdin: for each service and each minute of event
// time, the p99 and the highest latency; a minute whose p99 is over 500 ms or whose slowest request
// took over 1000 ms prints an alert line. Run from the repository root:
//   sluice run examples/latency-alerts/job.ts < examples/latency-alerts/requests.jsonl
import { Pipeline, boundedOutOfOrderness, tumbling, type AggregateFunction } from 'sluice'
import { stdinSource, stdoutSink } from 'sluice/connectors'

interface Request { service: string; ts: number; latencyMs: number }
interface Latency { count: number; p99: number; max: number }

export const P99_THRESHOLD_MS = 500
export const MAX_THRESHOLD_MS = 1000

// p99 by nearest rank over the minute's latencies: exact, since a minute holds few requests.
const latency: AggregateFunction<Request, number[], Latency> = {
  create: () => [],
  add: (acc, r) => [...acc, r.latencyMs],
  result: (acc) => {
    const sorted = [...acc].sort((a, b) => a - b)
    return { count: sorted.length, p99: sorted[Math.ceil(sorted.length * 0.99) - 1], max: sorted[sorted.length - 1] }
  },
  merge: (a, b) => [...a, ...b],
}

const iso = (ms: number): string => new Date(ms).toISOString()

export const pipeline = new Pipeline('latency-alerts')
pipeline
  .source('requests', stdinSource<Request>(), {
    watermarks: boundedOutOfOrderness({ timestamp: (r: Request) => r.ts, maxOutOfOrdernessMs: 5_000 }),
  })
  .keyBy((r) => r.service)
  .window(tumbling(60_000))
  .aggregate('latency', latency, (service, w, l) => ({ service, start: w.start, end: w.end, ...l }))
  .filter('slow', (m) => m.p99 > P99_THRESHOLD_MS || m.max > MAX_THRESHOLD_MS)
  .map('alert', (m) => `ALERT ${m.service} ${iso(m.start)}..${iso(m.end)} p99=${m.p99}ms max=${m.max}ms over ${m.count} requests`)
  .to('print', stdoutSink({ format: 'text' }))
