/**
 * Builders for the diagnosis tests: a job described per operator; the view is "now", the history
 * one sample per second.
 */
import type { CallsView, Finding, JobView, OperatorView, Sample, WorkerView } from '../types.ts'

export const T0 = 1_700_000_000_000

interface SubtaskSpec { busy: number; wait: number; bp: number; in: number; out: number }

/** An asynchronous operator's calls: `full` is the share of the second all slots were in use (0..1), `concurrency` per subtask. */
export interface CallsSpec { full: number; concurrency: number; maxBatch: number; inFlight: number; p99: number | null; callsPerSecond: number; timeouts: number; failures: number }

export interface Spec {
  kind: OperatorView['kind']
  label: string
  parallelism: number
  task: number
  /** ms/s: busy (own code on the thread), waiting (external calls in flight), backpressured. */
  busy: number; wait: number; bp: number; in: number; out: number
  lagMs: number | null
  state: number
  hotKeys: OperatorView['hotKeys']
  hotKeysSampled: number | null
  errors: number; skipped: number; deadLettered: number
  /** Per-subtask values; operator values then follow the docs (sums for rates, max for times). */
  subtasks: Partial<SubtaskSpec>[] | null
  /** An asynchronous operator's calls (null: not asynchronous). */
  calls: Partial<CallsSpec> | null
}

export type Edge = JobView['graph']['edges'][number]

const LINEAR = ['source', 'parse', 'enrich', 'sink']

function defaults(id: string, i: number): Spec {
  const kind = id === 'sink' ? 'sink' : id === 'source' || id === 'clicks' ? 'source' : 'operator'
  return {
    kind, label: kind === 'source' ? 'source(generator)' : kind === 'sink' ? 'sink(file)' : `map`, parallelism: 1, task: i,
    busy: kind === 'source' ? 200 : 150, wait: 0, bp: 0, in: kind === 'source' ? 0 : 1000, out: 1000,
    lagMs: 2000, state: 0, hotKeys: null, hotKeysSampled: null, errors: 0, skipped: 0, deadLettered: 0, subtasks: null, calls: null,
  }
}

export interface JobShape {
  ids?: string[]
  edges?: Edge[]
  workers?: WorkerView[]
  workerCount?: number
  uptimeMs?: number
}

export type Overrides = Record<string, Partial<Spec>>

/**
 * A job: `spec` gives each operator's steady values; `history(seconds, at)` repeats them one sample
 * per second, with `at(second)` changing some; the view is the last second.
 */
export function job(overrides: Overrides = {}, shape: JobShape = {}) {
  const ids = shape.ids ?? LINEAR
  const edges = shape.edges ?? ids.slice(1).map((to, i) => edge(ids[i], to))
  const specs = (change: Overrides = {}): Record<string, Spec> =>
    Object.fromEntries(ids.map((id, i) => [id, { ...defaults(id, i), ...overrides[id], ...change[id] }]))
  const history = (seconds = 10, at: (second: number) => Overrides = () => ({})): Sample[] =>
    Array.from({ length: seconds }, (_, s) => sample(T0 + s * 1000, specs(at(s))))
  const view = (now: Overrides = {}): JobView => {
    const s = specs(now)
    const operators = ids.map((id) => operatorView(id, s[id]))
    return {
      t: T0 + 60_000, checkpoints: null, id: 'j1', name: 'test', status: 'running', startedAt: T0 - 60_000, uptimeMs: shape.uptimeMs ?? 60_000,
      parallelism: 1, workerCount: shape.workerCount ?? 4,
      recordsPerSecond: operators.filter((o) => o.kind === 'source').reduce((n, o) => n + o.recordsOutPerSecond, 0),
      latency: { p50: 20, p90: 35, p99: 45, max: 60, count: 1000 },
      topFinding: null,
      graph: { nodes: operators.map(({ id, label, kind, parallelism, task }) => ({ id, label, kind, parallelism, task })), edges },
      operators,
      workers: shape.workers ?? [worker(0)],
      alerts: [],
      sources: [],
      connections: [],
    }
  }
  return { view, history }
}

export function edge(from: string, to: string, partitioning: Edge['partitioning'] = 'forward'): Edge {
  return { from, to, partitioning, chained: false, recordsPerSecond: 1000 }
}

export function worker(index: number, o: Partial<WorkerView> = {}): WorkerView {
  return { worker: index, eventLoopDelayP99Ms: 5, eventLoopDelayMaxMs: 12, gcPauseMsPerSecond: 3, heapUsedBytes: 50e6, heapLimitBytes: 2e9, cpuMsPerSecond: null, cpuMs: null, ...o }
}

function subtasksOf(spec: Spec): SubtaskSpec[] {
  const p = spec.parallelism
  return spec.subtasks?.map((s) => ({ busy: spec.busy, wait: spec.wait, bp: spec.bp, in: spec.in / p, out: spec.out / p, ...s }))
    ?? Array.from({ length: p }, () => ({ busy: spec.busy, wait: spec.wait, bp: spec.bp, in: spec.in / p, out: spec.out / p }))
}

function totals(spec: Spec) {
  const subs = subtasksOf(spec)
  const sumOf = (f: (s: SubtaskSpec) => number): number => subs.reduce((n, s) => n + f(s), 0)
  const maxOf = (f: (s: SubtaskSpec) => number): number => Math.max(...subs.map(f))
  return { subs, busy: maxOf((s) => s.busy), wait: maxOf((s) => s.wait), bp: maxOf((s) => s.bp), in: sumOf((s) => s.in), out: sumOf((s) => s.out) }
}

function operatorView(id: string, spec: Spec): OperatorView {
  const t = totals(spec)
  const metrics = (busy: number, wait: number, bp: number, rIn: number, rOut: number) => ({
    recordsIn: rIn * 60, recordsOut: rOut * 60, recordsInPerSecond: rIn, recordsOutPerSecond: rOut, bytesInPerSecond: 0, bytesOutPerSecond: 0,
    busyMsPerSecond: busy, waitingMsPerSecond: wait, backpressuredMsPerSecond: bp, idleMsPerSecond: Math.max(0, 1000 - busy - wait - bp),
    busyMs: busy * 60, waitingMs: wait * 60, backpressuredMs: bp * 60, idleMs: Math.max(0, 1000 - busy - wait - bp) * 60,
    inputQueueUsage: null, outputQueueUsage: null,
    watermark: spec.lagMs === null ? null : T0 + 9000 - spec.lagMs, watermarkLagMs: spec.lagMs,
    lateRecords: 0, skippedRecords: 0, deadLetteredRecords: 0, errors: 0, stateEntries: 0, stateBytes: 0, pendingTimers: 0, latency: null,
  })
  return {
    ...metrics(t.busy, t.wait, t.bp, t.in, t.out),
    skippedRecords: spec.skipped, deadLetteredRecords: spec.deadLettered, errors: spec.errors, stateEntries: spec.state, stateBytes: spec.state * 100,
    id, label: spec.label, kind: spec.kind, parallelism: spec.parallelism, task: spec.task,
    state: t.wait > t.busy && t.wait >= t.bp ? 'waiting' : t.busy >= t.bp ? 'busy' : 'backpressured', hotKeys: spec.hotKeys, hotKeysSampled: spec.hotKeysSampled,
    calls: callsOf(spec),
    subtasks: t.subs.map((s, i) => ({ ...metrics(s.busy, s.wait, s.bp, s.in, s.out), subtask: i, worker: i % 2 })),
  }
}

function callsOf(spec: Spec): CallsView | null {
  if (spec.calls === null) return null
  const c: CallsSpec = { full: 0, concurrency: 32, maxBatch: 1, inFlight: 0, p99: 50, callsPerSecond: 100, timeouts: 0, failures: 0, ...spec.calls }
  const p99 = c.p99
  return {
    callsPerSecond: c.callsPerSecond, recordsPerSecond: c.callsPerSecond * c.maxBatch, inFlight: c.inFlight, capacity: c.concurrency * spec.parallelism,
    concurrency: c.concurrency, maxBatch: c.maxBatch, held: c.inFlight * c.maxBatch, fullRatio: c.full,
    timeoutsPerSecond: c.timeouts, retriesPerSecond: 0, failuresPerSecond: c.failures, calls: c.callsPerSecond * 60, timeouts: c.timeouts * 60, retries: 0, failures: c.failures * 60,
    cacheHitRatio: null, cacheEntries: 0,
    latency: p99 === null ? null : { p50: p99 / 2, p90: p99 * 0.8, p99, max: p99 * 1.2, count: c.callsPerSecond * 10 },
  }
}

function sample(t: number, specs: Record<string, Spec>): Sample {
  const operators: Sample['operators'] = {}
  for (const [id, spec] of Object.entries(specs)) {
    const x = totals(spec)
    operators[id] = {
      recordsInPerSecond: x.in, recordsOutPerSecond: x.out, busyMsPerSecond: x.busy, waitingMsPerSecond: x.wait, backpressuredMsPerSecond: x.bp,
      idleMsPerSecond: Math.max(0, 1000 - x.busy - x.wait - x.bp), inputQueueUsage: null, watermarkLagMs: spec.lagMs,
      latencyP50Ms: null, latencyP90Ms: null, latencyP99Ms: null, stateEntries: spec.state,
      ...sampleCalls(spec),
      subtasks: x.subs.map((s) => ({ busyMsPerSecond: s.busy, waitingMsPerSecond: s.wait, backpressuredMsPerSecond: s.bp, recordsInPerSecond: s.in })),
    }
  }
  return { t, recordsPerSecond: 1000, latencyP99Ms: 45, operators }
}

function sampleCalls(spec: Spec): Pick<Sample['operators'][string], 'calls'> {
  const c = callsOf(spec)
  if (c === null) return {}
  return { calls: { callsPerSecond: c.callsPerSecond, inFlight: c.inFlight, capacity: c.capacity, fullRatio: c.fullRatio, latencyP50Ms: c.latency?.p50 ?? null, latencyP99Ms: c.latency?.p99 ?? null, timeoutsPerSecond: c.timeoutsPerSecond, failuresPerSecond: c.failuresPerSecond } }
}

export const kinds = (fs: Finding[]): string[] => fs.map((f) => f.kind)
export const only = (fs: Finding[], kind: Finding['kind']): Finding[] => fs.filter((f) => f.kind === kind)

// A backpressured front half waiting for a saturated `enrich`.
export const SLOW_ENRICH: Overrides = {
  source: { busy: 250, bp: 700 },
  parse: { busy: 300, bp: 650 },
  enrich: { busy: 950 },
}
