/**
 * Pieces of the job view computed from metrics: an operator's subtasks aggregated, its state,
 * workers' CPU, and the per-second sample kept in the history.
 */
import type { GraphNode } from '../graph/logical.ts'
import type { ThreadStatsSnapshot } from '../metrics/thread-stats.ts'
import { sampleSources } from './source-progress.ts'
import type { JobView, OperatorMetrics, OperatorView, Percentiles, Sample, WorkerView } from './types.ts'

export function kindOf(n: GraphNode): 'source' | 'operator' | 'sink' {
  return n.type === 'source' ? 'source' : n.type === 'sink' ? 'sink' : 'operator'
}

export const round = (x: number): number => Math.round(x * 10) / 10
export const roundN = (x: number | null): number | null => (x === null ? null : round(x))
/** A start delay: two epoch-ms readings (trigger, barrier at a task), so a clock step could make it negative. */
export const nonNegative = (x: number | null): number | null => (x === null ? null : Math.max(0, round(x)))

export function aggregate(subs: readonly OperatorMetrics[], latency: Percentiles | null): OperatorMetrics {
  const sum = (f: (s: OperatorMetrics) => number): number => subs.reduce((a, s) => a + f(s), 0)
  const max = (f: (s: OperatorMetrics) => number): number => subs.reduce((a, s) => Math.max(a, f(s)), 0)
  const maxN = (f: (s: OperatorMetrics) => number | null): number | null => subs.reduce<number | null>((a, s) => {
    const v = f(s)
    return v === null ? a : a === null || v > a ? v : a
  }, null)
  const minN = (f: (s: OperatorMetrics) => number | null): number | null => subs.reduce<number | null>((a, s) => {
    const v = f(s)
    return v === null ? a : a === null || v < a ? v : a
  }, null)
  return {
    recordsIn: sum((s) => s.recordsIn),
    recordsOut: sum((s) => s.recordsOut),
    recordsInPerSecond: round(sum((s) => s.recordsInPerSecond)),
    recordsOutPerSecond: round(sum((s) => s.recordsOutPerSecond)),
    bytesInPerSecond: round(sum((s) => s.bytesInPerSecond)),
    bytesOutPerSecond: round(sum((s) => s.bytesOutPerSecond)),
    busyMsPerSecond: round(max((s) => s.busyMsPerSecond)),
    waitingMsPerSecond: round(max((s) => s.waitingMsPerSecond)),
    backpressuredMsPerSecond: round(max((s) => s.backpressuredMsPerSecond)),
    idleMsPerSecond: round(max((s) => s.idleMsPerSecond)),
    busyMs: max((s) => s.busyMs),
    waitingMs: max((s) => s.waitingMs),
    backpressuredMs: max((s) => s.backpressuredMs),
    idleMs: max((s) => s.idleMs),
    inputQueueUsage: maxN((s) => s.inputQueueUsage),
    outputQueueUsage: maxN((s) => s.outputQueueUsage),
    watermark: minN((s) => s.watermark),
    watermarkLagMs: maxN((s) => s.watermarkLagMs),
    lateRecords: sum((s) => s.lateRecords),
    skippedRecords: sum((s) => s.skippedRecords),
    deadLetteredRecords: sum((s) => s.deadLetteredRecords),
    errors: sum((s) => s.errors),
    stateEntries: sum((s) => s.stateEntries),
    stateBytes: sum((s) => s.stateBytes),
    pendingTimers: sum((s) => s.pendingTimers),
    latency,
  }
}

/** The dominant of busy / waiting / backpressured / idle, over the hottest subtask (Flink's colouring, plus waiting). */
export function stateOf(m: OperatorMetrics): OperatorView['state'] {
  const b = m.busyMsPerSecond
  const w = m.waitingMsPerSecond
  const bp = m.backpressuredMsPerSecond
  const idle = m.idleMsPerSecond
  if (bp >= b && bp >= w && bp >= idle && bp > 0) return 'backpressured'
  if (w > b && w >= idle) return 'waiting'
  if (b >= idle && b > 0) return 'busy'
  return 'idle'
}

export function workersOf(now: readonly ThreadStatsSnapshot[], before: readonly ThreadStatsSnapshot[], dt: number): WorkerView[] {
  return now.map((t) => {
    const p = before.find((x) => x.worker === t.worker)
    return {
      worker: t.worker,
      eventLoopDelayP99Ms: t.eventLoopDelayP99Ms === null ? null : round(t.eventLoopDelayP99Ms),
      eventLoopDelayMaxMs: t.eventLoopDelayMaxMs === null ? null : round(t.eventLoopDelayMaxMs),
      gcPauseMsPerSecond: dt > 0 && p !== undefined ? round(Math.max(0, (t.gcPauseMs - p.gcPauseMs) / dt)) : 0,
      heapUsedBytes: t.heapUsedBytes,
      heapLimitBytes: t.heapLimitBytes,
      cpuMsPerSecond: dt > 0 && t.cpuMs !== null && p !== undefined && p.cpuMs !== null ? round(Math.max(0, (t.cpuMs - p.cpuMs) / dt)) : null,
      cpuMs: t.cpuMs === null ? null : round(t.cpuMs),
    }
  })
}

export function sampleOf(v: JobView, t: number): Sample {
  const operators: Sample['operators'] = {}
  for (const o of v.operators) {
    operators[o.id] = {
      recordsInPerSecond: o.recordsInPerSecond,
      recordsOutPerSecond: o.recordsOutPerSecond,
      busyMsPerSecond: o.busyMsPerSecond,
      waitingMsPerSecond: o.waitingMsPerSecond,
      backpressuredMsPerSecond: o.backpressuredMsPerSecond,
      idleMsPerSecond: o.idleMsPerSecond,
      inputQueueUsage: o.inputQueueUsage,
      watermarkLagMs: o.watermarkLagMs,
      latencyP50Ms: o.latency?.p50 ?? null,
      latencyP90Ms: o.latency?.p90 ?? null,
      latencyP99Ms: o.latency?.p99 ?? null,
      stateEntries: o.stateEntries,
      ...sampleCalls(o),
      subtasks: o.subtasks.map((s) => ({ busyMsPerSecond: s.busyMsPerSecond, waitingMsPerSecond: s.waitingMsPerSecond, backpressuredMsPerSecond: s.backpressuredMsPerSecond, recordsInPerSecond: s.recordsInPerSecond })),
    }
  }
  const workers = v.workers.map((w) => ({ worker: w.worker, cpuMsPerSecond: w.cpuMsPerSecond }))
  return { t, recordsPerSecond: v.recordsPerSecond, latencyP99Ms: v.latency?.p99 ?? null, workers, operators, ...(v.sources.length === 0 ? {} : { sources: sampleSources(v.sources) }) }
}

/** What the per-second history keeps of an operator's calls (nothing for an operator that makes none). */
function sampleCalls(o: OperatorView): Pick<Sample['operators'][string], 'calls'> {
  const c = o.calls
  if (c === undefined || c === null) return {}
  return {
    calls: {
      callsPerSecond: c.callsPerSecond, inFlight: c.inFlight, capacity: c.capacity, fullRatio: c.fullRatio,
      latencyP50Ms: c.latency?.p50 ?? null, latencyP99Ms: c.latency?.p99 ?? null,
      timeoutsPerSecond: c.timeoutsPerSecond, failuresPerSecond: c.failuresPerSecond,
    },
  }
}

/** Operator and subtask (0-based, like every task number) of a failure, from the message the runtime writes ("operator "x" (subtask 1 of 2)"). */
export function whereFrom(e: unknown): { operator: string | null; subtask: number | null } {
  const m = /operator "([^"]+)"(?: \(subtask (\d+) of \d+\))?/.exec(e instanceof Error ? e.message : String(e))
  return { operator: m?.[1] ?? null, subtask: m?.[2] !== undefined ? Number(m[2]) : null }
}
