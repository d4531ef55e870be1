/**
 * Per-partition source lag and connector state through every monitoring surface, on a real job
 * whose source (test/support/lagging-source.ts) implements the SPI's progress() and connection():
 * its producers outpace it, so the lag grows, and its subtask 1 is stuck reconnecting with an error
 * that quotes a password. The API, /metrics (checked by promtool), the diagnosis and `sluice top`
 * show the lag and the connection; the password never shows. On worker threads the partitions and
 * connections cross to the main thread intact.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobHandle } from '../src/api/pipeline.ts'
import { JobMonitor } from '../src/monitoring/job-monitor.ts'
import { MonitoringServer } from '../src/server/server.ts'
import type { Finding, JobView } from '../src/monitoring/types.ts'
import { LAGGING_JOB_ERROR, laggingJob } from './fixtures/lagging-job.ts'
import { promtoolCheckMetrics } from './support/promtool.ts'
import { until } from './support/wait.ts'

const root = new URL('..', import.meta.url).pathname
const MASKED = 'connect ECONNREFUSED redis://app:***@127.0.0.1:1/orders'

describe('source lag and connection state on a running job', () => {
  let job: JobHandle
  let monitor: JobMonitor
  let server: MonitoringServer
  const get = async (path: string): Promise<Response> => fetch(new URL(path, server.url))
  const json = async <T,>(path: string): Promise<T> => (await (await get(path)).json()) as T

  beforeAll(async () => {
    const p = laggingJob('lagging')
    job = p.run()
    monitor = new JobMonitor('lagging', p, job, { intervalMs: 200, log: () => {} }).start()
    server = await MonitoringServer.start({ port: 0 })
    server.add(monitor)
  })

  afterAll(async () => {
    await job?.stop()
    monitor?.stop()
    await server?.close()
  })

  it('the job view lists every partition with its position and lag, and the lag grows', async () => {
    const v = await until(async () => {
      const x = await json<JobView>('/api/v1/jobs/lagging')
      const s = x.sources[0]
      return s !== undefined && (s.lagPerSecond ?? 0) > 0 && s.partitions.every((p) => (p.lag ?? 0) > 0) ? x : undefined
    }, 'a growing lag in the job view')
    const [src] = v.sources
    expect(src).toMatchObject({ source: 'orders', kind: 'lagging', partitionCount: 4 })
    expect(src.partitions.map((p) => [p.partition, p.subtask])).toEqual([['orders/0', 0], ['orders/2', 0], ['orders/1', 1], ['orders/3', 1]])
    for (const p of src.partitions) expect(p.position).toMatch(/^offset \d+$/)
    expect(src.lag).toBe(src.partitions.reduce((n, p) => n + (p.lag as number), 0))
    expect(src.worst?.lag).toBe(Math.max(...src.partitions.map((p) => p.lag as number)))
    expect(src.windowSeconds).toBeGreaterThan(0)
    // The history keeps each source's lag per sample (the dashboard's trend).
    const history = await json<{ samples: { sources?: Record<string, { lag: number | null }> }[] }>('/api/v1/jobs/lagging/history?seconds=60')
    expect(history.samples.some((s) => typeof s.sources?.orders?.lag === 'number')).toBe(true)
  })

  it('the job view has each connector subtask\'s state, with the password in its last error masked', async () => {
    const v = await json<JobView>('/api/v1/jobs/lagging')
    expect(v.connections).toEqual([
      { connector: 'orders', kind: 'lagging', role: 'source', subtask: 0, state: 'connected', lastError: null, since: expect.any(Number) },
      { connector: 'orders', kind: 'lagging', role: 'source', subtask: 1, state: 'reconnecting', lastError: MASKED, since: expect.any(Number) },
    ])
    expect(JSON.stringify(v)).not.toContain('s3cret')
  })

  it('the diagnosis says the job falls behind `orders` and that its reader is reconnecting', async () => {
    const findings = await until(async () => {
      const f = (await json<{ findings: Finding[] }>('/api/v1/jobs/lagging/diagnosis')).findings
      return f.some((x) => x.kind === 'source-lag') ? f : undefined
    }, 'a source-lag finding')
    const lag = findings.find((f) => f.kind === 'source-lag') as Finding
    expect(lag.title).toMatch(/^the job is falling behind `orders`: lag \+[\d.]+ k? ?records\/s \([\d.]+ k? ?records behind, most in `orders\/\d`\); its reader is reconnecting \(connect ECONNREFUSED redis:\/\/app:\*\*\*@127\.0\.0\.1:1\/orders\)$/)
    const conn = findings.find((f) => f.kind === 'connection') as Finding
    expect(conn).toMatchObject({ severity: 'warning', operator: 'orders', evidence: { state: 'reconnecting', subtasksDown: 1, subtasks: 2, lastError: MASKED } })
    expect(JSON.stringify(findings)).not.toContain('s3cret')
  })

  it('/metrics has the lag per partition and the connector state, and promtool finds nothing wrong with them', async () => {
    const text = await (await get('/metrics')).text()
    for (let p = 0; p < 4; p++) expect(text).toMatch(new RegExp(`^sluice_source_lag_records\\{job="lagging",source="orders",partition="orders/${p}"\\} [1-9]\\d*$`, 'm'))
    expect(text).toMatch(/^sluice_source_lag_total_records\{job="lagging",source="orders"\} [1-9]\d*$/m)
    expect(text).toMatch(/^sluice_source_partitions\{job="lagging",source="orders"\} 4$/m)
    expect(text).toMatch(/^sluice_source_lag_growth_records_per_second\{job="lagging",source="orders"\} -?[\d.]+$/m)
    expect(text).toMatch(/^sluice_connector_up\{job="lagging",connector="orders",kind="lagging"\} 0$/m)
    expect(text).toMatch(/^sluice_connector_subtasks\{job="lagging",connector="orders",kind="lagging",state="reconnecting"\} 1$/m)
    expect(text).toMatch(/^sluice_connector_subtasks\{job="lagging",connector="orders",kind="lagging",state="connected"\} 1$/m)
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' })
  })

  it('sluice top --once shows the source\'s lag and worst partition, and the reconnecting subtask', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, COLUMNS: '160' }
      delete env.SLUICE_TOKEN
      const child = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'top', '--once', server.url], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.once('error', reject)
      child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`top exited ${code}: ${stderr}`))))
    })
    expect(out).toMatch(/^source orders \(lagging\) {2}lag \d+K? {2}[+-]\d+K?\/s {2}4 partitions {2}worst orders\/\d \d+K?$/m)
    expect(out).toContain(`RECONNECTING  source orders (lagging) subtask 1 of 2 for `)
    expect(out).toContain(MASKED)
    expect(out).not.toContain('s3cret')
  })
})

describe('source lag on worker threads', () => {
  it('partitions and connections reach the main thread intact (structured clone)', async () => {
    const p = laggingJob('lagging-threads')
    const job = p.run({ workers: 2 })
    const monitor = new JobMonitor('lagging-threads', p, job, { intervalMs: 200, log: () => {} }).start()
    try {
      const v = await until(() => {
        const x = monitor.view()
        return x.sources[0]?.partitionCount === 4 && x.connections.length === 2 ? x : undefined
      }, 'partitions from both workers')
      expect(v.sources[0].partitions.map((x) => x.partition).sort()).toEqual(['orders/0', 'orders/1', 'orders/2', 'orders/3'])
      expect(v.operators.find((o) => o.id === 'orders')?.subtasks.map((s) => s.worker)).toEqual([0, 1])
      expect(v.connections.map((c) => [c.subtask, c.state, c.lastError])).toEqual([[0, 'connected', null], [1, 'reconnecting', MASKED]])
      expect(LAGGING_JOB_ERROR).toContain('s3cret')
    } finally {
      await job.stop()
      monitor.stop()
    }
  })
})
