/**
 * The monitoring server's contract (docs/API.md) against a real running job: JSON routes and
 * their errors, the event stream, Prometheus text that parses, the token rule, port fallback, and
 * objectives whose alerts reach the API, /metrics, the log and a webhook.
 */
import { createServer, type IncomingMessage } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Pipeline, operatorTotal } from '../src/index.ts'
import { ManualClock } from '../src/testing/index.ts'
import { blackholeSink, generatorSource } from '../src/connectors/index.ts'
import type { JobHandle } from '../src/api/pipeline.ts'
import { JobMonitor } from '../src/monitoring/job-monitor.ts'
import { MonitoringServer } from '../src/server/server.ts'
import type { Alert, CheckpointsView, ExceptionEntry, Finding, JobView, Sample } from '../src/monitoring/types.ts'
import { until } from './support/wait.ts'


function keyedJob(name: string, objectives = {}): Pipeline {
  const p = new Pipeline(name, { objectives })
  p.source('numbers', generatorSource((n) => ({ k: n % 50, n }), { ratePerSecond: 50_000 }))
    .keyBy((r) => r.k)
    .reduce('sum', (a, b) => ({ k: a.k, n: a.n + b.n }))
    .to('out', blackholeSink())
  return p
}

let server: MonitoringServer
let job: JobHandle
let monitor: JobMonitor
/** The contract monitor's clock: a sample is taken when the test steps it, never on a timer. */
let clock: ManualClock
let sourcedAtStep = 0
const logged: string[] = []
const hooked: Alert[] = []
let hookServer: ReturnType<typeof createServer>

beforeAll(async () => {
  hookServer = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      hooked.push(JSON.parse(body) as Alert)
      res.end('ok')
    })
  })
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()))
  const hookPort = (hookServer.address() as { port: number }).port
  // An objective that cannot be met: its alert fires at the first sample that measures throughput.
  const p = keyedJob('contract', { minRecordsPerSecond: 1e12, forSeconds: 1, webhook: `http://127.0.0.1:${hookPort}/alerts` })
  job = p.run()
  clock = new ManualClock(job.startedAt)
  monitor = new JobMonitor('contract', p, job, { intervalMs: 1000, clock, log: (l) => logged.push(l) }).start()
  server = await MonitoringServer.start({ port: 0 })
  server.add(monitor)
  for (let i = 0; i < 3; i++) await step()
  expect(monitor.history(600)).toHaveLength(4)
})

/** One more sample, one second later on the monitor's clock, once the job has read more records since the last. */
async function step(): Promise<void> {
  await until(() => (operatorTotal(job.metrics(), 'numbers', 'recordsOut') > sourcedAtStep ? true : undefined), 'records read since the last sample')
  sourcedAtStep = operatorTotal(job.metrics(), 'numbers', 'recordsOut')
  clock.advance(1000)
}

afterAll(async () => {
  await job?.stop()
  monitor?.stop()
  await server?.close()
  await new Promise<void>((r) => hookServer.close(() => r()))
})

const get = (path: string, init?: RequestInit): Promise<Response> => fetch(new URL(path, server.url), init)

describe('JSON API', () => {
  it('lists jobs and serves a job view with graph, operators and subtasks', async () => {
    const jobs = (await (await get('/api/v1/jobs')).json()) as { jobs: { id: string; status: string }[] }
    expect(jobs.jobs).toEqual([expect.objectContaining({ id: 'contract', status: 'running' })])
    const res = await get('/api/v1/jobs/contract')
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    const v = (await res.json()) as JobView
    expect(v.graph.nodes.map((n) => n.id)).toEqual(['numbers', 'sum', 'out'])
    expect(v.graph.edges).toContainEqual(expect.objectContaining({ from: 'numbers', to: 'sum', partitioning: 'hash', chained: false }))
    const sum = v.operators.find((o) => o.id === 'sum')
    expect(sum?.recordsIn).toBeGreaterThan(0)
    expect(sum?.stateEntries).toBe(50)
    expect(sum?.subtasks).toHaveLength(1)
    expect(['busy', 'backpressured', 'idle']).toContain(sum?.state)
    expect(v.recordsPerSecond).toBeGreaterThan(0)
    expect(v.workers.map((w) => w.worker)).toContain(-1)
  })

  it('serves history, diagnosis, alerts and exceptions', async () => {
    const h = (await (await get('/api/v1/jobs/contract/history?seconds=2')).json()) as { intervalMs: number; samples: Sample[] }
    expect(h.intervalMs).toBe(1000)
    expect(h.samples).toHaveLength(2)
    expect(Object.keys(h.samples[1].operators)).toEqual(['numbers', 'sum', 'out'])
    const d = (await (await get('/api/v1/jobs/contract/diagnosis')).json()) as { findings: Finding[] }
    expect(d.findings.length).toBeGreaterThan(0)
    for (const f of d.findings) expect(typeof f.recommendation).toBe('string')
    const e = (await (await get('/api/v1/jobs/contract/exceptions')).json()) as { exceptions: unknown[] }
    expect(e.exceptions).toEqual([])
    // A job without checkpoints has no checkpoint history, and the answer says how to get one.
    const c = await get('/api/v1/jobs/contract/checkpoints')
    expect(c.status).toBe(404)
    expect(await c.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/takes no checkpoints; run it with checkpoints/) } })
    // Nor a savepoint: CHECKPOINTS_DISABLED, not a SAVEPOINT_FAILED that says "ask again".
    const { csrfToken } = (await (await get('/api/v1/csrf')).json()) as { csrfToken: string }
    const sp = await get('/api/v1/jobs/contract/savepoints', { method: 'POST', headers: { 'X-Sluice-CSRF': csrfToken } })
    expect(sp.status).toBe(409)
    expect(await sp.json()).toEqual({ error: { code: 'CHECKPOINTS_DISABLED', message: expect.stringMatching(/takes no checkpoints, so it cannot take a savepoint; run it with checkpoints \(CLI: --checkpoint-dir <dir>\)/) } })
    expect((await (await get('/api/v1/jobs/contract')).json() as JobView).checkpoints).toBeNull()
  })

  it('answers unknown ids with 404 JSON and bad parameters with 400 JSON naming the reason', async () => {
    const nf = await get('/api/v1/jobs/nope')
    expect(nf.status).toBe(404)
    expect(await nf.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/no job "nope"/) } })
    expect((await get('/api/v1/jobs/contract/nothing')).status).toBe(404)
    expect((await get('/api/v2/jobs')).status).toBe(404)
    for (const bad of ['abc', '0', '601', '1.5']) {
      const r = await get(`/api/v1/jobs/contract/history?seconds=${bad}`)
      expect(r.status).toBe(400)
      expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/seconds must be a whole number from 1 to 600/)
    }
    // Changes are checked before routing (test/server-security.test.ts); with the CSRF value, a
    // method the route does not have is 405.
    const { csrfToken } = (await (await get('/api/v1/csrf')).json()) as { csrfToken: string }
    expect((await get('/api/v1/jobs', { method: 'POST', headers: { 'X-Sluice-CSRF': csrfToken } })).status).toBe(405)
    expect((await get('/../../etc/passwd')).status).toBe(404)
  })

  it('streams snapshots as Server-Sent Events', async () => {
    const ac = new AbortController()
    const res = await get('/api/v1/jobs/contract/events', { signal: ac.signal })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    // The view when it subscribed, then the one of the next sample.
    while ((text.match(/event: snapshot/g) ?? []).length < 1) text += new TextDecoder().decode((await reader.read()).value)
    await step()
    while ((text.match(/event: snapshot/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value)
    ac.abort()
    const second = JSON.parse([...text.matchAll(/data: (.*)\n/g)][1][1]) as JobView
    expect(second.t).toBe(clock.now())
    const first = JSON.parse(/data: (.*)\n/.exec(text)?.[1] as string) as JobView
    expect(first.id).toBe('contract')
  })

  it('serves the dashboard', async () => {
    const r = await get('/')
    expect(r.headers.get('content-type')).toMatch(/text\/html/)
    expect(await r.text()).toMatch(/<html/i)
  })
})

describe('Prometheus /metrics', () => {
  it('is valid text exposition with sluice_ names, base units and only the documented labels', async () => {
    const r = await get('/metrics')
    expect(r.headers.get('content-type')).toMatch(/text\/plain/)
    const text = await r.text()
    const types = new Map<string, string>()
    const samples: { name: string; labels: Record<string, string>; value: number }[] = []
    for (const line of text.split('\n')) {
      if (line === '') continue
      const t = /^# TYPE (\w+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
      if (t) {
        types.set(t[1], t[2])
        continue
      }
      if (line.startsWith('# HELP ')) continue
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line)
      expect(m, `not a sample line: ${line}`).not.toBeNull()
      const labels: Record<string, string> = {}
      for (const pair of (m?.[2] ?? '').split(/,(?=\w+=")/).filter((x) => x !== '')) {
        const [k, v] = pair.split('=')
        labels[k] = JSON.parse(v) as string
      }
      samples.push({ name: m?.[1] as string, labels, value: Number(m?.[3]) })
    }
    for (const s of samples) {
      expect(s.name.startsWith('sluice_')).toBe(true)
      // A histogram's samples are its _bucket (with le), _sum and _count.
      const family = types.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '')
      expect(types.has(family), s.name).toBe(true)
      if (types.get(family) === 'counter') expect(s.name.endsWith('_total')).toBe(true)
      if (types.get(family) === 'histogram') expect(s.name).toMatch(/_(bucket|sum|count)$/)
      expect('le' in s.labels, s.name).toBe(s.name.endsWith('_bucket'))
      for (const k of Object.keys(s.labels)) expect(['job', 'operator', 'subtask', 'worker', 'objective', 'le', 'source', 'partition', 'connector', 'kind', 'state']).toContain(k)
    }
    const recordsIn = samples.find((s) => s.name === 'sluice_records_in_total' && s.labels.operator === 'sum')
    expect(recordsIn?.value).toBeGreaterThan(0)
    expect(samples.find((s) => s.name === 'sluice_state_entries' && s.labels.operator === 'sum')?.value).toBe(50)
    for (const name of ['sluice_task_busy_seconds_total', 'sluice_task_waiting_seconds_total', 'sluice_task_backpressured_seconds_total', 'sluice_task_idle_seconds_total']) {
      expect(samples.some((s) => s.name === name && s.labels.operator === 'sum'), name).toBe(true)
    }
    expect(samples.some((s) => s.name === 'sluice_heap_used_bytes' && s.labels.worker === '-1')).toBe(true)
    if (process.platform === 'linux') expect(samples.find((s) => s.name === 'sluice_thread_cpu_seconds_total' && s.labels.worker === '-1')?.value).toBeGreaterThan(0)
    // Every job has a restart count; checkpoint series only for jobs that take checkpoints.
    expect(samples.find((s) => s.name === 'sluice_job_restarts_total' && s.labels.job === 'contract')?.value).toBe(0)
    expect(samples.some((s) => s.name.startsWith('sluice_checkpoint') && s.labels.job === 'contract')).toBe(false)
  })
})

describe('objectives and alerts', () => {
  it('a breached objective fires an alert: API, job view, /metrics, log line and webhook', async () => {
    await until(() => (hooked.length > 0 ? true : undefined), 'the webhook call')
    expect(hooked[0]).toMatchObject({ job: 'contract', objective: 'throughput', state: 'firing', threshold: 1e12 })
    expect(logged.some((l) => /sluice: alert firing: throughput: throughput \(records\/s\) breached/.test(l))).toBe(true)
    const a = (await (await get('/api/v1/jobs/contract/alerts')).json()) as { objectives: { name: string }[]; alerts: Alert[] }
    expect(a.objectives.map((o) => o.name)).toEqual(['throughput'])
    expect(a.alerts[0]).toMatchObject({ objective: 'throughput', state: 'firing' })
    const v = (await (await get('/api/v1/jobs/contract')).json()) as JobView
    expect(v.alerts.map((x) => x.objective)).toEqual(['throughput'])
    expect(await (await get('/metrics')).text()).toMatch(/sluice_alert_firing\{job="contract",objective="throughput"\} 1/)
  })

  it('rejects unknown or invalid objectives when the pipeline is built', () => {
    expect(() => new Pipeline('x', { objectives: { latencyP99: 5 } as never })).toThrow(/unknown objective "latencyP99"/)
    expect(() => new Pipeline('x', { objectives: { latencyP99Ms: -1 } })).toThrow(/latencyP99Ms must be a positive number/)
    expect(() => new Pipeline('x', { objectives: { webhook: 'ftp://x' } })).toThrow(/webhook must be an http\(s\) URL/)
  })
})

describe('binding and tokens', () => {
  it('refuses a non-loopback address without a token, with a message saying what to do', async () => {
    const before = process.env.SLUICE_TOKEN
    delete process.env.SLUICE_TOKEN
    try {
      await expect(MonitoringServer.start({ host: '0.0.0.0', port: 0 })).rejects.toThrow(/^SERVER_TOKEN_REQUIRED: .*without a token; pass --token <secret> \(or set SLUICE_TOKEN\), or bind 127.0.0.1/)
    } finally {
      if (before !== undefined) process.env.SLUICE_TOKEN = before
    }
  })

  it('with a token, data needs it (header or ?token=) and the dashboard files do not', async () => {
    const s = await MonitoringServer.start({ host: '0.0.0.0', port: 0, token: 's3cret' })
    try {
      s.add(monitor)
      const base = `http://127.0.0.1:${s.port}`
      const denied = await fetch(`${base}/api/v1/jobs`)
      expect(denied.status).toBe(401)
      expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED')
      expect((await fetch(`${base}/metrics`)).status).toBe(401)
      expect((await fetch(`${base}/api/v1/jobs`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401)
      expect((await fetch(`${base}/api/v1/jobs`, { headers: { Authorization: 'Bearer s3cret' } })).status).toBe(200)
      expect((await fetch(`${base}/api/v1/jobs?token=s3cret`)).status).toBe(200)
      expect((await fetch(`${base}/`)).status).toBe(200)
    } finally {
      await s.close()
    }
  })

  it('takes the next port when the default one is in use, and says so when an explicit one is', async () => {
    const first = await MonitoringServer.start({})
    const second = await MonitoringServer.start({})
    try {
      expect(second.port).toBeGreaterThan(first.port)
      await expect(MonitoringServer.start({ port: first.port })).rejects.toThrow(new RegExp(`^SERVER_LISTEN_FAILED: port ${first.port} is in use; pass --port <free port>, --port 0 for any free port, or --no-server`))
    } finally {
      await second.close()
      await first.close()
    }
  })
})

describe('checkpoint metrics', () => {
  it('a job with checkpoints reports them in the job view and in /metrics', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'sluice-chk-metrics-'))
    const p = keyedJob('with-checkpoints')
    const j = p.run({ checkpoints: { dir, intervalMs: 50 } })
    const m = new JobMonitor('with-checkpoints', p, j, { intervalMs: 200, log: () => {} }).start()
    const s = await MonitoringServer.start({ port: 0 })
    try {
      s.add(m)
      const view = await until(async () => {
        const v = (await (await fetch(new URL('/api/v1/jobs/with-checkpoints', s.url))).json()) as JobView
        return (v.checkpoints?.completed ?? 0) >= 2 ? v : undefined
      }, 'two completed checkpoints')
      expect(view.checkpoints).toMatchObject({ failed: 0, restoredFrom: null, restore: null, restarts: 0 })
      expect(view.checkpoints?.lastSizeBytes).toBeGreaterThan(0)
      // The last completed checkpoint's timings: measured, so present and never negative.
      for (const k of ['lastDurationMs', 'lastAlignmentMs', 'lastStartDelayMs', 'lastSyncMs'] as const) {
        expect(view.checkpoints?.[k], k).toBeGreaterThanOrEqual(0)
      }
      // The job view stays small: no history in it.
      expect(view.checkpoints).not.toHaveProperty('history')

      // The history route: the same figures and the latest checkpoints, newest first.
      const res = await fetch(new URL('/api/v1/jobs/with-checkpoints/checkpoints', s.url))
      expect(res.headers.get('content-type')).toMatch(/application\/json/)
      const c = (await res.json()) as CheckpointsView
      expect(c.completed).toBeGreaterThanOrEqual(2)
      expect(c.restarts).toBe(0)
      const done = c.history.filter((r) => r.status === 'completed')
      expect(done.length).toBeGreaterThanOrEqual(2)
      expect(c.history.length).toBeLessThanOrEqual(50)
      const ids = c.history.map((r) => r.id)
      expect(ids).toEqual([...ids].sort((a, b) => b - a))
      expect(new Set(ids).size).toBe(ids.length)
      expect(c.history[0].triggeredAt).toBeGreaterThanOrEqual(c.history[c.history.length - 1].triggeredAt)
      for (const r of done) {
        expect(r).toMatchObject({ kind: 'checkpoint', failure: null })
        expect(r.sizeBytes).toBeGreaterThan(0)
        expect(r.durationMs).toBeGreaterThanOrEqual(0)
        expect(r.alignmentMs).toBeGreaterThanOrEqual(0)
        expect(r.startDelayMs).toBeGreaterThanOrEqual(0)
        expect(r.syncMs).toBeGreaterThanOrEqual(0)
        expect(r.tasks).toBeGreaterThan(0)
        expect(r.acknowledged).toBe(r.tasks)
        expect(r.triggeredAt).toBeGreaterThanOrEqual(j.startedAt)
        expect(r.triggeredAt).toBeLessThanOrEqual(Date.now())
      }
      // The newest completed one is at least the job view's last one.
      expect(done[0].id).toBeGreaterThanOrEqual(view.checkpoints?.lastId ?? Infinity)

      const text = await (await fetch(new URL('/metrics', s.url))).text()
      const value = (name: string): number | undefined => {
        const m = new RegExp(`^${name}\\{job="with-checkpoints"\\} (\\S+)$`, 'm').exec(text)
        return m === null ? undefined : Number(m[1])
      }
      expect(value('sluice_checkpoints_completed_total')).toBeGreaterThanOrEqual(2)
      expect(value('sluice_checkpoints_failed_total')).toBe(0)
      expect(value('sluice_checkpoint_size_bytes')).toBeGreaterThan(0)
      // Durations: a histogram of every completed checkpoint, read in the same sample as the count.
      expect(value('sluice_checkpoint_duration_seconds_count')).toBe(value('sluice_checkpoints_completed_total'))
      expect(value('sluice_checkpoint_duration_seconds_sum')).toBeGreaterThan(0)
      for (const name of ['sluice_checkpoint_alignment_seconds', 'sluice_checkpoint_start_delay_seconds', 'sluice_checkpoint_sync_seconds']) {
        expect(value(name), name).toBeGreaterThanOrEqual(0)
      }
      expect(text).toMatch(/^# TYPE sluice_job_restarts_total counter$/m)
      expect(value('sluice_job_restarts_total')).toBe(0)

      // Once the job has stopped its view no longer changes: the gauges are its figures in seconds.
      await j.stop()
      await until(() => (m.ended ? true : undefined), 'the monitor to end')
      const last = ((await (await fetch(new URL('/api/v1/jobs/with-checkpoints', s.url))).json()) as JobView).checkpoints
      const final = await (await fetch(new URL('/metrics', s.url))).text()
      const finalValue = (name: string): number => Number(new RegExp(`^${name}\\{job="with-checkpoints"\\} (\\S+)$`, 'm').exec(final)?.[1])
      expect(finalValue('sluice_checkpoints_completed_total')).toBe(last?.completed)
      expect(finalValue('sluice_checkpoint_size_bytes')).toBe(last?.lastSizeBytes)
      expect(finalValue('sluice_checkpoint_duration_seconds_count')).toBe(last?.completed)
      expect(Number(new RegExp(`^sluice_checkpoint_duration_seconds_bucket\\{job="with-checkpoints",le="\\+Inf"\\} (\\S+)$`, 'm').exec(final)?.[1])).toBe(last?.completed)
      expect(finalValue('sluice_checkpoint_alignment_seconds') * 1000).toBeCloseTo(last?.lastAlignmentMs as number, 6)
      expect(finalValue('sluice_checkpoint_start_delay_seconds') * 1000).toBeCloseTo(last?.lastStartDelayMs as number, 6)
      expect(finalValue('sluice_checkpoint_sync_seconds') * 1000).toBeCloseTo(last?.lastSyncMs as number, 6)
    } finally {
      await j.stop()
      m.stop()
      await s.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('restarts in the exception history', () => {
  it('a sink failing once with an I/O error restarts the job from its checkpoint, and the monitor lists it', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { SluiceError } = await import('../src/errors.ts')
    const dir = mkdtempSync(join(tmpdir(), 'sluice-restart-'))
    let failed = false
    let writes = 0
    const flaky = {
      kind: 'flaky',
      open: () => ({
        write: () => {
          // The 50th write fails once, after checkpoints have completed.
          if (!failed && ++writes === 50) {
            failed = true
            throw new SluiceError('SINK_IO', 'sink "out" lost its connection')
          }
        },
      }),
    }
    const p = new Pipeline('flaky')
    p.source('numbers', generatorSource((n) => ({ k: n % 5, n }), { count: 400_000, ratePerSecond: 200_000 })).keyBy((r) => r.k).reduce('sum', (a, b) => ({ k: a.k, n: a.n + b.n })).to('out', flaky)
    const j = p.run({ checkpoints: { dir, intervalMs: 50 }, restart: { attempts: 2, delayMs: 10 } })
    const m = new JobMonitor('flaky', p, j, { intervalMs: 200, log: () => {} }).start()
    try {
      const r = await j.done
      expect(r.status).toBe('finished')
      expect(failed).toBe(true)
      const stats = j.checkpoints()
      expect(stats?.restarts).toBe(1)
      const restartEntry = expect.objectContaining({ kind: 'restart', message: expect.stringMatching(/SINK_IO: sink "out" lost its connection — restarting from the latest checkpoint \(restart 1 of 2\)/) })
      // The attempt after the restart resumed from the latest checkpoint (if one had completed
      // before the failure), and that restore follows the restart in the history.
      const restored = stats?.restoredFrom ?? null
      expect(m.exceptions()).toEqual(restored === null ? [restartEntry] : [
        restartEntry,
        expect.objectContaining({ kind: 'restore', operator: null, message: expect.stringMatching(new RegExp(`^restored from checkpoint ${restored} after restart 1 \\(taken \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, [\\d.]+ (B|KiB|MiB), loaded in [\\d.]+ ms\\)$`)) }),
      ])
      const times = m.exceptions().map((e) => e.time)
      expect(times).toEqual([...times].sort((a, b) => a - b))
      const { prometheusText } = await import('../src/server/prometheus.ts')
      expect(await prometheusText([m])).toMatch(/^sluice_job_restarts_total\{job="flaky"\} 1$/m)
    } finally {
      m.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})

describe('restores in the exception history', () => {
  /** Runs `keyedJob(name)` with checkpoints into `dir` until one has completed; returns the handle. */
  async function runUntilCheckpointed(name: string, dir: string): Promise<JobHandle> {
    const h = keyedJob(name).run({ checkpoints: { dir, intervalMs: 50 } })
    await until(() => ((h.checkpoints()?.completed ?? 0) >= 1 ? true : undefined), `a completed checkpoint of ${name}`)
    return h
  }

  it('a run that resumes from a checkpoint lists the restore in /exceptions and the job view', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'sluice-resume-'))
    const s = await MonitoringServer.start({ port: 0 })
    let second: JobHandle | undefined
    let m: JobMonitor | undefined
    try {
      // A stopped job keeps its checkpoints; the same job run again resumes from the newest.
      const first = await runUntilCheckpointed('resume', dir)
      await first.stop()
      const lastCounted = first.checkpoints()?.lastId as number
      expect(lastCounted).toBeGreaterThan(0)

      const p = keyedJob('resume')
      second = p.run({ checkpoints: { dir, intervalMs: 50 } })
      m = new JobMonitor('resume', p, second, { intervalMs: 200, log: () => {} }).start()
      s.add(m)
      const { exceptions } = (await (await fetch(new URL('/api/v1/jobs/resume/exceptions', s.url))).json()) as { exceptions: ExceptionEntry[] }
      expect(exceptions).toHaveLength(1)
      const e = exceptions[0]
      expect(e).toMatchObject({ kind: 'restore', operator: null, subtask: null })
      const m1 = /^restored from checkpoint (\d+) \(taken \d{4}-\d\d-\d\dT[\d:.]+Z, [\d.]+ (B|KiB|MiB), loaded in [\d.]+ ms\)$/.exec(e.message)
      expect(m1, e.message).not.toBeNull()
      // The newest checkpoint in the directory: the last one the first run counted, or one written
      // while the run was stopping (durable, its commit not yet acknowledged).
      const newest = Number(m1?.[1])
      expect(newest).toBeGreaterThanOrEqual(lastCounted)

      const v = ((await (await fetch(new URL('/api/v1/jobs/resume', s.url))).json()) as JobView).checkpoints
      expect(v?.restoredFrom).toBe(newest)
      expect(v?.restore).toMatchObject({ checkpointId: newest, savepoint: null, time: e.time })
      expect(v?.restore?.takenAt).toBeLessThanOrEqual(v?.restore?.time as number)
      expect(v?.restore?.takenAt).toBeGreaterThanOrEqual(first.startedAt)
      expect(v?.restore?.sizeBytes).toBeGreaterThan(0)
      expect(v?.restore?.loadMs).toBeGreaterThanOrEqual(0)

      // Listed once, however many samples follow; the new run's checkpoints continue the ids.
      const c = await until(async () => {
        const r = (await (await fetch(new URL('/api/v1/jobs/resume/checkpoints', s.url))).json()) as CheckpointsView
        return r.completed >= 1 ? r : undefined
      }, 'a checkpoint of the resumed run')
      expect(c.restore?.checkpointId).toBe(newest)
      expect(Math.min(...c.history.map((r) => r.id))).toBeGreaterThan(newest)
      expect(m.exceptions().filter((x) => x.kind === 'restore')).toHaveLength(1)
    } finally {
      await second?.stop()
      m?.stop()
      await s.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)

  it('a run started from a savepoint says so; the savepoint is in the first run\'s checkpoint history', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'sluice-from-savepoint-'))
    let second: JobHandle | undefined
    let m: JobMonitor | undefined
    try {
      const p1 = keyedJob('before-upgrade')
      const first = p1.run({ checkpoints: { dir: join(dir, 'chk-1'), intervalMs: 50 } })
      const m1 = new JobMonitor('before-upgrade', p1, first, { intervalMs: 200, log: () => {} }).start()
      await until(() => ((first.checkpoints()?.completed ?? 0) >= 1 ? true : undefined), 'a completed checkpoint')
      const path = await first.savepoint(join(dir, 'savepoints'), { stop: true })
      await first.done
      const sp = m1.checkpoints()?.history.find((r) => r.kind === 'savepoint')
      expect(sp).toMatchObject({ status: 'completed', failure: null })
      expect(sp?.sizeBytes).toBeGreaterThan(0)
      expect(path).toMatch(new RegExp(`/savepoint-${sp?.id}-\\d{8}T\\d{6}Z-[0-9a-f]{6}\\.sluice$`))
      m1.stop()

      const p2 = keyedJob('after-upgrade')
      second = p2.run({ checkpoints: { dir: join(dir, 'chk-2'), intervalMs: 50, fromSavepoint: path } })
      m = new JobMonitor('after-upgrade', p2, second, { intervalMs: 200, log: () => {} }).start()
      expect(m.exceptions()).toEqual([expect.objectContaining({ kind: 'restore', message: expect.stringMatching(new RegExp(`^started from savepoint ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(checkpoint ${sp?.id}, taken `)) })])
      expect(m.view().checkpoints?.restore).toMatchObject({ savepoint: path, checkpointId: sp?.id })
    } finally {
      await second?.stop()
      m?.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
