import { describe, expect, it } from 'vitest'
import { promtoolCheckMetrics } from '../../test/support/promtool.ts'
import { CallMetrics } from '../metrics/call-metrics.ts'
import { CheckpointDurations } from '../metrics/checkpoint-durations.ts'
import { Histogram } from '../metrics/histogram.ts'
import type { JobMetrics, OperatorMetricsSnapshot, TaskMetricsSnapshot } from '../metrics/task-metrics.ts'
import type { JobMonitor } from '../monitoring/job-monitor.ts'
import { LAG_SERIES_PER_SOURCE, prometheusText } from './prometheus.ts'
import type { ConnectionView, JobView, OperatorView, PartitionView } from '../monitoring/types.ts'

/** Just what prometheusText reads of a monitor. */
function monitor(view: Partial<JobView>, metrics: JobMetrics | null = null, checkpointDurations = new CheckpointDurations()): JobMonitor {
  const v: JobView = {
    id: 'j', name: 'j', status: 'running', startedAt: 0, uptimeMs: 1000, t: 1000, parallelism: 1, workerCount: 0, recordsPerSecond: 0,
    latency: null, topFinding: null, graph: { nodes: [], edges: [] }, operators: [], workers: [], alerts: [], checkpoints: null,
    sources: [], connections: [], ...view,
  }
  // pipeline: /metrics reads the job's HTTP ingest sources from its graph (none here).
  return { id: v.id, view: () => v, latestMetrics: () => metrics, checkpointDurations, alerts: () => ({ objectives: [], alerts: [] }), restarts: 0, pipeline: { graph: { nodes: new Map() } } } as unknown as JobMonitor
}

const partition = (i: number): PartitionView => ({ partition: `orders/${i}`, subtask: 0, position: `offset ${i}`, lag: i, lagPerSecond: null })
const conn = (subtask: number, state: ConnectionView['state']): ConnectionView => ({ connector: 'orders', kind: 'kafka', role: 'source', subtask, state, lastError: null, since: 0 })

describe('prometheusText: sources and connectors', () => {
  it(`exports at most ${LAG_SERIES_PER_SOURCE} partitions per source, the farthest behind; the total and count cover all`, async () => {
    const partitions = Array.from({ length: 300 }, (_, i) => partition(i))
    const text = prometheusText([monitor({
      sources: [{ source: 'orders', kind: 'kafka', lag: 44_850, lagPerSecond: -12.5, windowSeconds: 10, partitionCount: 300, worst: partitions[299], partitions }],
      connections: [conn(0, 'connected'), conn(1, 'failed')],
    })])
    const lagLines = text.split('\n').filter((l) => l.startsWith('sluice_source_lag_records{'))
    expect(lagLines).toHaveLength(LAG_SERIES_PER_SOURCE)
    expect(lagLines).toContain('sluice_source_lag_records{job="j",source="orders",partition="orders/299"} 299')
    expect(lagLines.some((l) => l.includes('partition="orders/43"'))).toBe(false)
    expect(text).toContain('sluice_source_lag_total_records{job="j",source="orders"} 44850')
    expect(text).toContain('sluice_source_lag_growth_records_per_second{job="j",source="orders"} -12.5')
    expect(text).toContain('sluice_source_partitions{job="j",source="orders"} 300')
    expect(text).toContain('sluice_connector_up{job="j",connector="orders",kind="kafka"} 0')
    for (const [state, n] of [['connected', 1], ['reconnecting', 0], ['failed', 1]]) {
      expect(text).toContain(`sluice_connector_subtasks{job="j",connector="orders",kind="kafka",state="${state}"} ${n}`)
    }
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' })
  })

  it('a connector whose subtasks are all connected is up; partitions without a known lag get no series', async () => {
    const text = prometheusText([monitor({
      sources: [{ source: 'orders', kind: 'kafka', lag: null, lagPerSecond: null, windowSeconds: 0, partitionCount: 1, worst: null, partitions: [{ ...partition(0), lag: null }] }],
      connections: [conn(0, 'connected')],
    })])
    expect(text).toContain('sluice_connector_up{job="j",connector="orders",kind="kafka"} 1')
    expect(text).not.toMatch(/^sluice_source_lag_records\{/m)
    expect(text).not.toMatch(/^sluice_source_lag_total_records\{/m)
    expect(text).toContain('sluice_source_partitions{job="j",source="orders"} 1')
  })
})

const zero = {
  recordsIn: 0, recordsOut: 0, recordsInPerSecond: 0, recordsOutPerSecond: 0, bytesInPerSecond: 0, bytesOutPerSecond: 0,
  busyMsPerSecond: 0, waitingMsPerSecond: 0, backpressuredMsPerSecond: 0, idleMsPerSecond: 0, busyMs: 0, waitingMs: 0, backpressuredMs: 0, idleMs: 0,
  inputQueueUsage: null, outputQueueUsage: null, watermark: null, watermarkLagMs: null, lateRecords: 0, skippedRecords: 0, deadLetteredRecords: 0, errors: 0,
  stateEntries: 0, stateBytes: 0, pendingTimers: 0, latency: null,
}

function op(id: string, kind: OperatorView['kind'], parallelism: number, recordsOut = 0): OperatorView {
  const subtasks = Array.from({ length: parallelism }, (_, s) => ({ ...zero, subtask: s, worker: -1, recordsOut, busyMs: 1500, waitingMs: 10, backpressuredMs: 250, idleMs: 40 }))
  return { ...zero, id, label: id, kind, parallelism, task: 0, state: 'busy', hotKeys: null, recordsOut: recordsOut * parallelism, subtasks }
}

function task(name: string, subtask: number, operators: string[], samplesMs: number[], bytes = 0): TaskMetricsSnapshot {
  const h = new Histogram()
  for (const ms of samplesMs) h.record(ms)
  return {
    task: name, subtask, parallelism: 2, operators, busyMs: 0, waitingMs: 0, backpressuredMs: 0, idleMs: 0, watermark: null,
    latency: h.sparse(), latencySumMs: h.sumMs, latencyMaxMs: h.maxMs, bytesIn: bytes, bytesOut: 2 * bytes, inputQueueUsage: null, outputQueueUsage: null, hotKeys: [],
  }
}

/** `name{labels}` → value, for the samples of one family. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{.*\})? (\S+)$/.exec(line)
    if (m !== null && m[1] === name) out.set(m[2] ?? '', Number(m[3]))
  }
  return out
}

describe('prometheusText: histograms and counters', () => {
  // src and parse run chained in one task; the sink runs in two subtasks of its own.
  const view = monitor(
    { operators: [op('src', 'source', 1, 700), op('parse', 'operator', 1), op('out', 'sink', 2)], workers: [{ worker: -1, eventLoopDelayP99Ms: 20, eventLoopDelayMaxMs: 30, gcPauseMsPerSecond: 5, heapUsedBytes: 1, heapLimitBytes: 2, cpuMsPerSecond: 3, cpuMs: 4000 }] },
    {
      operators: [],
      tasks: [task('src', 0, ['src', 'parse'], [0.05, 0.3]), task('out', 0, ['out'], [1, 2, 150], 100), task('out', 1, ['out'], [4, 90_000], 50)],
      threads: [{ worker: -1, eventLoopDelayP99Ms: 20, eventLoopDelayMaxMs: 30, gcPauseMs: 1250, heapUsedBytes: 1, heapLimitBytes: 2, cpuMs: 4000 }],
    },
  )
  const text = prometheusText([view])

  it('latency per operator subtask is its task\'s histogram: cumulative buckets, +Inf = count, sum in seconds', () => {
    const src = samples(text, 'sluice_latency_seconds_bucket')
    expect(src.get('{job="j",operator="src",subtask="0",le="0.0001"}')).toBe(1)
    expect(src.get('{job="j",operator="src",subtask="0",le="0.0004"}')).toBe(2)
    expect(src.get('{job="j",operator="src",subtask="0",le="+Inf"}')).toBe(2)
    for (const [k, n] of src) if (k.includes('operator="src"')) expect(src.get(k.replace('"src"', '"parse"'))).toBe(n)
    expect(samples(text, 'sluice_latency_seconds_count').get('{job="j",operator="out",subtask="1"}')).toBe(2)
    expect(samples(text, 'sluice_latency_seconds_sum').get('{job="j",operator="out",subtask="1"}')).toBeCloseTo(90.004, 9)
  })

  it('end-to-end latency adds up the histograms of the sinks\' tasks', () => {
    const e2e = samples(text, 'sluice_end_to_end_latency_seconds_bucket')
    expect(e2e.get('{job="j",le="0.0016"}')).toBe(1)
    expect(e2e.get('{job="j",le="0.0064"}')).toBe(3)
    expect(e2e.get('{job="j",le="0.2048"}')).toBe(4)
    expect(e2e.get('{job="j",le="52.4288"}')).toBe(4)
    expect(e2e.get('{job="j",le="104.8576"}')).toBe(5)
    expect(e2e.get('{job="j",le="+Inf"}')).toBe(5)
    expect(samples(text, 'sluice_end_to_end_latency_seconds_count').get('{job="j"}')).toBe(5)
    expect(samples(text, 'sluice_end_to_end_latency_seconds_sum').get('{job="j"}')).toBeCloseTo(90.157, 9)
  })

  it('time, exchange bytes, GC pauses and the job\'s input are counters; no 1-second ratio is left', () => {
    expect(samples(text, 'sluice_task_busy_seconds_total').get('{job="j",operator="out",subtask="1"}')).toBe(1.5)
    expect(samples(text, 'sluice_task_backpressured_seconds_total').get('{job="j",operator="parse",subtask="0"}')).toBe(0.25)
    expect([...samples(text, 'sluice_exchange_in_bytes_total')]).toEqual([['{job="j",operator="src",subtask="0"}', 0], ['{job="j",operator="out",subtask="0"}', 100], ['{job="j",operator="out",subtask="1"}', 50]])
    expect(samples(text, 'sluice_exchange_out_bytes_total').get('{job="j",operator="parse",subtask="0"}')).toBe(0)
    expect(samples(text, 'sluice_exchange_out_bytes_total').has('{job="j",operator="src",subtask="0"}')).toBe(false)
    expect(samples(text, 'sluice_gc_pause_seconds_total').get('{job="j",worker="-1"}')).toBe(1.25)
    expect(samples(text, 'sluice_job_input_records_total').get('{job="j"}')).toBe(700)
    for (const gone of ['sluice_busy_ratio', 'sluice_waiting_ratio', 'sluice_backpressured_ratio', 'sluice_idle_ratio', 'sluice_exchange_in_bytes_per_second', 'sluice_job_records_per_second', 'sluice_gc_pause_ratio', 'sluice_latency_p99_seconds', 'quantile=']) {
      expect(text).not.toContain(gone)
    }
  })

  it('checkpoint durations are a histogram of every completed checkpoint', () => {
    const d = new CheckpointDurations()
    d.observe({ completed: 3, history: [{ status: 'completed', durationMs: 40 }, { status: 'completed', durationMs: 70 }, { status: 'completed', durationMs: 2000 }] })
    const checkpoints = { intervalMs: 100, timeoutMs: 1000, completed: 3, failed: 1, lastId: 4, lastFailure: null, lastDurationMs: 2000, lastSizeBytes: 10, lastAlignmentMs: 0, lastStartDelayMs: 1, lastSyncMs: 2, restarts: 0, restoredFrom: null, restore: null }
    const t = prometheusText([monitor({ checkpoints }, null, d)])
    expect(samples(t, 'sluice_checkpoint_duration_seconds_bucket').get('{job="j",le="0.0512"}')).toBe(1)
    expect(samples(t, 'sluice_checkpoint_duration_seconds_bucket').get('{job="j",le="0.1024"}')).toBe(2)
    expect(samples(t, 'sluice_checkpoint_duration_seconds_count').get('{job="j"}')).toBe(3)
    expect(samples(t, 'sluice_checkpoint_duration_seconds_sum').get('{job="j"}')).toBeCloseTo(2.11, 9)
    expect(samples(t, 'sluice_checkpoints_failed_total').get('{job="j"}')).toBe(1)
    expect(promtoolCheckMetrics(t)).toEqual({ status: 0, output: '' })
  })

  it('promtool finds nothing wrong', () => {
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' })
  })
})

describe('prometheusText: asynchronous operators\' calls', () => {
  function callRow(operator: string, subtask: number, c: CallMetrics): OperatorMetricsSnapshot {
    return {
      operator, task: operator, subtask, recordsIn: 0, recordsOut: 0, errors: 0, skipped: 0, deadLettered: 0, lateDropped: 0, sideOutputDropped: 0,
      stateEntries: 0, stateBytes: 0, pendingTimers: 0, calls: c.snapshot(2000),
    }
  }
  const translate = new CallMetrics(64, 1)
  for (const ms of [3, 40, 40, 900]) translate.latency.record(ms)
  Object.assign(translate, { calls: 4, callRecords: 4, succeeded: 3, failures: 1, timeouts: 1, retries: 2, held: 70 })
  translate.setInFlight(64, 500)
  const lookup = new CallMetrics(8, 100)
  Object.assign(lookup, { calls: 2, callRecords: 150, succeeded: 2, cacheHits: 850, cacheMisses: 150, cacheEntries: 120 })
  const text = prometheusText([monitor(
    { operators: [op('translate', 'operator', 1), op('lookup', 'operator', 1), op('parse', 'operator', 1)] },
    { operators: [callRow('translate', 0, translate), callRow('lookup', 0, lookup), { ...callRow('parse', 0, lookup), calls: undefined }], tasks: [] },
  )])
  const tr = '{job="j",operator="translate",subtask="0"}'
  const lk = '{job="j",operator="lookup",subtask="0"}'

  it('exports counters, gauges and the full time per subtask of each asynchronous operator, and nothing for the others', () => {
    expect(samples(text, 'sluice_calls_total').get(tr)).toBe(4)
    expect(samples(text, 'sluice_call_records_total').get(lk)).toBe(150)
    expect(samples(text, 'sluice_call_failures_total').get(tr)).toBe(1)
    expect(samples(text, 'sluice_call_timeouts_total').get(tr)).toBe(1)
    expect(samples(text, 'sluice_call_retries_total').get(tr)).toBe(2)
    // Full since 500 ms, snapshot at 2000 ms: 1.5 s.
    expect(samples(text, 'sluice_calls_full_seconds_total').get(tr)).toBe(1.5)
    expect(samples(text, 'sluice_calls_in_flight').get(tr)).toBe(64)
    expect(samples(text, 'sluice_call_capacity').get(lk)).toBe(8)
    expect(samples(text, 'sluice_call_held_records').get(tr)).toBe(70)
    expect([...samples(text, 'sluice_calls_total').keys()]).toEqual([tr, lk])
  })

  it('cache series only for an operator with a cache', () => {
    expect([...samples(text, 'sluice_call_cache_hits_total')]).toEqual([[lk, 850]])
    expect([...samples(text, 'sluice_call_cache_misses_total')]).toEqual([[lk, 150]])
    expect([...samples(text, 'sluice_call_cache_entries')]).toEqual([[lk, 120]])
  })

  it('call latency is a histogram in seconds with the buckets of the latency histogram', () => {
    const b = samples(text, 'sluice_call_latency_seconds_bucket')
    expect(b.get('{job="j",operator="translate",subtask="0",le="0.0016"}')).toBe(0)
    expect(b.get('{job="j",operator="translate",subtask="0",le="0.0032"}')).toBe(1)
    expect(b.get('{job="j",operator="translate",subtask="0",le="0.0256"}')).toBe(1)
    expect(b.get('{job="j",operator="translate",subtask="0",le="0.0512"}')).toBe(3)
    expect(b.get('{job="j",operator="translate",subtask="0",le="+Inf"}')).toBe(4)
    expect(samples(text, 'sluice_call_latency_seconds_count').get(tr)).toBe(4)
    expect(samples(text, 'sluice_call_latency_seconds_sum').get(tr)).toBeCloseTo(0.983, 9)
    expect(samples(text, 'sluice_call_latency_seconds_count').get(lk)).toBe(0)
    expect(samples(text, 'sluice_call_latency_seconds_count').has('{job="j",operator="parse",subtask="0"}')).toBe(false)
  })

  it('promtool finds nothing wrong', () => {
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' })
  })
})
