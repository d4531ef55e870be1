/**
 * A finding's evidence as people read it: each key of `Finding.evidence` with a label and a unit
 * ("thread busy" · "840 ms/s", "thread" · "main thread"). The table is complete by type: a rule
 * cannot put a key in its evidence that has no label here.
 */
import type { EvidenceItem } from './types.ts'

type Unit =
  | 'ms/s' | 'ms' | 's' | 'records/s' | 'entries/s' | 'records' | 'entries' | 'percent' | 'bytes'
  | 'count' | 'thread' | 'text' | 'calls/s'

const EVIDENCE = {
  // Time on a thread, per second of wall time.
  busyMsPerSecond: ['busy', 'ms/s'],
  hottestSubtaskBusyMsPerSecond: ['busiest subtask busy', 'ms/s'],
  upstreamBackpressuredMsPerSecond: ['upstream backpressured', 'ms/s'],
  busiestBusyMsPerSecond: ['busiest operator busy', 'ms/s'],
  waitingMsPerSecond: ['waiting on I/O', 'ms/s'],
  threadBusyMsPerSecond: ['thread busy', 'ms/s'],
  taskBusyMsPerSecond: ['task busy', 'ms/s'],
  threadCpuMsPerSecond: ['thread on the CPU', 'ms/s'],
  hotSubtaskBusyMsPerSecond: ['hot subtask busy', 'ms/s'],
  medianBusyMsPerSecond: ['median subtask busy', 'ms/s'],
  gcPauseMsPerSecond: ['garbage collection', 'ms/s'],
  // Rates.
  recordsInPerSecond: ['records in', 'records/s'],
  recordsOutPerSecond: ['records out', 'records/s'],
  recordsPerSecond: ['throughput', 'records/s'],
  failedPerSecond: ['failing', 'records/s'],
  hotSubtaskRecordsInPerSecond: ['hot subtask records in', 'records/s'],
  medianRecordsInPerSecond: ['median subtask records in', 'records/s'],
  lagGrowthRecordsPerSecond: ['lag growth', 'records/s'],
  stateGrowthEntriesPerSecond: ['state growth', 'entries/s'],
  callsPerSecond: ['calls', 'calls/s'],
  callTimeoutsPerSecond: ['call timeouts', 'calls/s'],
  callFailuresPerSecond: ['records whose call failed', 'records/s'],
  // Durations.
  latencyP99Ms: ['end-to-end latency p99', 'ms'],
  callLatencyP99Ms: ['call latency p99', 'ms'],
  timeoutMs: ['checkpoint timeout', 'ms'],
  lastStartDelayMs: ['last checkpoint start delay', 'ms'],
  lastSyncMs: ['last snapshot (synchronous part)', 'ms'],
  intervalMs: ['checkpoint interval', 'ms'],
  watermarkLagMs: ['watermark lag', 'ms'],
  watermarkAdvanceMs: ['watermark advanced', 'ms'],
  eventLoopDelayP99Ms: ['event-loop delay p99', 'ms'],
  eventLoopDelayMaxMs: ['event-loop delay max', 'ms'],
  historySeconds: ['history', 's'],
  windowSeconds: ['over the last', 's'],
  forSeconds: ['for', 's'],
  // Shares.
  waitingPercent: ['time waiting on I/O', 'percent'],
  hotSubtaskSharePercent: ['hot subtask\'s share of the load', 'percent'],
  stateGrowthPercent: ['state growth over the window', 'percent'],
  heapUsedPercent: ['heap used of its limit', 'percent'],
  callsFullPercent: ['time every call slot was in use', 'percent'],
  // Sizes and counts.
  lastSizeBytes: ['last checkpoint size', 'bytes'],
  stateBytes: ['state size', 'bytes'],
  heapUsedBytes: ['heap used', 'bytes'],
  heapLimitBytes: ['heap limit', 'bytes'],
  stateEntries: ['state', 'entries'],
  lag: ['lag', 'records'],
  worstPartitionLag: ['worst partition lag', 'records'],
  errors: ['errors', 'records'],
  skippedRecords: ['skipped', 'records'],
  deadLetteredRecords: ['dead-lettered', 'records'],
  hotKeysSampled: ['hot keys from a sample of', 'records'],
  parallelism: ['parallelism', 'count'],
  recommendedParallelism: ['recommended parallelism', 'count'],
  callsInFlight: ['calls in flight', 'count'],
  callCapacity: ['call slots', 'count'],
  concurrency: ['concurrency (calls in flight per subtask)', 'count'],
  maxBatch: ['records per call at most', 'count'],
  hotSubtask: ['hot subtask', 'count'],
  failed: ['checkpoints failed', 'count'],
  completed: ['checkpoints completed', 'count'],
  lastFailedId: ['last failed checkpoint', 'count'],
  sources: ['sources', 'count'],
  partitions: ['partitions', 'count'],
  subtasksDown: ['subtasks down', 'count'],
  subtasks: ['subtasks', 'count'],
  // Where, and names.
  worker: ['thread', 'thread'],
  task: ['chain', 'text'],
  backpressuredUpstream: ['backpressured upstream', 'text'],
  hotKeys: ['hot keys', 'text'],
  busiestOperator: ['busiest operator', 'text'],
  alsoHeldBack: ['also held back', 'text'],
  heldBy: ['held back by', 'text'],
  heldByInput: ['slowest input', 'text'],
  idleInput: ['idle input', 'text'],
  worstPartition: ['worst partition', 'text'],
  bottleneck: ['bottleneck', 'text'],
  state: ['connection', 'text'],
  kind: ['connector', 'text'],
  lastError: ['last error', 'text'],
} as const satisfies Record<string, readonly [string, Unit]>

/** A key a finding's evidence may carry. */
export type EvidenceKey = keyof typeof EVIDENCE

/** What a rule puts in `Finding.evidence`: numbers in base units (ms, bytes, records), or names. */
export type Evidence = { [K in EvidenceKey]?: number | string }

/** Each evidence item with its label and its value in words and units, in the evidence's order. */
export function describeEvidence(evidence: Evidence): EvidenceItem[] {
  return Object.entries(evidence).flatMap(([key, value]) => {
    if (value === undefined) return []
    const entry = (EVIDENCE as Record<string, readonly [string, Unit]>)[key]
    if (entry === undefined) return [{ key, label: key, text: String(value) }]
    return [{ key, label: entry[0], text: formatValue(value, entry[1]) }]
  })
}

function formatValue(v: number | string, unit: Unit): string {
  if (typeof v === 'string') return v
  switch (unit) {
    case 'thread': return v === -1 ? 'main thread' : `worker ${v}`
    case 'ms': return duration(v)
    case 's': return duration(v * 1000)
    case 'percent': return `${num(v)} %`
    case 'bytes': return bytes(v)
    case 'count': case 'text': return num(v)
    default: return `${num(v)} ${unit}`
  }
}

/**
 * "16,384", "2.5", "0.25". Not `toLocaleString`: its first call loads ICU's number formatting,
 * ~30 ms of CPU in every CLI run that reports a finding (measured in the 1-event start-up bench).
 */
function num(v: number): string {
  const r = Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100
  const text = String(Math.abs(r))
  const dot = text.indexOf('.')
  const int = dot < 0 ? text : text.slice(0, dot)
  const grouped = /e/.test(int) ? int : int.replace(/\B(?=(\d{3})+$)/g, ',')
  return `${r < 0 ? '-' : ''}${grouped}${dot < 0 ? '' : text.slice(dot)}`
}

/** "840 ms", "4.2 s", "3 min", "2.5 h". */
function duration(ms: number): string {
  if (ms < 1000) return `${num(Math.round(ms))} ms`
  if (ms < 90_000) return `${num(Math.round(ms / 100) / 10)} s`
  if (ms < 5_400_000) return `${num(Math.round(ms / 60_000))} min`
  return `${num(Math.round(ms / 360_000) / 10)} h`
}

/** "512 B", "12.3 KiB", "1.5 GiB". */
function bytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = b
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? num(v) : num(Math.round(v * 10) / 10)} ${units[i]}`
}
