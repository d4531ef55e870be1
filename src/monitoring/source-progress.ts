/**
 * The job view's per-partition source lag and per-connector connection state, from the tasks'
 * metrics snapshots (TaskMetricsSnapshot.partitions / .connections, which readers and writers
 * report through the connector SPI's progress() and connection()). Pure functions: the monitor
 * passes the newest snapshot and the oldest one still in its window.
 */
import type { GraphNode } from '../graph/logical.ts'
import type { TaskMetricsSnapshot } from '../metrics/task-metrics.ts'
import { redactCredentials } from './redact.ts'
import type { ConnectionView, PartitionView, Sample, SourceProgressView } from './types.ts'

/** Partitions listed per source in the view; totals and the worst partition still count all of them. */
export const PARTITIONS_IN_VIEW = 1024

/** A metrics snapshot's tasks and when it was taken. */
export interface TasksAt {
  readonly t: number
  readonly tasks: readonly TaskMetricsSnapshot[]
}

/**
 * One entry per source whose readers report partitions, in graph order. Lag rates compare the
 * newest snapshot with `oldest` (the start of the monitor's window), partition by partition, so a
 * partition that appears or moves to another subtask in between does not count as growth.
 */
export function sourceProgress(nodes: Iterable<GraphNode>, newest: TasksAt, oldest: TasksAt | null): SourceProgressView[] {
  const dt = oldest === null ? 0 : (newest.t - oldest.t) / 1000
  const out: SourceProgressView[] = []
  for (const node of nodes) {
    if (node.type !== 'source') continue
    const now = partitionsOf(newest.tasks, node.id)
    if (now.length === 0) continue
    const before = new Map<string, number | null>()
    if (oldest !== null && dt > 0) for (const p of partitionsOf(oldest.tasks, node.id)) before.set(p.partition, p.lag)
    let lag: number | null = null
    let lagPerSecond: number | null = null
    let worst: PartitionView | null = null
    const partitions: PartitionView[] = []
    for (const p of now) {
      const then = before.get(p.partition) ?? null
      const rate = p.lag !== null && then !== null ? round((p.lag - then) / dt) : null
      const view: PartitionView = { partition: p.partition, subtask: p.subtask, position: redactCredentials(p.position), lag: p.lag, lagPerSecond: rate }
      if (p.lag !== null) {
        lag = (lag ?? 0) + p.lag
        if (worst === null || p.lag > (worst.lag as number)) worst = view
      }
      if (rate !== null) lagPerSecond = (lagPerSecond ?? 0) + rate
      if (partitions.length < PARTITIONS_IN_VIEW) partitions.push(view)
    }
    out.push({
      source: node.id,
      kind: node.source.kind,
      lag,
      lagPerSecond: lagPerSecond === null ? null : round(lagPerSecond),
      windowSeconds: round(dt),
      partitionCount: now.length,
      worst,
      partitions,
    })
  }
  return out
}

interface Reported { partition: string; subtask: number; position: string; lag: number | null }

/** The partitions a source's subtasks report, in subtask order; fields copied, so odd shapes from a reader stay out of the view. */
function partitionsOf(tasks: readonly TaskMetricsSnapshot[], source: string): Reported[] {
  const out: Reported[] = []
  const mine = tasks.filter((t) => t.task === source && t.partitions !== undefined).sort((a, b) => a.subtask - b.subtask)
  for (const t of mine) {
    for (const p of t.partitions ?? []) {
      const lag = typeof p.lag === 'number' && Number.isFinite(p.lag) ? Math.max(0, p.lag) : null
      out.push({ partition: String(p.partition), subtask: t.subtask, position: String(p.position), lag })
    }
  }
  return out
}

/** Every connector subtask that reports a connection, by connector (graph order) then subtask. */
export function connections(nodes: Iterable<GraphNode>, tasks: readonly TaskMetricsSnapshot[]): ConnectionView[] {
  const order = new Map<string, { index: number; kind: string; role: 'source' | 'sink' }>()
  for (const n of nodes) {
    if (n.type === 'source') order.set(n.id, { index: order.size, kind: n.source.kind, role: 'source' })
    else if (n.type === 'sink') order.set(n.id, { index: order.size, kind: n.sink.kind, role: 'sink' })
  }
  const out: ConnectionView[] = []
  for (const t of tasks) {
    for (const c of t.connections ?? []) {
      // A connector outside the graph (a dead-letter sink) is a sink.
      const known = order.get(c.connector)
      out.push({
        connector: c.connector,
        kind: known?.kind ?? 'unknown',
        role: known?.role ?? 'sink',
        subtask: t.subtask,
        state: c.state,
        lastError: c.lastError === null || c.lastError === undefined ? null : redactCredentials(String(c.lastError)),
        since: c.since,
      })
    }
  }
  const rank = (c: ConnectionView): number => order.get(c.connector)?.index ?? order.size
  return out.sort((a, b) => rank(a) - rank(b) || a.connector.localeCompare(b.connector) || a.subtask - b.subtask)
}

/** What a per-second sample keeps of the sources (for the history's lag trend and the diagnosis). */
export function sampleSources(sources: readonly SourceProgressView[]): Sample['sources'] {
  const out: NonNullable<Sample['sources']> = {}
  for (const s of sources) out[s.source] = { lag: s.lag, lagPerSecond: s.lagPerSecond }
  return out
}

const round = (x: number): number => Math.round(x * 10) / 10
