import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import type { JobMonitor } from '../monitoring/job-monitor.ts'
import { LAG_SERIES_PER_SOURCE, prometheusText } from './prometheus.ts'
import type { ConnectionView, JobView, PartitionView } from '../monitoring/types.ts'

/** Just what prometheusText reads of a monitor. */
function monitor(view: Partial<JobView>): JobMonitor {
  const v: JobView = {
    id: 'j', name: 'j', status: 'running', startedAt: 0, uptimeMs: 1000, t: 1000, parallelism: 1, workerCount: 0, recordsPerSecond: 0,
    latency: null, topFinding: null, graph: { nodes: [], edges: [] }, operators: [], workers: [], alerts: [], checkpoints: null,
    sources: [], connections: [], ...view,
  }
  // pipeline: /metrics reads the job's HTTP ingest sources from its graph (none here).
  return { view: () => v, alerts: () => ({ objectives: [], alerts: [] }), restarts: 0, pipeline: { graph: { nodes: new Map() } } } as unknown as JobMonitor
}

const partition = (i: number): PartitionView => ({ partition: `orders/${i}`, subtask: 0, position: `offset ${i}`, lag: i, lagPerSecond: null })
const conn = (subtask: number, state: ConnectionView['state']): ConnectionView => ({ connector: 'orders', kind: 'kafka', role: 'source', subtask, state, lastError: null, since: 0 })

describe('prometheusText: sources and connectors', () => {
  it(`exports at most ${LAG_SERIES_PER_SOURCE} partitions per source, the farthest behind; the total and count cover all`, async () => {
    const partitions = Array.from({ length: 300 }, (_, i) => partition(i))
    const text = await prometheusText([monitor({
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
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    if (check.error !== undefined) throw new Error(`promtool is needed (apt-get install prometheus): ${check.error.message}`)
    expect(`${check.stdout}${check.stderr}`).toBe('')
    expect(check.status).toBe(0)
  })

  it('a connector whose subtasks are all connected is up; partitions without a known lag get no series', async () => {
    const text = await prometheusText([monitor({
      sources: [{ source: 'orders', kind: 'kafka', lag: null, lagPerSecond: null, windowSeconds: 0, partitionCount: 1, worst: null, partitions: [{ ...partition(0), lag: null }] }],
      connections: [conn(0, 'connected')],
    })])
    expect(text).toContain('sluice_connector_up{job="j",connector="orders",kind="kafka"} 1')
    expect(text).not.toMatch(/^sluice_source_lag_records\{/m)
    expect(text).not.toMatch(/^sluice_source_lag_total_records\{/m)
    expect(text).toContain('sluice_source_partitions{job="j",source="orders"} 1')
  })
})
