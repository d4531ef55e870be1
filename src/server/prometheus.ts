/**
 * /metrics: every job's latest sample in Prometheus text format, written at scrape time (so
 * finished jobs and removed operators never linger). Names, types and labels: metrics/names.ts and
 * docs/METRICS.md. Counters and histograms are cumulative, so `rate()` and `histogram_quantile()`
 * work over any window and across subtasks and processes; the 1 s and 10 s views stay in the JSON
 * API. `partition` stays a bounded label: at most LAG_SERIES_PER_SOURCE series per source.
 */
import { addSparse, BUCKETS, prometheusBuckets } from '../metrics/histogram.ts'
import { Exposition, type HistogramSample } from '../metrics/exposition.ts'
import * as M from '../metrics/names.ts'
import type { CallMetricsSnapshot } from '../metrics/call-metrics.ts'
import type { JobMetrics, TaskMetricsSnapshot } from '../metrics/task-metrics.ts'
import type { JobMonitor } from '../monitoring/job-monitor.ts'
import type { JobView, OperatorMetrics } from '../monitoring/types.ts'
import { ingestEndpoints } from './ingest-route.ts'

export { PROMETHEUS_CONTENT_TYPE } from '../metrics/exposition.ts'
export { LAG_SERIES_PER_SOURCE } from '../metrics/names.ts'

const CONNECTION_STATES = ['connected', 'reconnecting', 'failed'] as const

/** Per-subtask values of the job view: [metric, value in the metric's unit, or null when unknown]. */
const OPERATOR_VALUES: [M.MetricDef, (m: OperatorMetrics) => number | null][] = [
  [M.RECORDS_IN, (m) => m.recordsIn],
  [M.RECORDS_OUT, (m) => m.recordsOut],
  [M.LATE_RECORDS, (m) => m.lateRecords],
  [M.SKIPPED_RECORDS, (m) => m.skippedRecords],
  [M.DEAD_LETTERED_RECORDS, (m) => m.deadLetteredRecords],
  [M.ERRORS, (m) => m.errors],
  [M.TASK_BUSY, (m) => m.busyMs / 1000],
  [M.TASK_WAITING, (m) => m.waitingMs / 1000],
  [M.TASK_BACKPRESSURED, (m) => m.backpressuredMs / 1000],
  [M.TASK_IDLE, (m) => m.idleMs / 1000],
  [M.INPUT_QUEUE_USAGE, (m) => m.inputQueueUsage],
  [M.OUTPUT_QUEUE_USAGE, (m) => m.outputQueueUsage],
  [M.WATERMARK, (m) => (m.watermark === null ? null : m.watermark / 1000)],
  [M.WATERMARK_LAG, (m) => (m.watermarkLagMs === null ? null : m.watermarkLagMs / 1000)],
  [M.STATE_ENTRIES, (m) => m.stateEntries],
  [M.STATE_BYTES, (m) => m.stateBytes],
  [M.PENDING_TIMERS, (m) => m.pendingTimers],
]

/** An asynchronous operator subtask's call metrics: [metric, value in the metric's unit]. */
const CALL_VALUES: [M.MetricDef, (c: CallMetricsSnapshot) => number][] = [
  [M.CALLS, (c) => c.calls],
  [M.CALL_RECORDS, (c) => c.callRecords],
  [M.CALL_FAILURES, (c) => c.failures],
  [M.CALL_TIMEOUTS, (c) => c.timeouts],
  [M.CALL_RETRIES, (c) => c.retries],
  [M.CALLS_FULL, (c) => c.fullMs / 1000],
  [M.CALLS_IN_FLIGHT, (c) => c.inFlight],
  [M.CALL_CAPACITY, (c) => c.capacity],
  [M.CALL_HELD_RECORDS, (c) => c.held],
]
/** Written only for an operator with a lookup cache (one that has looked a key up or holds entries). */
const CACHE_VALUES: [M.MetricDef, (c: CallMetricsSnapshot) => number][] = [
  [M.CALL_CACHE_HITS, (c) => c.cacheHits],
  [M.CALL_CACHE_MISSES, (c) => c.cacheMisses],
  [M.CALL_CACHE_ENTRIES, (c) => c.cacheEntries],
]

/** `droppedEvents`: event-stream frames the server dropped per job (subscribers that fell behind). */
export function prometheusText(monitors: readonly JobMonitor[], droppedEvents: ReadonlyMap<string, number> = new Map()): string {
  const out = new Exposition(M.METRICS)
  for (const mon of monitors) writeJob(out, mon, droppedEvents.get(mon.id) ?? 0)
  return out.text()
}

function writeJob(out: Exposition, mon: JobMonitor, dropped: number): void {
  const v = mon.view()
  const job = { job: v.id }
  writeOperators(out, v, mon.latestMetrics())

  out.add(M.JOB_RUNNING, job, v.status === 'running' || v.status === 'starting' ? 1 : 0)
  out.add(M.JOB_UPTIME, job, v.uptimeMs / 1000)
  let input = 0
  for (const o of v.operators) if (o.kind === 'source') input += o.recordsOut
  out.add(M.JOB_INPUT_RECORDS, job, input)
  out.add(M.JOB_RESTARTS, job, Math.max(v.checkpoints?.restarts ?? 0, mon.restarts))
  const firing = new Set(v.alerts.map((a) => a.objective))
  for (const o of mon.alerts().objectives) out.add(M.ALERT_FIRING, { ...job, objective: o.name }, firing.has(o.name) ? 1 : 0)
  out.add(M.EVENTS_DROPPED, job, dropped)

  const gcMs = new Map<number, number>()
  for (const t of mon.latestMetrics()?.threads ?? []) gcMs.set(t.worker, t.gcPauseMs)
  for (const w of v.workers) {
    const l = { ...job, worker: String(w.worker) }
    if (w.eventLoopDelayP99Ms !== null) out.add(M.EVENT_LOOP_DELAY_P99, l, w.eventLoopDelayP99Ms / 1000)
    out.add(M.GC_PAUSE, l, (gcMs.get(w.worker) ?? 0) / 1000)
    out.add(M.HEAP_USED, l, w.heapUsedBytes)
    out.add(M.HEAP_LIMIT, l, w.heapLimitBytes)
    if (w.cpuMs !== null) out.add(M.THREAD_CPU, l, w.cpuMs / 1000)
  }

  const c = v.checkpoints
  if (c !== null) {
    out.add(M.CHECKPOINTS_COMPLETED, job, c.completed)
    out.add(M.CHECKPOINTS_FAILED, job, c.failed)
    out.addHistogram(M.CHECKPOINT_DURATION, job, histogramSample(mon.checkpointDurations.histogram.counts, mon.checkpointDurations.histogram.sumMs))
    if (c.lastSizeBytes !== null) out.add(M.CHECKPOINT_SIZE, job, c.lastSizeBytes)
    if (c.lastAlignmentMs !== null) out.add(M.CHECKPOINT_ALIGNMENT, job, c.lastAlignmentMs / 1000)
    if (c.lastStartDelayMs !== null) out.add(M.CHECKPOINT_START_DELAY, job, c.lastStartDelayMs / 1000)
    if (c.lastSyncMs !== null) out.add(M.CHECKPOINT_SYNC, job, c.lastSyncMs / 1000)
  }

  writeSources(out, v)
  for (const e of ingestEndpoints(mon.pipeline)) {
    const s = e.target.stats()
    const l = { ...job, source: e.sourceId }
    out.add(M.INGEST_ACCEPTED_RECORDS, l, s.acceptedRecords)
    out.add(M.INGEST_ACCEPTED_REQUESTS, l, s.acceptedRequests)
    out.add(M.INGEST_REJECTED_REQUESTS, l, s.rejectedRequests)
    out.add(M.INGEST_MALFORMED_REQUESTS, l, s.malformedRequests)
    out.add(M.INGEST_TOO_LARGE_REQUESTS, l, s.tooLargeRequests)
    out.add(M.INGEST_BUFFERED_RECORDS, l, s.buffered)
  }
}

/**
 * The operator subtasks' values from the view; latency histograms and exchange bytes from the
 * tasks' cumulative metrics (each operator shows its task's histogram; bytes in on a task's first
 * operator, bytes out on its last, as in the view).
 */
function writeOperators(out: Exposition, v: JobView, metrics: JobMetrics | null): void {
  const taskOf = new Map<string, TaskMetricsSnapshot>()
  for (const t of metrics?.tasks ?? []) for (const op of t.operators) taskOf.set(`${op}#${t.subtask}`, t)
  const dense = new Map<TaskMetricsSnapshot, Float64Array>()
  const countsOf = (t: TaskMetricsSnapshot): Float64Array => {
    let d = dense.get(t)
    if (d === undefined) {
      d = new Float64Array(BUCKETS)
      addSparse(d, t.latency)
      dense.set(t, d)
    }
    return d
  }
  for (const [metric, value] of OPERATOR_VALUES) {
    for (const op of v.operators) {
      for (const s of op.subtasks) {
        const x = value(s)
        if (x !== null) out.add(metric, { job: v.id, operator: op.id, subtask: String(s.subtask) }, x)
      }
    }
  }
  const sinkTasks = new Set<TaskMetricsSnapshot>()
  for (const op of v.operators) {
    for (const s of op.subtasks) {
      const t = taskOf.get(`${op.id}#${s.subtask}`)
      if (t === undefined) continue
      const l = { job: v.id, operator: op.id, subtask: String(s.subtask) }
      if (op.id === t.operators[0]) out.add(M.EXCHANGE_IN_BYTES, l, t.bytesIn)
      if (op.id === t.operators[t.operators.length - 1]) out.add(M.EXCHANGE_OUT_BYTES, l, t.bytesOut)
      out.addHistogram(M.LATENCY, l, histogramSample(countsOf(t), t.latencySumMs))
      if (op.kind === 'sink') sinkTasks.add(t)
    }
  }
  writeCalls(out, v.id, metrics)
  if (sinkTasks.size > 0) {
    const d = new Float64Array(BUCKETS)
    let sumMs = 0
    for (const t of sinkTasks) {
      const c = countsOf(t)
      for (let i = 0; i < BUCKETS; i++) d[i] += c[i]
      sumMs += t.latencySumMs
    }
    out.addHistogram(M.END_TO_END_LATENCY, { job: v.id }, histogramSample(d, sumMs))
  }
}

/** The asynchronous operators' calls, per subtask, from the cumulative snapshot (the view has rates only). */
function writeCalls(out: Exposition, job: string, metrics: JobMetrics | null): void {
  const rows = (metrics?.operators ?? []).filter((o) => o.calls !== undefined)
  const label = (o: (typeof rows)[number]): Record<string, string> => ({ job, operator: o.operator, subtask: String(o.subtask) })
  for (const [metric, value] of CALL_VALUES) for (const o of rows) out.add(metric, label(o), value(o.calls as CallMetricsSnapshot))
  const cached = rows.filter((o) => {
    const c = o.calls as CallMetricsSnapshot
    return c.cacheHits + c.cacheMisses + c.cacheEntries > 0
  })
  for (const [metric, value] of CACHE_VALUES) for (const o of cached) out.add(metric, label(o), value(o.calls as CallMetricsSnapshot))
  for (const o of rows) {
    const c = o.calls as CallMetricsSnapshot
    const d = new Float64Array(BUCKETS)
    addSparse(d, c.latency)
    out.addHistogram(M.CALL_LATENCY, label(o), histogramSample(d, c.latencySumMs))
  }
}

function histogramSample(counts: Float64Array, sumMs: number): HistogramSample {
  return { buckets: prometheusBuckets(counts), sumSeconds: sumMs / 1000 }
}

function writeSources(out: Exposition, v: JobView): void {
  for (const src of v.sources ?? []) {
    const l = { job: v.id, source: src.source }
    out.add(M.SOURCE_PARTITIONS, l, src.partitionCount)
    if (src.lag !== null) out.add(M.SOURCE_LAG_TOTAL, l, src.lag)
    if (src.lagPerSecond !== null) out.add(M.SOURCE_LAG_GROWTH, l, src.lagPerSecond)
    const known = src.partitions.filter((p) => p.lag !== null)
    const shown = known.length <= M.LAG_SERIES_PER_SOURCE ? known : [...known].sort((a, b) => (b.lag as number) - (a.lag as number)).slice(0, M.LAG_SERIES_PER_SOURCE)
    for (const p of shown) out.add(M.SOURCE_LAG, { ...l, partition: p.partition }, p.lag as number)
  }
  const byConnector = new Map<string, { kind: string; counts: Record<(typeof CONNECTION_STATES)[number], number> }>()
  for (const c of v.connections ?? []) {
    let entry = byConnector.get(c.connector)
    if (entry === undefined) byConnector.set(c.connector, (entry = { kind: c.kind, counts: { connected: 0, reconnecting: 0, failed: 0 } }))
    entry.counts[c.state]++
  }
  for (const [connector, { kind, counts }] of byConnector) {
    out.add(M.CONNECTOR_UP, { job: v.id, connector, kind }, counts.reconnecting + counts.failed === 0 ? 1 : 0)
    for (const state of CONNECTION_STATES) out.add(M.CONNECTOR_SUBTASKS, { job: v.id, connector, kind, state }, counts[state])
  }
}
