/**
 * The monitoring server: the dashboard, /metrics (Prometheus text, server/prometheus.ts), the JSON API
 * under /api/v1 and a Server-Sent Events stream per job (docs/API.md). Binds 127.0.0.1 by default;
 * any other host needs a bearer token, and then every request for data (API, events, /metrics)
 * must carry it; the dashboard's static files are served without it.
 *
 * Security (docs/API.md, "Security"; the rules live in request-guard.ts):
 * - a Host header naming anything but this server (loopback, the bound address, `allowedHosts`)
 *   is refused with 403 HOST_NOT_ALLOWED, so DNS rebinding cannot reach it;
 * - every method but GET and HEAD needs, before any routing, an Origin (if sent) that is this
 *   server's own, and the bearer token when one is configured, else the per-server CSRF value
 *   from GET /api/v1/csrf in X-Sluice-CSRF; no response carries a CORS header. Clients outside a
 *   browser follow the same rule (the CLI fetches the CSRF value);
 * - the savepoint route writes only under the job's savepoint root (savepoint-dir.ts);
 * - HTTP ingest (POST /api/v1/jobs/:id/ingest/:source, ingest-route.ts) is a change like any other:
 *   the token as a bearer header, or the CSRF value; its buffer and the bodies it reads are bounded;
 * - event streams never queue more than one frame beyond the socket's buffer (event-stream.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFile } from 'node:fs/promises'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isSluiceError, SluiceError } from '../errors.ts'
import type { JobMonitor } from '../monitoring/job-monitor.ts'
import { prometheusText, PROMETHEUS_CONTENT_TYPE } from './prometheus.ts'
import { RequestGuard, serverToken, unauthorized, type Refusal } from './request-guard.ts'
import { savepointDirUnder } from './savepoint-dir.ts'
import { EventStream } from './event-stream.ts'
import { ingestRequest, ingestStats } from './ingest-route.ts'

export const DEFAULT_PORT = 8420
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])
const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url))
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
}

export interface ServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 8420; if taken, the next free port (up to 20 tries). 0: any free port. */
  readonly port?: number
  /** Required unless the host is loopback; default env SLUICE_TOKEN. Never empty. */
  readonly token?: string
  /**
   * Host names (or IP addresses) the server answers to besides loopback and the bound address,
   * e.g. the name of a reverse proxy in front of it (CLI: --allowed-host, repeatable). Any other
   * Host header is refused (DNS rebinding).
   */
  readonly allowedHosts?: readonly string[]
}

/** What the event streams hold; bounded per subscriber (event-stream.ts). */
export interface EventStreamStats {
  subscribers: number
  /** Bytes waiting in the responses' buffers, all subscribers together. */
  queuedBytes: number
  /** Frames not delivered to subscribers that did not keep up, since the server started. */
  dropped: number
}

export class MonitoringServer {
  private readonly jobs = new Map<string, JobMonitor>()
  private readonly streams = new Set<EventStream>()
  /** Event frames dropped per job (for /metrics). */
  private readonly droppedEvents = new Map<string, number>()

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
    private readonly guard: RequestGuard,
  ) {}

  /** Starts listening; rejects with a clear SluiceError when it cannot. */
  static async start(o: ServerOptions = {}): Promise<MonitoringServer> {
    const host = o.host ?? '127.0.0.1'
    const token = serverToken(o.token)
    // Refuses a malformed name before anything listens.
    const guard = new RequestGuard({ host, token, allowedHosts: o.allowedHosts ?? [] })
    if (!LOOPBACK.has(host) && token === undefined) {
      throw new SluiceError('SERVER_TOKEN_REQUIRED', `the monitoring server would listen on ${host}, reachable from other machines, without a token; pass --token <secret> (or set SLUICE_TOKEN), or bind 127.0.0.1`)
    }
    const wanted = o.port ?? DEFAULT_PORT
    if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) {
      throw new SluiceError('SERVER_PORT_INVALID', `port must be a whole number from 0 to 65535, got ${String(o.port)}`)
    }
    let holder: MonitoringServer | null = null
    const server = createServer((req, res) => {
      void (holder as MonitoringServer).handle(req, res)
    })
    const tries = wanted === 0 || o.port !== undefined ? 1 : 20
    let lastError: unknown = null
    for (let i = 0; i < tries; i++) {
      try {
        await listen(server, host, wanted === 0 ? 0 : wanted + i)
        lastError = null
        break
      } catch (e) {
        lastError = e
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') break
      }
    }
    if (lastError !== null) {
      const code = (lastError as NodeJS.ErrnoException).code
      throw new SluiceError('SERVER_LISTEN_FAILED', code === 'EADDRINUSE'
        ? `port ${wanted} is in use${tries > 1 ? ` (and the next ${tries - 1})` : ''}; pass --port <free port>, --port 0 for any free port, or --no-server`
        : `cannot listen on ${host}:${wanted}: ${(lastError as Error).message}`, { cause: lastError })
    }
    const addr = server.address()
    const port = typeof addr === 'object' && addr !== null ? addr.port : wanted
    holder = new MonitoringServer(server, host, port, guard)
    return holder
  }

  get url(): string {
    const h = this.host.includes(':') ? `[${this.host}]` : this.host
    return `http://${h}:${this.port}/`
  }

  add(monitor: JobMonitor): void {
    this.jobs.set(monitor.id, monitor)
  }

  monitors(): JobMonitor[] {
    return [...this.jobs.values()]
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.res.end()
    this.streams.clear()
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  /** Event-stream figures (tests and diagnostics). */
  eventStreamStats(): EventStreamStats {
    let queuedBytes = 0
    for (const s of this.streams) queuedBytes += s.queuedBytes
    let dropped = 0
    for (const n of this.droppedEvents.values()) dropped += n
    return { subscribers: this.streams.size, queuedBytes, dropped }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const path = url.pathname
      const refused = this.guard.checkHost(req) ?? (req.method === 'GET' || req.method === 'HEAD' ? null : this.guard.checkChange(req, url))
      if (refused !== null) return refuse(res, refused)
      const isData = path === '/metrics' || path.startsWith('/api/')
      // The dashboard's own files carry no data and a browser cannot add a token to <script src>;
      // everything with data (the API, the event stream, /metrics) needs the token.
      if (isData && !this.guard.authorized(req, url)) {
        return refuse(res, unauthorized())
      }
      const savepoints = /^\/api\/v1\/jobs\/([^/]+)\/savepoints$/.exec(path)
      if (req.method === 'POST' && savepoints !== null) {
        const id = decodeSegment(savepoints[1])
        return id === null ? badEscape(res, path) : await this.savepoint(id, url, res)
      }
      const ingest = /^\/api\/v1\/jobs\/([^/]+)\/ingest\/([^/]+)$/.exec(path)
      if (ingest !== null) return await this.ingest(req, res, path, ingest[1], ingest[2])
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD')
        return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported here; the API is read-only except POST /api/v1/jobs/:id/savepoints and POST /api/v1/jobs/:id/ingest/:source`)
      }
      if (path === '/metrics') {
        res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE })
        res.end(prometheusText(this.monitors(), this.droppedEvents))
        return
      }
      if (path === '/api/v1/csrf') {
        const foreign = this.guard.checkCsrfRead(req)
        if (foreign !== null) return refuse(res, foreign)
        return sendJson(res, { csrfToken: this.guard.csrfToken }, 200, 'no-store')
      }
      if (path.startsWith('/api/')) return this.api(path, url, res)
      return await this.staticFile(path, res)
    } catch (e) {
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', e instanceof Error ? e.message : String(e))
      else res.end()
    }
  }

  private api(path: string, url: URL, res: ServerResponse): void {
    const parts = path.split('/').filter((p) => p.length > 0)
    // ['api', 'v1', 'jobs', id?, what?]
    if (parts[1] !== 'v1' || parts[2] !== 'jobs' || parts.length > 5) {
      return sendError(res, 404, 'NOT_FOUND', `no route ${path}; the API is under /api/v1/jobs (see docs/API.md)`)
    }
    if (parts.length === 3) {
      return sendJson(res, { jobs: this.monitors().map((m) => summary(m)) })
    }
    const id = decodeSegment(parts[3])
    if (id === null) return badEscape(res, path)
    const m = this.jobs.get(id)
    if (m === undefined) return sendError(res, 404, 'NOT_FOUND', `no job ${JSON.stringify(id)}; GET /api/v1/jobs lists the jobs`)
    switch (parts[4]) {
      case undefined:
        return sendJson(res, m.view())
      case 'history': {
        const raw = url.searchParams.get('seconds')
        const seconds = raw === null ? 300 : Number(raw)
        if (!/^\d+$/.test(raw ?? '300') || seconds < 1 || seconds > 600) {
          return sendError(res, 400, 'BAD_REQUEST', `seconds must be a whole number from 1 to 600, got ${JSON.stringify(raw)}`)
        }
        return sendJson(res, { intervalMs: 1000, samples: m.history(seconds) })
      }
      case 'diagnosis':
        return sendJson(res, { findings: m.diagnosis() })
      case 'alerts':
        return sendJson(res, m.alerts())
      case 'exceptions':
        return sendJson(res, { exceptions: m.exceptions() })
      case 'checkpoints': {
        const c = m.checkpoints()
        if (c === null) return sendError(res, 404, 'NOT_FOUND', `job ${JSON.stringify(id)} takes no checkpoints; run it with checkpoints: { dir, intervalMs } (CLI: --checkpoint-dir <dir>)`)
        return sendJson(res, c)
      }
      case 'events':
        return this.events(m, res)
      default:
        return sendError(res, 404, 'NOT_FOUND', `no route ${path}; a job has /history, /diagnosis, /alerts, /exceptions, /checkpoints and /events (the CSRF value is at /api/v1/csrf)`)
    }
  }

  /**
   * POST /api/v1/jobs/:id/savepoints[?dir=D][&stop=true]: takes a savepoint into D under the job's
   * savepoint root (the root without D); answers with its path.
   */
  private async savepoint(id: string, url: URL, res: ServerResponse): Promise<void> {
    const m = this.jobs.get(id)
    if (m === undefined) return sendError(res, 404, 'NOT_FOUND', `no job ${JSON.stringify(id)}; GET /api/v1/jobs lists the jobs`)
    const stop = url.searchParams.get('stop')
    if (stop !== null && stop !== 'true' && stop !== 'false') return sendError(res, 400, 'BAD_REQUEST', `stop must be true or false, got ${JSON.stringify(stop)}`)
    const root = m.handle.savepointDir
    if (root === null) return sendError(res, 409, 'CHECKPOINTS_DISABLED', `job ${JSON.stringify(id)} takes no checkpoints, so it cannot take a savepoint; run it with checkpoints (CLI: --checkpoint-dir <dir>)`)
    let dir: string
    try {
      const target = await savepointDirUnder(root, url.searchParams.get('dir'))
      if ('error' in target) return sendError(res, 400, 'SAVEPOINT_DIR_OUTSIDE_ROOT', target.error)
      dir = target.dir
    } catch (e) {
      return sendError(res, 409, 'SAVEPOINT_FAILED', `cannot use the savepoint root ${root}: ${e instanceof Error ? e.message : String(e)}`)
    }
    try {
      const path = await m.handle.savepoint(dir)
      // Answer before stopping: a job that ends closes this server, and the answer with it.
      if (stop === 'true') res.on('finish', () => void m.handle.stop())
      sendJson(res, { path, stopped: stop === 'true' })
    } catch (e) {
      sendError(res, 409, isSluiceError(e) ? e.code : 'SAVEPOINT_FAILED', e instanceof Error ? e.message : String(e))
    }
  }

  /** /api/v1/jobs/:id/ingest/:source: POST records to a job's HTTP source (ingest-route.ts); GET its counters. */
  private async ingest(req: IncomingMessage, res: ServerResponse, path: string, rawJob: string, rawSource: string): Promise<void> {
    const id = decodeSegment(rawJob)
    const source = decodeSegment(rawSource)
    if (id === null || source === null) return badEscape(res, path)
    const m = this.jobs.get(id)
    if (m === undefined) {
      req.resume()
      return sendError(res, 404, 'NOT_FOUND', `no job ${JSON.stringify(id)}; GET /api/v1/jobs lists the jobs`)
    }
    if (req.method === 'POST' && m.ended) {
      // Its buffer would take them (202) and nothing would ever read them.
      req.resume()
      return sendError(res, 409, 'JOB_NOT_RUNNING', `job ${JSON.stringify(id)} has ended (${m.view().status}); records sent to it now would never be read`)
    }
    if (req.method === 'POST') return ingestRequest(req, res, m.pipeline, id, source)
    if (req.method === 'GET' || req.method === 'HEAD') return ingestStats(res, m.pipeline, id, source)
    res.setHeader('Allow', 'POST, GET, HEAD')
    return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not supported here; POST records (application/json or application/x-ndjson), or GET the source's counters`)
  }

  private events(m: JobMonitor, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
    const stream = new EventStream(res, () => this.droppedEvents.set(m.id, (this.droppedEvents.get(m.id) ?? 0) + 1))
    this.streams.add(stream)
    stream.send('snapshot', m.view())
    const offSnapshot = m.onSnapshot((v) => stream.send('snapshot', v))
    const offAlert = m.onAlert((a) => stream.send('alert', a))
    const offEnd = m.onEnd((v) => {
      stream.send('snapshot', v)
      stream.send('end', { status: v.status })
    })
    res.on('close', () => {
      offSnapshot()
      offAlert()
      offEnd()
      this.streams.delete(stream)
    })
  }

  private async staticFile(path: string, res: ServerResponse): Promise<void> {
    const rel = path === '/' ? 'index.html' : decodeSegment(path.slice(1))
    if (rel === null) return badEscape(res, path)
    const file = normalize(join(DASHBOARD_DIR, rel))
    if (!file.startsWith(DASHBOARD_DIR) || rel.includes('\0')) return sendError(res, 404, 'NOT_FOUND', `no file ${path}`)
    let body: Buffer
    try {
      body = await readFile(file)
    } catch {
      return sendError(res, 404, 'NOT_FOUND', `no file ${path}; the dashboard is at /, the API under /api/v1, metrics at /metrics`)
    }
    // Not framed by other sites (clickjacking), and a ?token= in the page's URL never leaves in a Referer.
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY', 'Content-Security-Policy': "frame-ancestors 'none'", 'Referrer-Policy': 'no-referrer',
    })
    res.end(body)
  }
}

function summary(m: JobMonitor): { id: string; name: string; status: string; startedAt: number; uptimeMs: number } {
  const v = m.view()
  return { id: v.id, name: v.name, status: v.status, startedAt: v.startedAt, uptimeMs: v.uptimeMs }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      server.off('listening', onListening)
      reject(e)
    }
    const onListening = (): void => {
      server.off('error', onError)
      resolve()
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(port, host)
  })
}

/** A path segment with its %-escapes decoded; null when one is malformed (answered 400, not 500). */
function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s)
  } catch {
    return null
  }
}

function badEscape(res: ServerResponse, path: string): void {
  sendError(res, 400, 'BAD_REQUEST', `the path ${JSON.stringify(path.slice(0, 200))} has a malformed %-escape; percent-encode it as UTF-8 (a literal "%" is %25)`)
}

function refuse(res: ServerResponse, r: Refusal): void {
  sendError(res, r.status, r.code, r.message)
}

function sendJson(res: ServerResponse, body: unknown, status = 200, cache = 'no-cache'): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': cache, 'X-Content-Type-Options': 'nosniff' })
  res.end(JSON.stringify(body))
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, { error: { code, message } }, status)
}
