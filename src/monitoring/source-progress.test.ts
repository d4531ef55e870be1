import { describe, expect, it } from 'vitest'
import type { GraphNode } from '../graph/logical.ts'
import type { TaskMetricsSnapshot } from '../metrics/task-metrics.ts'
import { PARTITIONS_IN_VIEW, connections, sourceProgress } from './source-progress.ts'

const nodes = [
  { id: 'orders', type: 'source', source: { kind: 'kafka' } },
  { id: 'files', type: 'source', source: { kind: 'file' } },
  { id: 'parse', type: 'operator' },
  { id: 'db', type: 'sink', sink: { kind: 'postgres' } },
] as unknown as GraphNode[]

function task(o: Partial<TaskMetricsSnapshot> & { task: string; subtask: number }): TaskMetricsSnapshot {
  return {
    parallelism: 2, operators: [o.task], busyMs: 0, waitingMs: 0, backpressuredMs: 0, idleMs: 0, watermark: null,
    latency: [], latencySumMs: 0, latencyMaxMs: 0, bytesIn: 0, bytesOut: 0, inputQueueUsage: null, outputQueueUsage: null, hotKeys: [], ...o,
  }
}

const at = (t: number, lags: Record<string, [number, number | null]>) => ({
  t,
  tasks: [0, 1].map((subtask) => task({
    task: 'orders', subtask,
    partitions: Object.entries(lags).filter(([, [s]]) => s === subtask).map(([partition, [, lag]]) => ({ partition, position: `offset ${t}`, lag })),
  })),
})

describe('sourceProgress', () => {
  it('sums the partitions, finds the worst, and measures each partition\'s lag rate over the window', () => {
    const before = at(1000, { 'orders/0': [0, 100], 'orders/1': [1, 500], 'orders/2': [0, 50] })
    const now = at(3000, { 'orders/0': [0, 300], 'orders/1': [1, 400], 'orders/2': [0, null] })
    const [s] = sourceProgress(nodes, now, before)
    expect(s).toMatchObject({ source: 'orders', kind: 'kafka', lag: 700, lagPerSecond: 50, windowSeconds: 2, partitionCount: 3 })
    expect(s.worst).toMatchObject({ partition: 'orders/1', lag: 400 })
    expect(s.partitions.map((p) => [p.partition, p.subtask, p.lag, p.lagPerSecond])).toEqual([
      ['orders/0', 0, 300, 100], ['orders/2', 0, null, null], ['orders/1', 1, 400, -50],
    ])
  })

  it('a partition that moved to another subtask keeps its rate; one that is new has none; no window, no rates', () => {
    const before = at(0, { 'orders/0': [0, 100] })
    const now = at(1000, { 'orders/0': [1, 150], 'orders/1': [1, 999] })
    const [s] = sourceProgress(nodes, now, before)
    expect(s.partitions.map((p) => [p.partition, p.lagPerSecond])).toEqual([['orders/0', 50], ['orders/1', null]])
    expect(s.lagPerSecond).toBe(50)
    const [first] = sourceProgress(nodes, now, null)
    expect(first).toMatchObject({ lagPerSecond: null, windowSeconds: 0, lag: 1149 })
  })

  it('sources that report no partitions have no entry; a huge source lists the first 1024 and counts all', () => {
    expect(sourceProgress(nodes, { t: 0, tasks: [task({ task: 'files', subtask: 0 })] }, null)).toEqual([])
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`p${i}`, [0, i] as [number, number]]))
    const [s] = sourceProgress(nodes, at(0, many), null)
    expect(s.partitions).toHaveLength(PARTITIONS_IN_VIEW)
    expect(s.partitionCount).toBe(2000)
    expect(s.worst?.partition).toBe('p1999')
    expect(s.lag).toBe((1999 * 2000) / 2)
  })

  it('masks passwords in positions', () => {
    const t = { t: 0, tasks: [task({ task: 'orders', subtask: 0, partitions: [{ partition: 'k', position: 'redis://u:pw@h:1/k 1-0', lag: 0 }] })] }
    expect(sourceProgress(nodes, t, null)[0].partitions[0].position).toBe('redis://u:***@h:1/k 1-0')
  })
})

describe('connections', () => {
  it('lists every connector subtask in graph order with its kind and role, errors masked', () => {
    const tasks = [
      task({ task: 'parse', subtask: 1, connections: [{ connector: 'db', state: 'reconnecting', lastError: 'postgres://root:pw@db:5432 refused', since: 5 }] }),
      task({ task: 'orders', subtask: 1, connections: [{ connector: 'orders', state: 'connected', lastError: null, since: 2 }] }),
      task({ task: 'orders', subtask: 0, connections: [{ connector: 'orders', state: 'failed', lastError: 'auth', since: 1 }, { connector: 'letters', state: 'connected', lastError: null, since: 3 }] }),
    ]
    expect(connections(nodes, tasks)).toEqual([
      { connector: 'orders', kind: 'kafka', role: 'source', subtask: 0, state: 'failed', lastError: 'auth', since: 1 },
      { connector: 'orders', kind: 'kafka', role: 'source', subtask: 1, state: 'connected', lastError: null, since: 2 },
      { connector: 'db', kind: 'postgres', role: 'sink', subtask: 1, state: 'reconnecting', lastError: 'postgres://root:***@db:5432 refused', since: 5 },
      // Not in the graph (a dead-letter sink): a sink of unknown kind, last.
      { connector: 'letters', kind: 'unknown', role: 'sink', subtask: 0, state: 'connected', lastError: null, since: 3 },
    ])
  })
})
