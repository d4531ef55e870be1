/**
 * Builders for the diagnosis tests: a job described per operator; the view is "now", the history
 * one sample per second.
 */
import type { Finding, JobView, OperatorView, Sample, WorkerView } from '../types.ts'

export const T0 = 1_700_000_000_000

interface SubtaskSpec { busy: number; wait: number; bp: number; in: number; out: number }

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
}

export type Edge = JobView['graph']['edges'][number]

const LINEAR = ['source', 'parse', 'enrich', 'sink']

function defaults(id: string, i: number): Spec {
  const kind = id === 'sink' ? 'sink' : id === 'source' || id === 'clicks' ? 'source' : 'operator'
  return {
    kind, label: kind === 'source' ? 'source(generator)' : kind === 'sink' ? 'sink(file)' : `map`, parallelism: 1, task: i,
    busy: kind === 'source' ? 200 : 150, wait: 0, bp: 0, in: kind === 'source' ? 0 : 1000, out: 1000,
    lagMs: 2000, state: 0, hotKeys: null, hotKeysSampled: null, errors: 0, skipped: 0, deadLettered: 0, subtasks: null,
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
    subtasks: t.subs.map((s, i) => ({ ...metrics(s.busy, s.wait, s.bp, s.in, s.out), subtask: i, worker: i % 2 })),
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
      subtasks: x.subs.map((s) => ({ busyMsPerSecond: s.busy, waitingMsPerSecond: s.wait, backpressuredMsPerSecond: s.bp, recordsInPerSecond: s.in })),
    }
  }
  return { t, recordsPerSecond: 1000, latencyP99Ms: 45, operators }
}

export const kinds = (fs: Finding[]): string[] => fs.map((f) => f.kind)
export const only = (fs: Finding[], kind: Finding['kind']): Finding[] => fs.filter((f) => f.kind === kind)

// A backpressured front half waiting for a saturated `enrich`.
export const SLOW_ENRICH: Overrides = {
  source: { busy: 250, bp: 700 },
  parse: { busy: 300, bp: 650 },
  enrich: { busy: 950 },
}
