/**
 * Every metric /metrics exports: name, type, help and label names, in the order they are written.
 * Prometheus conventions: base units (seconds, bytes, ratios 0..1), counters end in `_total`,
 * histograms have the buckets of histogram.ts (PROMETHEUS_BOUNDS_MS). docs/METRICS.md lists each
 * one (a test keeps the two in step), and so may the Grafana dashboard in docs/grafana/ use only
 * these names.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram'

export interface MetricDef {
  readonly name: string
  readonly type: MetricType
  readonly help: string
  /** Label names in the order they are written (histograms add `le`). */
  readonly labels: readonly string[]
}

/**
 * Partitions exported per source by sluice_source_lag_records: the ones farthest behind. A source
 * with more partitions still counts them all in sluice_source_lag_total_records and
 * sluice_source_partitions.
 */
export const LAG_SERIES_PER_SOURCE = 256

const OP = ['job', 'operator', 'subtask'] as const
const JOB = ['job'] as const
const THREAD = ['job', 'worker'] as const
const SOURCE = ['job', 'source'] as const

const def = (type: MetricType, labels: readonly string[]) => (name: string, help: string): MetricDef => ({ name, type, help, labels })
const opCounter = def('counter', OP)
const opGauge = def('gauge', OP)
const jobCounter = def('counter', JOB)
const jobGauge = def('gauge', JOB)
const ingestCounter = def('counter', SOURCE)

// Per operator subtask. Task figures (time, latency, exchange bytes) are those of the task that
// runs the operator, so the operators chained into one task show the same values.
export const RECORDS_IN = opCounter('sluice_records_in_total', 'Records into the operator.')
export const RECORDS_OUT = opCounter('sluice_records_out_total', 'Records out of the operator (main and side outputs).')
export const LATE_RECORDS = opCounter('sluice_late_records_total', 'Records dropped as late.')
export const SKIPPED_RECORDS = opCounter('sluice_skipped_records_total', 'Bad records skipped (onError: skip).')
export const DEAD_LETTERED_RECORDS = opCounter('sluice_dead_lettered_records_total', 'Bad records written to a dead-letter sink.')
export const ERRORS = opCounter('sluice_errors_total', 'Records whose processing failed, under any error policy.')
export const TASK_BUSY = opCounter('sluice_task_busy_seconds_total', 'Time the task ran its own code on its thread.')
export const TASK_WAITING = opCounter('sluice_task_waiting_seconds_total', 'Time the task awaited an external call (a sink write, flush or pre-commit, a source read, an asynchronous operator\'s calls with every slot taken).')
export const TASK_BACKPRESSURED = opCounter('sluice_task_backpressured_seconds_total', 'Time the task could not run because an output channel was full.')
export const TASK_IDLE = opCounter('sluice_task_idle_seconds_total', 'Time the task had nothing to do.')
export const INPUT_QUEUE_USAGE = opGauge('sluice_input_queue_usage_ratio', 'Fill of the fullest input channel (0..1).')
export const OUTPUT_QUEUE_USAGE = opGauge('sluice_output_queue_usage_ratio', 'Fill of the fullest output channel (0..1).')
export const EXCHANGE_IN_BYTES = opCounter('sluice_exchange_in_bytes_total', 'Encoded bytes received from other threads (on the first operator of a task).')
export const EXCHANGE_OUT_BYTES = opCounter('sluice_exchange_out_bytes_total', 'Encoded bytes sent to other threads (on the last operator of a task).')
export const WATERMARK = opGauge('sluice_watermark_seconds', 'Current input watermark (event time, epoch seconds).')
export const WATERMARK_LAG = opGauge('sluice_watermark_lag_seconds', 'Wall clock minus the watermark.')
export const STATE_ENTRIES = opGauge('sluice_state_entries', 'Keyed state entries.')
export const STATE_BYTES = opGauge('sluice_state_bytes', 'Estimated keyed state size.')
export const PENDING_TIMERS = opGauge('sluice_pending_timers', 'Timers and window firings waiting.')
export const LATENCY = def('histogram', OP)('sluice_latency_seconds', 'Source-to-operator latency: age of latency markers on arrival at the task, since it started.')

// Per asynchronous operator subtask (mapAsync, flatMapAsync, mapAsyncBatch, lookupJoin): its calls
// to a service. A call is one attempt: a retry is another call, a batch of records is one call.
export const CALLS = opCounter('sluice_calls_total', 'Calls the asynchronous operator started, retries included (a batch is one call).')
export const CALL_RECORDS = opCounter('sluice_call_records_total', 'Records those calls carried.')
export const CALL_FAILURES = opCounter('sluice_call_failures_total', 'Records whose call failed for good (it failed or timed out on its last attempt), handed to the operator\'s onError.')
export const CALL_TIMEOUTS = opCounter('sluice_call_timeouts_total', 'Calls aborted by their timeout (each may have been retried).')
export const CALL_RETRIES = opCounter('sluice_call_retries_total', 'Calls started again after a failure or a timeout.')
export const CALLS_FULL = opCounter('sluice_calls_full_seconds_total', 'Time every call slot of the subtask was in use (calls in flight = concurrency).')
export const CALL_CACHE_HITS = opCounter('sluice_call_cache_hits_total', 'Lookups answered by the lookup cache (lookupJoin with a cache).')
export const CALL_CACHE_MISSES = opCounter('sluice_call_cache_misses_total', 'Lookups the lookup cache could not answer (lookupJoin with a cache).')
export const CALLS_IN_FLIGHT = opGauge('sluice_calls_in_flight', 'Calls in flight now.')
export const CALL_CAPACITY = opGauge('sluice_call_capacity', 'Calls allowed in flight at once (the concurrency option).')
export const CALL_HELD_RECORDS = opGauge('sluice_call_held_records', 'Records taken in and not yet out: in calls, waiting for a slot or a batch, or done and waiting for their turn.')
export const CALL_CACHE_ENTRIES = opGauge('sluice_call_cache_entries', 'Entries in the lookup cache (lookupJoin with a cache).')
export const CALL_LATENCY = def('histogram', OP)('sluice_call_latency_seconds', 'Latency of the calls (a timed-out call counts its timeout), since the subtask started.')

// Per job.
export const JOB_RUNNING = jobGauge('sluice_job_running', '1 while the job runs, 0 once it has ended.')
export const JOB_UPTIME = jobGauge('sluice_job_uptime_seconds', 'Time since the job started.')
export const JOB_INPUT_RECORDS = jobCounter('sluice_job_input_records_total', 'Records out of all the job\'s sources.')
export const END_TO_END_LATENCY = def('histogram', JOB)('sluice_end_to_end_latency_seconds', 'Source-to-sink latency: age of latency markers on arrival at the sinks\' tasks.')
export const JOB_RESTARTS = jobCounter('sluice_job_restarts_total', 'Restarts of the job from its latest checkpoint after a failure.')
export const ALERT_FIRING = def('gauge', ['job', 'objective'])('sluice_alert_firing', '1 while the objective is breached (its alert firing), else 0.')
export const EVENTS_DROPPED = jobCounter('sluice_monitoring_events_dropped_total', 'Server-Sent Event frames not sent to subscribers that did not read fast enough (older snapshots coalesced, alerts skipped).')

// Per thread (worker -1: the main thread).
export const EVENT_LOOP_DELAY_P99 = def('gauge', THREAD)('sluice_event_loop_delay_p99_seconds', 'Event-loop delay, 99th percentile since the last report, per thread (worker -1: main thread).')
export const GC_PAUSE = def('counter', THREAD)('sluice_gc_pause_seconds_total', 'Time spent in GC pauses, per thread.')
export const HEAP_USED = def('gauge', THREAD)('sluice_heap_used_bytes', 'V8 heap in use, per thread.')
export const HEAP_LIMIT = def('gauge', THREAD)('sluice_heap_limit_bytes', 'V8 heap limit, per thread.')
export const THREAD_CPU = def('counter', THREAD)('sluice_thread_cpu_seconds_total', 'CPU time (user + system) of the thread itself, per thread (Linux only).')

// Checkpoints.
export const CHECKPOINTS_COMPLETED = jobCounter('sluice_checkpoints_completed_total', 'Checkpoints completed (written durably and committed).')
export const CHECKPOINTS_FAILED = jobCounter('sluice_checkpoints_failed_total', 'Checkpoints abandoned (a task ended or failed before acknowledging).')
export const CHECKPOINT_DURATION = def('histogram', JOB)('sluice_checkpoint_duration_seconds', 'Completed checkpoints, from trigger to committed.')
export const CHECKPOINT_SIZE = jobGauge('sluice_checkpoint_size_bytes', 'Operator state in the last completed checkpoint.')
export const CHECKPOINT_ALIGNMENT = jobGauge('sluice_checkpoint_alignment_seconds', 'Last completed checkpoint: longest barrier alignment over its tasks (first to last input barrier).')
export const CHECKPOINT_START_DELAY = jobGauge('sluice_checkpoint_start_delay_seconds', 'Last completed checkpoint: longest time from trigger to the barrier reaching a task.')
export const CHECKPOINT_SYNC = jobGauge('sluice_checkpoint_sync_seconds', 'Last completed checkpoint: longest synchronous state snapshot on a task\'s thread.')

// Sources and connectors.
export const SOURCE_LAG = def('gauge', ['job', 'source', 'partition'])('sluice_source_lag_records', `Records between a source partition's read position and the end its reader last saw (at most ${LAG_SERIES_PER_SOURCE} partitions per source: the farthest behind).`)
export const SOURCE_LAG_TOTAL = def('gauge', SOURCE)('sluice_source_lag_total_records', 'Records behind the end, summed over all partitions of the source.')
export const SOURCE_LAG_GROWTH = def('gauge', SOURCE)('sluice_source_lag_growth_records_per_second', 'Change of the source\'s total lag over the monitor\'s window of about 10 s (positive: falling behind).')
export const SOURCE_PARTITIONS = def('gauge', SOURCE)('sluice_source_partitions', 'Partitions the source\'s readers report.')
export const CONNECTOR_UP = def('gauge', ['job', 'connector', 'kind'])('sluice_connector_up', '1 while every subtask of the connector is connected to its server, else 0.')
export const CONNECTOR_SUBTASKS = def('gauge', ['job', 'connector', 'kind', 'state'])('sluice_connector_subtasks', 'Subtasks of the connector in each connection state (connected, reconnecting, failed).')

// HTTP ingest, counted where the server answers (the main thread), per source.
export const INGEST_ACCEPTED_RECORDS = ingestCounter('sluice_ingest_accepted_records_total', 'Records HTTP ingest accepted (202) into the source\'s buffer.')
export const INGEST_ACCEPTED_REQUESTS = ingestCounter('sluice_ingest_accepted_requests_total', 'HTTP ingest requests answered 202.')
export const INGEST_REJECTED_REQUESTS = ingestCounter('sluice_ingest_rejected_requests_total', 'HTTP ingest requests refused with 429 (buffer full, or too many bodies being read): backpressure.')
export const INGEST_MALFORMED_REQUESTS = ingestCounter('sluice_ingest_malformed_requests_total', 'HTTP ingest requests refused with 400 or 415 (malformed JSON or NDJSON, not UTF-8, refused by parse, wrong media type).')
export const INGEST_TOO_LARGE_REQUESTS = ingestCounter('sluice_ingest_too_large_requests_total', 'HTTP ingest requests refused with 413 (body over maxBodyBytes, or more records than the buffer holds).')
export const INGEST_BUFFERED_RECORDS = def('gauge', SOURCE)('sluice_ingest_buffered_records', 'Records in the HTTP source\'s buffer, waiting for the job (at most maxBufferedRecords).')

/** All of the above, in the order /metrics writes them. */
export const METRICS: readonly MetricDef[] = [
  RECORDS_IN, RECORDS_OUT, LATE_RECORDS, SKIPPED_RECORDS, DEAD_LETTERED_RECORDS, ERRORS,
  TASK_BUSY, TASK_WAITING, TASK_BACKPRESSURED, TASK_IDLE, INPUT_QUEUE_USAGE, OUTPUT_QUEUE_USAGE,
  EXCHANGE_IN_BYTES, EXCHANGE_OUT_BYTES, WATERMARK, WATERMARK_LAG, STATE_ENTRIES, STATE_BYTES, PENDING_TIMERS, LATENCY,
  CALLS, CALL_RECORDS, CALL_FAILURES, CALL_TIMEOUTS, CALL_RETRIES, CALLS_FULL, CALL_CACHE_HITS, CALL_CACHE_MISSES,
  CALLS_IN_FLIGHT, CALL_CAPACITY, CALL_HELD_RECORDS, CALL_CACHE_ENTRIES, CALL_LATENCY,
  JOB_RUNNING, JOB_UPTIME, JOB_INPUT_RECORDS, END_TO_END_LATENCY, JOB_RESTARTS, ALERT_FIRING, EVENTS_DROPPED,
  EVENT_LOOP_DELAY_P99, GC_PAUSE, HEAP_USED, HEAP_LIMIT, THREAD_CPU,
  CHECKPOINTS_COMPLETED, CHECKPOINTS_FAILED, CHECKPOINT_DURATION, CHECKPOINT_SIZE, CHECKPOINT_ALIGNMENT, CHECKPOINT_START_DELAY, CHECKPOINT_SYNC,
  SOURCE_LAG, SOURCE_LAG_TOTAL, SOURCE_LAG_GROWTH, SOURCE_PARTITIONS, CONNECTOR_UP, CONNECTOR_SUBTASKS,
  INGEST_ACCEPTED_RECORDS, INGEST_ACCEPTED_REQUESTS, INGEST_REJECTED_REQUESTS, INGEST_MALFORMED_REQUESTS, INGEST_TOO_LARGE_REQUESTS, INGEST_BUFFERED_RECORDS,
]

/** The series names a metric's samples carry: a histogram's `_bucket`, `_sum` and `_count`, else its name. */
export function seriesNames(m: MetricDef): string[] {
  return m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name]
}
