/**
 * The monitoring server against requests a reviewer sent it (docs/API.md, "Security"): Host
 * headers of other names (DNS rebinding), changes without the CSRF value or token, or from another
 * origin, savepoint directories outside the job's savepoint root, empty tokens, malformed
 * %-escapes, and an event-stream subscriber that never reads.
 */
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { JobHandle } from '../src/api/pipeline.ts'
import { CheckpointDurations } from '../src/metrics/checkpoint-durations.ts'
import { JobMonitor } from '../src/monitoring/job-monitor.ts'
import { MonitoringServer } from '../src/server/server.ts'
import type { JobView } from '../src/monitoring/types.ts'
import { until } from './support/wait.ts'
import { startMonitoredJob, type MonitoredJob } from './support/monitored-job.ts'

const root = new URL('..', import.meta.url).pathname

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: { error?: { code: string; message: string }; [k: string]: unknown } }

/** A raw request: fetch cannot set Host, and sends no Origin of our choosing. */
function send(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // agent: false — a fresh connection per request; a kept-alive one can meet the server's idle timeout (ECONNRESET).
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? {} : JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end()
  })
}

let dir: string
let job: JobHandle
let monitor: JobMonitor
let server: MonitoringServer
let started: MonitoredJob | undefined
let spRoot: string
let csrf: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-security-'))
  started = await startMonitoredJob('guarded', dir, 20_000)
  ;({ job, monitor, server } = started)
  spRoot = join(dir, 'chk', 'savepoints')
  await until(() => ((job.checkpoints()?.completed ?? 0) >= 1 ? true : undefined), 'a completed checkpoint')
  csrf = (await send(server.port, 'GET', '/api/v1/csrf')).body.csrfToken as string
})

afterAll(async () => {
  await started?.close()
  rmSync(dir, { recursive: true, force: true })
})

const savepoints = (): string[] => (existsSync(spRoot) ? readdirSync(spRoot, { recursive: true }).map(String).filter((n) => n.endsWith('.sluice')) : [])
const post = (path: string, headers: Record<string, string> = {}): Promise<Answer> => send(server.port, 'POST', path, headers)

describe('Host allow-list (DNS rebinding)', () => {
  it('refuses a Host naming another site, on every route, with a JSON error saying what to do', async () => {
    for (const [method, path] of [['GET', '/api/v1/jobs'], ['GET', '/'], ['GET', '/metrics'], ['GET', '/api/v1/csrf'], ['POST', '/api/v1/jobs/guarded/savepoints?stop=true']] as const) {
      const r = await send(server.port, method, path, { Host: `evil.example:${server.port}`, 'X-Sluice-CSRF': csrf })
      expect(r.status, `${method} ${path}`).toBe(403)
      expect(r.body.error?.code).toBe('HOST_NOT_ALLOWED')
      expect(r.body.error?.message).toMatch(/"evil\.example:\d+" is not a name this server answers to.*--allowed-host <name>/)
    }
    expect((await send(server.port, 'GET', '/api/v1/jobs', { Host: 'evil.example' })).status).toBe(403)
    expect(job.status()).toBe('running')
  })

  it('answers loopback names with or without the port, in any case', async () => {
    for (const host of ['localhost', `localhost:${server.port}`, `127.0.0.1:${server.port}`, '127.0.0.1', `[::1]:${server.port}`, 'LocalHost.', `localhost:1`]) {
      expect((await send(server.port, 'GET', '/api/v1/jobs', { Host: host })).status, host).toBe(200)
    }
  })

  it('answers names given in allowedHosts, and refuses malformed ones at start', async () => {
    const s = await MonitoringServer.start({ port: 0, allowedHosts: ['Dash.Example', 'fe80::1'] })
    try {
      expect((await send(s.port, 'GET', '/api/v1/jobs', { Host: 'dash.example:443' })).status).toBe(200)
      expect((await send(s.port, 'GET', '/api/v1/jobs', { Host: '[fe80::1]:8420' })).status).toBe(200)
      expect((await send(s.port, 'GET', '/api/v1/jobs', { Host: 'other.example' })).status).toBe(403)
    } finally {
      await s.close()
    }
    for (const bad of ['', 'http://dash.example', 'dash.example:8420', 'a b', 'dash.example/x']) {
      await expect(MonitoringServer.start({ port: 0, allowedHosts: [bad] }), bad).rejects.toThrow(/SERVER_ALLOWED_HOST_INVALID/)
    }
  })
})

describe('changes need the CSRF value or the token', () => {
  it('a POST without the CSRF value is refused and the job keeps running, nothing written', async () => {
    const r = await post('/api/v1/jobs/guarded/savepoints?stop=true')
    expect(r.status).toBe(403)
    expect(r.body.error?.code).toBe('CSRF_REQUIRED')
    expect(r.body.error?.message).toMatch(/X-Sluice-CSRF.*GET \/api\/v1\/csrf/)
    expect((await post('/api/v1/jobs/guarded/savepoints?stop=true', { 'X-Sluice-CSRF': 'guess' })).status).toBe(403)
    // Any method but GET and HEAD, before routing.
    expect((await send(server.port, 'DELETE', '/api/v1/jobs/guarded')).status).toBe(403)
    expect(job.status()).toBe('running')
    expect(savepoints()).toEqual([])
  })

  it('refuses a change from another origin even with the CSRF value', async () => {
    const foreign: Record<string, string>[] = [
      { Origin: 'http://evil.example' },
      { Origin: `http://127.0.0.1:${server.port + 1}` }, // same host, another port: another origin
      { Origin: 'null' },
      { Origin: `http://127.0.0.1:${server.port}`, 'Sec-Fetch-Site': 'cross-site' },
      { 'Sec-Fetch-Site': 'same-site' },
    ]
    for (const headers of foreign) {
      const r = await post('/api/v1/jobs/guarded/savepoints?stop=true', { ...headers, 'X-Sluice-CSRF': csrf })
      expect(r.status, JSON.stringify(headers)).toBe(403)
      expect(r.body.error?.code).toBe('ORIGIN_NOT_ALLOWED')
    }
    expect(job.status()).toBe('running')
    expect(savepoints()).toEqual([])
  })

  it('gives the CSRF value only to requests not from another origin, never with a CORS header', async () => {
    const same = await send(server.port, 'GET', '/api/v1/csrf', { Origin: `http://127.0.0.1:${server.port}`, 'Sec-Fetch-Site': 'same-origin' })
    expect(same.status).toBe(200)
    expect(same.body.csrfToken).toBe(csrf)
    expect(csrf.length).toBeGreaterThanOrEqual(40)
    expect(same.headers['cache-control']).toBe('no-store')
    expect(same.headers['access-control-allow-origin']).toBeUndefined()
    expect((await send(server.port, 'GET', '/api/v1/csrf', { Origin: 'http://evil.example' })).status).toBe(403)
    expect((await send(server.port, 'GET', '/api/v1/csrf', { 'Sec-Fetch-Site': 'cross-site' })).status).toBe(403)
    // A preflight from another origin is refused, so a page cannot send X-Sluice-CSRF cross-origin.
    const pre = await send(server.port, 'OPTIONS', '/api/v1/jobs/guarded/savepoints', { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-sluice-csrf' })
    expect(pre.status).toBe(403)
    expect(pre.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('with the CSRF value, from the same origin or outside a browser, takes a savepoint in the root', async () => {
    const a = await post('/api/v1/jobs/guarded/savepoints', { 'X-Sluice-CSRF': csrf })
    expect(a.status, JSON.stringify(a.body)).toBe(200)
    expect(a.body.path).toMatch(new RegExp(`^${spRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/savepoint-\\d+-[^/]+\\.sluice$`))
    const b = await post('/api/v1/jobs/guarded/savepoints?dir=nightly', { 'X-Sluice-CSRF': csrf, Origin: `http://127.0.0.1:${server.port}`, 'Sec-Fetch-Site': 'same-origin' })
    expect(b.status, JSON.stringify(b.body)).toBe(200)
    expect(b.body.path).toContain(join(spRoot, 'nightly', 'savepoint-'))
    expect(job.status()).toBe('running')
  })

  it('with a token configured, changes need the bearer token (and still no foreign Origin)', async () => {
    const s = await MonitoringServer.start({ port: 0, token: 's3cret-value' })
    try {
      s.add(monitor)
      const r = await send(s.port, 'POST', '/api/v1/jobs/guarded/savepoints', { Authorization: 'Bearer wrong-value' })
      expect(r.status).toBe(401)
      expect(JSON.stringify(r.body)).not.toMatch(/wrong-value|s3cret/)
      expect((await send(s.port, 'POST', '/api/v1/jobs/guarded/savepoints', { 'X-Sluice-CSRF': csrf })).status).toBe(401)
      expect((await send(s.port, 'POST', '/api/v1/jobs/guarded/savepoints', { Authorization: 'Bearer s3cret-value', Origin: 'http://evil.example' })).status).toBe(403)
      const ok = await send(s.port, 'POST', '/api/v1/jobs/guarded/savepoints?dir=with-token', { Authorization: 'Bearer s3cret-value' })
      expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    } finally {
      await s.close()
    }
  })
})

describe('savepoint directories stay under the savepoint root', () => {
  it('refuses an absolute directory elsewhere, naming the root, and writes nothing', async () => {
    const elsewhere = join(dir, 'elsewhere', 'deep')
    const r = await post(`/api/v1/jobs/guarded/savepoints?stop=true&dir=${encodeURIComponent(elsewhere)}`, { 'X-Sluice-CSRF': csrf })
    expect(r.status).toBe(400)
    expect(r.body.error?.code).toBe('SAVEPOINT_DIR_OUTSIDE_ROOT')
    expect(r.body.error?.message).toContain(`outside the savepoint root ${spRoot}`)
    expect(existsSync(join(dir, 'elsewhere'))).toBe(false)
    expect(job.status()).toBe('running')
  })

  it('refuses .. out of the root and a symbolic link that leads out', async () => {
    const dotdot = await post(`/api/v1/jobs/guarded/savepoints?dir=${encodeURIComponent('ok/../../../escaped')}`, { 'X-Sluice-CSRF': csrf })
    expect(dotdot.status).toBe(400)
    expect(dotdot.body.error?.message).toContain(spRoot)
    expect(existsSync(join(dir, 'escaped'))).toBe(false)
    const outside = join(dir, 'link-target')
    mkdirSync(outside)
    symlinkSync(outside, join(spRoot, 'link'))
    const linked = await post(`/api/v1/jobs/guarded/savepoints?dir=${encodeURIComponent('link/sub')}`, { 'X-Sluice-CSRF': csrf })
    expect(linked.status).toBe(400)
    expect(linked.body.error?.message).toMatch(/leads out of the savepoint root .* through a symbolic link/)
    expect(readdirSync(outside)).toEqual([])
    // `..` that stays inside, and an absolute path inside, are fine.
    const inside = await post(`/api/v1/jobs/guarded/savepoints?dir=${encodeURIComponent(join(spRoot, 'a', '..', 'b'))}`, { 'X-Sluice-CSRF': csrf })
    expect(inside.status, JSON.stringify(inside.body)).toBe(200)
    expect(inside.body.path).toContain(join(spRoot, 'b', 'savepoint-'))
  })

  it('sluice savepoint fetches the CSRF value, writes under the root, and reports a refusal', async () => {
    const cli = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
      // Asynchronous: the server answering it runs in this process.
      const child = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'savepoint', server.url, '--job', 'guarded', ...args], { cwd: root })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
    const ok = await cli(['--dir', 'from-cli'])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout.trim()).toContain(join(spRoot, 'from-cli', 'savepoint-'))
    const refused = await cli(['--dir', join(dir, 'cli-elsewhere'), '--stop'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`is outside the savepoint root ${spRoot}`)
    expect(existsSync(join(dir, 'cli-elsewhere'))).toBe(false)
    expect(job.status()).toBe('running')
  })

  it('a program calling handle.savepoint(dir) itself is not confined', async () => {
    const path = await job.savepoint(join(dir, 'by-program'))
    expect(path).toContain(join(dir, 'by-program', 'savepoint-'))
  })
})

describe('the CLI options', () => {
  it('--allowed-host (repeatable) and --savepoint-dir reach the server of `sluice nexmark run`', async () => {
    const spDir = join(dir, 'cli-savepoints')
    const child = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'nexmark', 'run', '--query', 'q5', '--events', '0', '--discard', '--port', '0',
      '--allowed-host', 'dash.example', '--allowed-host', 'other.example', '--checkpoint-dir', join(dir, 'cli-chk'), '--checkpoint-interval', '100ms', '--savepoint-dir', spDir], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)))
    try {
      const port = Number((await until(() => /Dashboard: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr) ?? undefined, 'the dashboard URL', 45_000))[1])
      for (const host of ['dash.example', 'other.example:8443']) expect((await send(port, 'GET', '/api/v1/jobs', { Host: host })).status, host).toBe(200)
      expect((await send(port, 'GET', '/api/v1/jobs', { Host: 'evil.example' })).status).toBe(403)
      const value = (await send(port, 'GET', '/api/v1/csrf')).body.csrfToken as string
      const taken = await until(async () => {
        const r = await send(port, 'POST', '/api/v1/jobs/q5/savepoints?dir=cli', { 'X-Sluice-CSRF': value })
        return r.status === 200 ? r : undefined // 409 until the job runs and can take one
      }, 'a savepoint', 45_000)
      expect(taken.body.path).toContain(join(spDir, 'cli', 'savepoint-'))
    } finally {
      child.kill('SIGTERM')
      await exited
    }
    const usage = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'nexmark', 'run', '--query', 'q0', '--events', '10', '--discard', '--no-server', '--savepoint-dir', spDir], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(usage.status).toBe(2)
    expect(usage.stderr).toMatch(/--savepoint-dir needs --checkpoint-dir/)
    const badHost = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'nexmark', 'run', '--query', 'q0', '--events', '10', '--discard', '--port', '0', '--allowed-host', 'http://dash.example'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(badHost.status).toBe(2)
    expect(badHost.stderr).toMatch(/SERVER_ALLOWED_HOST_INVALID: allowed host "http:\/\/dash\.example" is not a host name or IP address \(leave out the scheme, port and path\)/)
  }, 120_000)
})

describe('tokens', () => {
  it('refuses an empty token from the option, the environment and the CLI, never echoing one', async () => {
    await expect(MonitoringServer.start({ port: 0, token: '' })).rejects.toThrow(/SERVER_TOKEN_INVALID: the monitoring token \(--token \/ token option\) is empty/)
    await expect(MonitoringServer.start({ port: 0, host: '0.0.0.0', token: '' })).rejects.toThrow(/SERVER_TOKEN_INVALID/)
    await expect(MonitoringServer.start({ port: 0, token: ' padded-secret ' })).rejects.toThrow(/^(?!.*padded-secret).*starts or ends with spaces/)
    const before = process.env.SLUICE_TOKEN
    process.env.SLUICE_TOKEN = ''
    try {
      await expect(MonitoringServer.start({ port: 0, host: '0.0.0.0' })).rejects.toThrow(/SERVER_TOKEN_INVALID: SLUICE_TOKEN is empty/)
    } finally {
      if (before === undefined) delete process.env.SLUICE_TOKEN
      else process.env.SLUICE_TOKEN = before
    }
    const cli = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'nexmark', 'run', '--query', 'q0', '--events', '1000', '--discard', '--port', '0', '--host', '0.0.0.0', '--token', ''], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(cli.status).toBe(2)
    expect(cli.stderr).toMatch(/SERVER_TOKEN_INVALID: the monitoring token \(--token \/ token option\) is empty/)
  })
})

describe('malformed %-escapes', () => {
  it('answer 400 with a JSON error, never 500', async () => {
    for (const [method, path] of [['GET', '/api/v1/jobs/%E0%A4%A'], ['GET', '/api/v1/jobs/%E0%A4%A/history'], ['GET', '/%E0%A4%A'], ['GET', '/api/v1/jobs/%ZZ'], ['POST', '/api/v1/jobs/%E0%A4%A/savepoints']] as const) {
      const r = await send(server.port, method, path, { 'X-Sluice-CSRF': csrf })
      expect(r.status, `${method} ${path}`).toBe(400)
      expect(r.body.error).toEqual({ code: 'BAD_REQUEST', message: expect.stringMatching(/malformed %-escape/) })
    }
  })
})

describe('event streams under backpressure', () => {
  it('a subscriber that never reads costs at most one frame beyond the socket buffer; it gets the newest snapshot when it reads again', async () => {
    const base = monitor.view()
    const padding = 'x'.repeat(64 * 1024)
    const frame = (seq: number): JobView => ({ ...base, id: 'stalled', name: `seq-${seq}`, padding } as JobView)
    const snapshotListeners: ((v: JobView) => void)[] = []
    const fake = {
      id: 'stalled',
      view: () => frame(-1),
      onSnapshot: (l: (v: JobView) => void) => { snapshotListeners.push(l); return () => {} },
      onAlert: () => () => {},
      onEnd: () => () => {},
      alerts: () => ({ objectives: [], alerts: [] }),
      restarts: 0,
      // /metrics also reads the job's HTTP ingest sources from its pipeline (none here), its
      // cumulative task metrics and checkpoint durations.
      pipeline: { graph: { nodes: new Map() } },
      latestMetrics: () => null,
      checkpointDurations: new CheckpointDurations(),
    }
    const s = await MonitoringServer.start({ port: 0 })
    const socket = connect(s.port, '127.0.0.1')
    try {
      s.add(fake as unknown as JobMonitor)
      await new Promise<void>((r) => socket.once('connect', () => r()))
      socket.pause()
      socket.write(`GET /api/v1/jobs/stalled/events HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`)
      await until(() => (snapshotListeners.length === 1 ? true : undefined), 'the subscriber')
      // 500 frames of 64 KiB (32 MB): far more than the kernel's socket buffers take.
      for (let i = 0; i < 500; i++) snapshotListeners[0](frame(i))
      const stats = s.eventStreamStats()
      expect(stats.subscribers).toBe(1)
      expect(stats.queuedBytes).toBeLessThan(256 * 1024)
      expect(stats.dropped).toBeGreaterThan(0)
      const text = await (await fetch(new URL('/metrics', s.url))).text()
      expect(text).toMatch(new RegExp(`^sluice_monitoring_events_dropped_total\\{job="stalled"\\} ${s.eventStreamStats().dropped}$`, 'm'))
      // Reading again: the newest snapshot arrives (older ones were coalesced away).
      let received = ''
      socket.setEncoding('utf8')
      socket.on('data', (c: string) => (received = (received + c).slice(-200_000)))
      socket.resume()
      await until(() => (received.includes('"name":"seq-499"') ? true : undefined), 'the newest snapshot')
    } finally {
      socket.destroy()
      await s.close()
    }
  })
})
