/**
 * POST /api/v1/jobs/:job/ingest/:source — records for a job's HTTP source (connectors/http-source.ts,
 * docs/connectors/http.md). The request guard (Host, Origin, token or CSRF value) has already
 * passed when this runs. Refusals that cost nothing come first: unknown source (404), wrong media
 * type (415), a full buffer or too many bodies being read (429, before the body is read), a
 * Content-Length over the limit (413); then the body is read up to maxBodyBytes and handed whole
 * to the source, which answers 202, 400, 413 or 429.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { JobDefinition } from '../graph/job.ts'
import { asIngestTarget, type IngestTarget } from '../connectors/http-source.ts'
import { ingestFormat } from '../connectors/ingest-body.ts'

/** An HTTP source of a job, with the endpoint segment it answers to. */
export interface IngestEndpoint {
  readonly sourceId: string
  readonly path: string
  readonly target: IngestTarget
}

/** The job's HTTP sources. */
export function ingestEndpoints(p: JobDefinition): IngestEndpoint[] {
  const out: IngestEndpoint[] = []
  for (const n of p.graph.nodes.values()) {
    if (n.type !== 'source') continue
    const target = asIngestTarget(n.source)
    if (target !== null) out.push({ sourceId: n.id, path: target.path ?? n.id, target })
  }
  return out
}

/** The one endpoint at `path`, or an error answer. */
function find(p: JobDefinition, job: string, path: string): IngestEndpoint | { status: number; code: string; message: string } {
  const all = ingestEndpoints(p)
  const hits = all.filter((e) => e.path === path)
  if (hits.length === 1) return hits[0]
  if (hits.length > 1) {
    return { status: 500, code: 'INGEST_PATH_AMBIGUOUS', message: `sources ${hits.map((h) => JSON.stringify(h.sourceId)).join(' and ')} of job ${JSON.stringify(job)} share the ingest path ${JSON.stringify(path)}; give each httpSource its own path option` }
  }
  const known = all.length === 0 ? `job ${JSON.stringify(job)} has no HTTP source (httpSource())` : `its HTTP sources are at ${all.map((e) => `/api/v1/jobs/${encodeURIComponent(job)}/ingest/${e.path}`).join(', ')}`
  return { status: 404, code: 'NOT_FOUND', message: `no HTTP source ${JSON.stringify(path)} in job ${JSON.stringify(job)}; ${known}` }
}

/** GET: the source's counters. */
export function ingestStats(res: ServerResponse, p: JobDefinition, job: string, path: string): void {
  const e = find(p, job, path)
  if (!('target' in e)) return send(res, e.status, { error: { code: e.code, message: e.message } })
  send(res, 200, { source: e.sourceId, path: e.path, maxBodyBytes: e.target.maxBodyBytes, ...e.target.stats() })
}

/** POST: the records of one request, all or none. */
export async function ingestRequest(req: IncomingMessage, res: ServerResponse, p: JobDefinition, job: string, path: string): Promise<void> {
  const e = find(p, job, path)
  if (!('target' in e)) {
    req.resume()
    return send(res, e.status, { error: { code: e.code, message: e.message } })
  }
  const t = e.target
  const format = ingestFormat(req.headers['content-type'])
  if (format === null) {
    t.countRefused('malformed')
    return refuse(req, res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(req.headers['content-type'] ?? '(none)')} is not accepted: send application/json (one record or an array of records) or application/x-ndjson (one record a line), in UTF-8`)
  }
  if (t.full() || t.requestsInFlight >= t.maxConcurrentRequests) {
    t.countRefused('rejected')
    const why = t.full() ? `the job is behind: its buffer is full (${t.stats().buffered} records)` : `${t.requestsInFlight} requests are being read already (maxConcurrentRequests)`
    return refuse(req, res, 429, 'INGEST_BACKPRESSURE', `${why}; nothing of this request was accepted: send it again after Retry-After`, { 'Retry-After': String(t.retryAfterSeconds()) })
  }
  const declared = Number(req.headers['content-length'] ?? '0')
  if (declared > t.maxBodyBytes) {
    t.countRefused('tooLarge')
    return refuse(req, res, 413, 'INGEST_BODY_TOO_LARGE', tooLarge(declared, t.maxBodyBytes))
  }
  t.requestsInFlight++
  let body: Uint8Array | null
  try {
    body = await readBody(req, t.maxBodyBytes)
  } finally {
    t.requestsInFlight--
  }
  if (body === null) {
    if (req.destroyed && !req.complete) return // the client went away mid-body
    t.countRefused('tooLarge')
    return refuse(req, res, 413, 'INGEST_BODY_TOO_LARGE', tooLarge(null, t.maxBodyBytes))
  }
  const outcome = t.ingest(body, format)
  switch (outcome.status) {
    case 202:
      return send(res, 202, { accepted: outcome.accepted })
    case 400:
      return send(res, 400, { error: { code: outcome.code, message: outcome.message, line: outcome.line } })
    case 413:
      return send(res, 413, { error: { code: outcome.code, message: outcome.message } })
    case 429:
      return send(res, 429, { error: { code: outcome.code, message: outcome.message } }, { 'Retry-After': String(outcome.retryAfterSeconds) })
  }
}

function tooLarge(declared: number | null, max: number): string {
  return `the body${declared === null ? '' : ` (${declared} bytes)`} is larger than ${max} bytes (maxBodyBytes); nothing of it was accepted: split it into smaller requests`
}

/**
 * The body, or null once it passes `max` bytes (the rest is read and dropped, never kept) or the
 * client aborts.
 */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (c: Buffer) => {
      if (over) return
      size += c.length
      if (size > max) {
        over = true
        chunks.length = 0
        resolve(null)
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (!over) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    })
    req.on('close', () => {
      if (!req.complete) resolve(null)
    })
    req.on('error', () => resolve(null))
  })
}

/**
 * An answer before the body was read (or while it still arrives): the connection closes after it,
 * and what the client still sends is read and dropped meanwhile, so it sees the answer rather than
 * a reset.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (!req.complete) {
    res.shouldKeepAlive = false
    req.resume()
  }
  send(res, status, { error: { code, message } }, headers)
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers })
  res.end(JSON.stringify(body))
}
