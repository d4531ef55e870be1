/**
 * /metrics: every job's current view in Prometheus text format, built with prom-client at scrape
 * time (a fresh registry per scrape, so finished jobs and removed operators never linger). Names
 * and units: docs/METRICS.md. Labels: job, operator, subtask; per-thread metrics add `worker`,
 * alerts add `objective`; source lag adds `source` and `partition`, connectors `connector`, `kind`
 * and `state`. `partition` stays a bounded label: at most LAG_SERIES_PER_SOURCE series per source.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import type { JobMonitor } from '../monitoring/job-monitor.ts'
import type { OperatorMetrics } from '../monitoring/types.ts'
import { ingestEndpoints } from './ingest-route.ts'

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE

/**
 * Partitions exported per source by sluice_source_lag_records: the ones farthest behind. A source
 * with more partitions still counts them all in sluice_source_lag_total_records and
 * sluice_source_partitions.
 */
export const LAG_SERIES_PER_SOURCE = 256

const CONNECTION_STATES = ['connected', 'reconnecting', 'failed'] as const

type Num = (m: OperatorMetrics) => number | null

/** Per-subtask operator metrics: [name, help, type, value]. */
const OPERATOR_METRICS: [string, string, 'counter' | 'gauge', Num][] = [
  ['sluice_records_in_total', 'Records into the operator.', 'counter', (m) => m.recordsIn],
  ['sluice_records_out_total', 'Records out of the operator.', 'counter', (m) => m.recordsOut],
  ['sluice_late_records_total', 'Records dropped as late.', 'counter', (m) => m.lateRecords],
  ['sluice_skipped_records_total', 'Bad records skipped (onError: skip).', 'counter', (m) => m.skippedRecords],
  ['sluice_dead_lettered_records_total', 'Bad records written to a dead-letter sink.', 'counter', (m) => m.deadLetteredRecords],
  ['sluice_errors_total', 'Records whose processing failed, under any error policy.', 'counter', (m) => m.errors],
  ['sluice_busy_ratio', 'Share of the last second the task ran its own code on its thread (0..1).', 'gauge', (m) => m.busyMsPerSecond / 1000],
  ['sluice_waiting_ratio', 'Share of the last second the task awaited an external call: a sink write or a source read in flight (0..1).', 'gauge', (m) => m.waitingMsPerSecond / 1000],
  ['sluice_backpressured_ratio', 'Share of the last second the task waited for a full output (0..1).', 'gauge', (m) => m.backpressuredMsPerSecond / 1000],
  ['sluice_idle_ratio', 'Share of the last second the task had no input (0..1).', 'gauge', (m) => m.idleMsPerSecond / 1000],
  ['sluice_task_busy_seconds_total', 'Time the task ran its own code on its thread.', 'counter', (m) => m.busyMs / 1000],
  ['sluice_task_waiting_seconds_total', 'Time the task awaited an external call (a sink write, flush or pre-commit, a source read).', 'counter', (m) => m.waitingMs / 1000],
  ['sluice_task_backpressured_seconds_total', 'Time the task could not run because an output channel was full.', 'counter', (m) => m.backpressuredMs / 1000],
  ['sluice_task_idle_seconds_total', 'Time the task had nothing to do.', 'counter', (m) => m.idleMs / 1000],
  ['sluice_input_queue_usage_ratio', 'Fill of the fullest input channel (0..1).', 'gauge', (m) => m.inputQueueUsage],
  ['sluice_output_queue_usage_ratio', 'Fill of the fullest output channel (0..1).', 'gauge', (m) => m.outputQueueUsage],
  ['sluice_exchange_in_bytes_per_second', 'Encoded bytes received from other threads per second.', 'gauge', (m) => m.bytesInPerSecond],
  ['sluice_exchange_out_bytes_per_second', 'Encoded bytes sent to other threads per second.', 'gauge', (m) => m.bytesOutPerSecond],
  ['sluice_watermark_seconds', 'Current input watermark (event time, epoch seconds).', 'gauge', (m) => (m.watermark === null ? null : m.watermark / 1000)],
  ['sluice_watermark_lag_seconds', 'Wall clock minus the watermark.', 'gauge', (m) => (m.watermarkLagMs === null ? null : m.watermarkLagMs / 1000)],
  ['sluice_state_entries', 'Keyed state entries.', 'gauge', (m) => m.stateEntries],
  ['sluice_state_bytes', 'Estimated keyed state size.', 'gauge', (m) => m.stateBytes],
  ['sluice_pending_timers', 'Timers and window firings waiting.', 'gauge', (m) => m.pendingTimers],
  ['sluice_latency_p50_seconds', 'Source-to-operator latency, median of the last 10 s of latency markers.', 'gauge', (m) => sec(m.latency?.p50)],
  ['sluice_latency_p90_seconds', 'Source-to-operator latency, 90th percentile, last 10 s.', 'gauge', (m) => sec(m.latency?.p90)],
  ['sluice_latency_p99_seconds', 'Source-to-operator latency, 99th percentile, last 10 s.', 'gauge', (m) => sec(m.latency?.p99)],
  ['sluice_latency_max_seconds', 'Source-to-operator latency, largest in the last 10 s.', 'gauge', (m) => sec(m.latency?.max)],
]

function sec(ms: number | undefined): number | null {
  return ms === undefined ? null : ms / 1000
}

/** `droppedEvents`: event-stream frames the server dropped per job (subscribers that fell behind). */
export async function prometheusText(monitors: readonly JobMonitor[], droppedEvents: ReadonlyMap<string, number> = new Map()): Promise<string> {
  const registry = new Registry()
  const opLabels = ['job', 'operator', 'subtask'] as const
  for (const [name, help, type, value] of OPERATOR_METRICS) {
    const metric = type === 'counter' ? new Counter({ name, help, labelNames: opLabels, registers: [registry] }) : new Gauge({ name, help, labelNames: opLabels, registers: [registry] })
    for (const mon of monitors) {
      const v = mon.view()
      for (const op of v.operators) {
        for (const s of op.subtasks) {
          const x = value(s)
          if (x === null || !Number.isFinite(x)) continue
          const labels = { job: v.id, operator: op.id, subtask: String(s.subtask) }
          if (metric instanceof Counter) metric.inc(labels, x)
          else metric.set(labels, x)
        }
      }
    }
  }
  const job = (name: string, help: string): Gauge => new Gauge({ name, help, labelNames: ['job'], registers: [registry] })
  const up = job('sluice_job_running', '1 while the job runs, 0 once it has ended.')
  const uptime = job('sluice_job_uptime_seconds', 'Time since the job started.')
  const rate = job('sluice_job_records_per_second', 'Records out of all sources in the last second.')
  const e2e = new Gauge({ name: 'sluice_end_to_end_latency_seconds', help: 'Source-to-sink latency over the last 10 s of latency markers.', labelNames: ['job', 'quantile'], registers: [registry] })
  const thread = (name: string, help: string): Gauge => new Gauge({ name, help, labelNames: ['job', 'worker'], registers: [registry] })
  const loop = thread('sluice_event_loop_delay_p99_seconds', 'Event-loop delay, 99th percentile since the last report, per thread (worker -1: main thread).')
  const gc = thread('sluice_gc_pause_ratio', 'Share of the last second spent in GC pauses, per thread.')
  const heap = thread('sluice_heap_used_bytes', 'V8 heap in use, per thread.')
  const heapLimit = thread('sluice_heap_limit_bytes', 'V8 heap limit, per thread.')
  const cpu = new Counter({ name: 'sluice_thread_cpu_seconds_total', help: 'CPU time (user + system) of the thread itself, per thread (Linux only).', labelNames: ['job', 'worker'], registers: [registry] })
  const chkDone = new Counter({ name: 'sluice_checkpoints_completed_total', help: 'Checkpoints completed (written durably and committed).', labelNames: ['job'], registers: [registry] })
  const chkFailed = new Counter({ name: 'sluice_checkpoints_failed_total', help: 'Checkpoints abandoned (a task ended or failed before acknowledging).', labelNames: ['job'], registers: [registry] })
  const chkDuration = job('sluice_checkpoint_duration_seconds', 'Duration of the last completed checkpoint, from trigger to committed.')
  const chkSize = job('sluice_checkpoint_size_bytes', 'Operator state in the last completed checkpoint.')
  const chkAlignment = job('sluice_checkpoint_alignment_seconds', 'Last completed checkpoint: longest barrier alignment over its tasks (first to last input barrier).')
  const chkStartDelay = job('sluice_checkpoint_start_delay_seconds', 'Last completed checkpoint: longest time from trigger to the barrier reaching a task.')
  const chkSync = job('sluice_checkpoint_sync_seconds', 'Last completed checkpoint: longest synchronous state snapshot on a task\'s thread.')
  const restarts = new Counter({ name: 'sluice_job_restarts_total', help: 'Restarts of the job from its latest checkpoint after a failure.', labelNames: ['job'], registers: [registry] })
  const alert = new Gauge({ name: 'sluice_alert_firing', help: '1 while the objective is breached (its alert firing), else 0.', labelNames: ['job', 'objective'], registers: [registry] })
  const lag = new Gauge({ name: 'sluice_source_lag_records', help: `Records between a source partition's read position and the end its reader last saw (at most ${LAG_SERIES_PER_SOURCE} partitions per source: the farthest behind).`, labelNames: ['job', 'source', 'partition'], registers: [registry] })
  const lagTotal = new Gauge({ name: 'sluice_source_lag_total_records', help: 'Records behind the end, summed over all partitions of the source.', labelNames: ['job', 'source'], registers: [registry] })
  const lagGrowth = new Gauge({ name: 'sluice_source_lag_growth_records_per_second', help: 'Change of the source\'s total lag over the monitor\'s window (positive: falling behind).', labelNames: ['job', 'source'], registers: [registry] })
  const partitions = new Gauge({ name: 'sluice_source_partitions', help: 'Partitions the source\'s readers report.', labelNames: ['job', 'source'], registers: [registry] })
  const connUp = new Gauge({ name: 'sluice_connector_up', help: '1 while every subtask of the connector is connected to its server, else 0.', labelNames: ['job', 'connector', 'kind'], registers: [registry] })
  const connState = new Gauge({ name: 'sluice_connector_subtasks', help: 'Subtasks of the connector in each connection state (connected, reconnecting, failed).', labelNames: ['job', 'connector', 'kind', 'state'], registers: [registry] })
  const dropped = new Counter({ name: 'sluice_monitoring_events_dropped_total', help: 'Server-Sent Event frames not sent to subscribers that did not read fast enough (older snapshots coalesced, alerts skipped).', labelNames: ['job'], registers: [registry] })
  // HTTP ingest sources: counted where the server answers (this thread), per source.
  const ingestLabels = ['job', 'source'] as const
  const ingestCounter = (name: string, help: string): Counter => new Counter({ name, help, labelNames: ingestLabels, registers: [registry] })
  const ingAccepted = ingestCounter('sluice_ingest_accepted_records_total', 'Records HTTP ingest accepted (202) into the source\'s buffer.')
  const ingAcceptedReq = ingestCounter('sluice_ingest_accepted_requests_total', 'HTTP ingest requests answered 202.')
  const ingRejected = ingestCounter('sluice_ingest_rejected_requests_total', 'HTTP ingest requests refused with 429 (buffer full, or too many bodies being read): backpressure.')
  const ingMalformed = ingestCounter('sluice_ingest_malformed_requests_total', 'HTTP ingest requests refused with 400 or 415 (malformed JSON or NDJSON, not UTF-8, refused by parse, wrong media type).')
  const ingTooLarge = ingestCounter('sluice_ingest_too_large_requests_total', 'HTTP ingest requests refused with 413 (body over maxBodyBytes, or more records than the buffer holds).')
  const ingBuffered = new Gauge({ name: 'sluice_ingest_buffered_records', help: 'Records in the HTTP source\'s buffer, waiting for the job (at most maxBufferedRecords).', labelNames: ingestLabels, registers: [registry] })
  for (const mon of monitors) {
    for (const e of ingestEndpoints(mon.pipeline)) {
      const s = e.target.stats()
      const l = { job: mon.id, source: e.sourceId }
      ingAccepted.inc(l, s.acceptedRecords)
      ingAcceptedReq.inc(l, s.acceptedRequests)
      ingRejected.inc(l, s.rejectedRequests)
      ingMalformed.inc(l, s.malformedRequests)
      ingTooLarge.inc(l, s.tooLargeRequests)
      ingBuffered.set(l, s.buffered)
    }
  }
  for (const mon of monitors) {
    const v = mon.view()
    dropped.inc({ job: v.id }, droppedEvents.get(v.id) ?? 0)
    up.set({ job: v.id }, v.status === 'running' || v.status === 'starting' ? 1 : 0)
    uptime.set({ job: v.id }, v.uptimeMs / 1000)
    rate.set({ job: v.id }, v.recordsPerSecond)
    if (v.latency !== null) {
      for (const q of ['p50', 'p90', 'p99', 'max'] as const) e2e.set({ job: v.id, quantile: q === 'max' ? '1' : `0.${q.slice(1)}` }, v.latency[q] / 1000)
    }
    for (const w of v.workers) {
      const l = { job: v.id, worker: String(w.worker) }
      if (w.eventLoopDelayP99Ms !== null) loop.set(l, w.eventLoopDelayP99Ms / 1000)
      gc.set(l, w.gcPauseMsPerSecond / 1000)
      heap.set(l, w.heapUsedBytes)
      heapLimit.set(l, w.heapLimitBytes)
      if (w.cpuMs !== null) cpu.inc(l, w.cpuMs / 1000)
    }
    const c = v.checkpoints
    if (c !== null) {
      chkDone.inc({ job: v.id }, c.completed)
      chkFailed.inc({ job: v.id }, c.failed)
      if (c.lastDurationMs !== null) chkDuration.set({ job: v.id }, c.lastDurationMs / 1000)
      if (c.lastSizeBytes !== null) chkSize.set({ job: v.id }, c.lastSizeBytes)
      if (c.lastAlignmentMs !== null) chkAlignment.set({ job: v.id }, c.lastAlignmentMs / 1000)
      if (c.lastStartDelayMs !== null) chkStartDelay.set({ job: v.id }, c.lastStartDelayMs / 1000)
      if (c.lastSyncMs !== null) chkSync.set({ job: v.id }, c.lastSyncMs / 1000)
    }
    restarts.inc({ job: v.id }, Math.max(c?.restarts ?? 0, mon.restarts))
    for (const src of v.sources ?? []) {
      const l = { job: v.id, source: src.source }
      partitions.set(l, src.partitionCount)
      if (src.lag !== null) lagTotal.set(l, src.lag)
      if (src.lagPerSecond !== null) lagGrowth.set(l, src.lagPerSecond)
      const known = src.partitions.filter((p) => p.lag !== null)
      const shown = known.length <= LAG_SERIES_PER_SOURCE ? known : [...known].sort((a, b) => (b.lag as number) - (a.lag as number)).slice(0, LAG_SERIES_PER_SOURCE)
      for (const p of shown) lag.set({ ...l, partition: p.partition }, p.lag as number)
    }
    const byConnector = new Map<string, { kind: string; counts: Record<(typeof CONNECTION_STATES)[number], number> }>()
    for (const c of v.connections ?? []) {
      const entry = byConnector.get(c.connector) ?? (byConnector.set(c.connector, { kind: c.kind, counts: { connected: 0, reconnecting: 0, failed: 0 } }).get(c.connector) as { kind: string; counts: Record<(typeof CONNECTION_STATES)[number], number> })
      entry.counts[c.state]++
    }
    for (const [connector, { kind, counts }] of byConnector) {
      connUp.set({ job: v.id, connector, kind }, counts.reconnecting + counts.failed === 0 ? 1 : 0)
      for (const state of CONNECTION_STATES) connState.set({ job: v.id, connector, kind, state }, counts[state])
    }
    const firing = new Set(v.alerts.map((a) => a.objective))
    for (const o of mon.alerts().objectives) alert.set({ job: v.id, objective: o.name }, firing.has(o.name) ? 1 : 0)
  }
  return registry.metrics()
}
