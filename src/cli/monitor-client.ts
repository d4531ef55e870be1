/**
 * What `sluice top` and `sluice doctor` share: talking to a running job's monitoring server
 * (docs/API.md) with global fetch — the server's URL and token, the job to watch, JSON requests,
 * the Server-Sent Events stream — and when to colour the terminal.
 */
import type { Command } from 'commander'
import { SluiceError } from '../errors.ts'
import type { JobSummary } from '../monitoring/types.ts'

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8420/'
/** A request the server has not answered by then counts as unreachable. */
const REQUEST_TIMEOUT_MS = 5000

export interface ClientFlags {
  token?: string
  job?: string
}

/** Adds the [url] argument, --token and --job (`job` says what the command does with it) to a command that talks to a monitoring server. */
export function withClientOptions(c: Command, job: string): Command {
  return c
    .argument('[url]', 'the monitoring server, as printed by `sluice run` ("Dashboard: ...")', DEFAULT_SERVER_URL)
    .option('--token <secret>', 'bearer token the server requires (default: env SLUICE_TOKEN)')
    .option('--job <id>', `${job} (default: the first running one)`)
}

/**
 * A request that failed, in words for the user. Retryable: no HTTP answer at all (refused, timed
 * out) or no job yet; not retryable: the server said no (bad token, no such job).
 */
export class MonitorRequestError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null = null,
  ) {
    super(message)
    this.name = 'MonitorRequestError'
  }
}

/**
 * The server's base URL from what the user typed: a scheme is optional, a path into the API or a
 * dashboard `?token=` is tolerated (the token is returned separately, the rest dropped).
 */
export function parseServerUrl(raw: string | undefined): { url: string; token: string | undefined } {
  const text = raw === undefined || raw === '' ? DEFAULT_SERVER_URL : /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`
  let u: URL
  try {
    u = new URL(text)
  } catch {
    // The text may hold a dashboard ?token=; the message must not.
    const shown = (raw ?? '').replace(/([?&]token=)[^&#]*/gi, '$1…')
    throw new SluiceError('CLI_USAGE', `"${shown}" is not a URL; pass the one \`sluice run\` prints, e.g. ${DEFAULT_SERVER_URL}`)
  }
  const token = u.searchParams.get('token') ?? undefined
  const api = u.pathname.indexOf('/api/')
  const path = api >= 0 ? u.pathname.slice(0, api + 1) : u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`
  return { url: `${u.origin}${path}`, token }
}

/** --token, else the URL's ?token=, else env SLUICE_TOKEN (empty counts as unset, as in the server). */
export function resolveToken(flag: string | undefined, fromUrl: string | undefined): string | undefined {
  if (flag !== undefined && flag !== '') return flag
  if (fromUrl !== undefined && fromUrl !== '') return fromUrl
  const env = process.env.SLUICE_TOKEN
  return env !== undefined && env !== '' ? env : undefined
}

/** ANSI colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colorEnabled(stream: NodeJS.WriteStream): boolean {
  const noColor = process.env.NO_COLOR
  return stream.isTTY === true && (noColor === undefined || noColor === '')
}

export function unreachableMessage(url: string, detail: string): string {
  return `cannot reach the Sluice monitoring server at ${url}: ${detail}; is a job running? start one with \`sluice run <job>\`, or pass its URL`
}

/** One Server-Sent Event. */
export interface ServerEvent {
  event: string
  data: string
}

export class MonitorClient {
  constructor(
    readonly url: string,
    private readonly token: string | undefined,
  ) {}

  async json<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.request(path, 'application/json', signal)
    let body: unknown
    try {
      body = await res.json()
    } catch (e) {
      throw new MonitorRequestError(unreachableMessage(this.url, `the answer to ${path} is not JSON (${(e as Error).message}); is this a Sluice monitoring server?`), false)
    }
    if (!res.ok) throw this.refused(path, res.status, body)
    return body as T
  }

  /**
   * The headers a change (POST) needs: the bearer token, or without one the server's CSRF value
   * (GET api/v1/csrf; docs/API.md, "Security"). Throws MonitorRequestError like json().
   */
  async changeHeaders(signal?: AbortSignal): Promise<Record<string, string>> {
    if (this.token !== undefined) return { Authorization: `Bearer ${this.token}` }
    const { csrfToken } = await this.json<{ csrfToken: string }>('api/v1/csrf', signal)
    return { 'X-Sluice-CSRF': csrfToken }
  }

  /** The job named by --job, else the first running (or starting) one, else the first. */
  async job(wanted: string | undefined, signal?: AbortSignal): Promise<JobSummary> {
    const { jobs } = await this.json<{ jobs: JobSummary[] }>('api/v1/jobs', signal)
    const ids = jobs.map((j) => j.id).join(', ')
    if (wanted !== undefined) {
      const j = jobs.find((x) => x.id === wanted)
      if (j === undefined) {
        throw new MonitorRequestError(jobs.length === 0
          ? `the server at ${this.url} has no job "${wanted}" (it has none)`
          : `the server at ${this.url} has no job "${wanted}"; its jobs: ${ids}`, false, 404)
      }
      return j
    }
    const j = jobs.find((x) => x.status === 'running') ?? jobs.find((x) => x.status === 'starting') ?? jobs[0]
    if (j === undefined) throw new MonitorRequestError(`the server at ${this.url} has no jobs yet`, true)
    return j
  }

  /**
   * A job's event stream (`snapshot`, `alert`, `end`). Ends when the server closes it; aborting
   * `signal` ends it too. Only the connection is covered by the request timeout.
   */
  async *events(jobId: string, signal: AbortSignal): AsyncGenerator<ServerEvent> {
    const path = `api/v1/jobs/${encodeURIComponent(jobId)}/events`
    const res = await this.request(path, 'text/event-stream', signal, false)
    if (!res.ok) throw this.refused(path, res.status, await res.json().catch(() => null))
    if (res.body === null) return
    const reader = res.body.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        buffer += decoder.decode(value, { stream: true })
        let cut: number
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          const ev = parseEvent(block)
          if (ev !== null) yield ev
        }
      }
    } finally {
      reader.releaseLock()
      void res.body.cancel().catch(() => {})
    }
  }

  private refused(path: string, status: number, body: unknown): MonitorRequestError {
    if (status === 401) {
      return new MonitorRequestError(this.token === undefined
        ? `the server at ${this.url} needs a token: pass --token <secret> or set SLUICE_TOKEN (the one the job was started with)`
        : `the server at ${this.url} did not accept the token; pass the one the job was started with (--token or SLUICE_TOKEN)`, false, status)
    }
    const err = (body as { error?: { code?: string; message?: string } } | null)?.error
    const what = `${err?.code !== undefined ? `${err.code}: ` : ''}${err?.message ?? `HTTP ${status}`}`
    return new MonitorRequestError(`the server at ${this.url} refused ${path}: ${what}`, false, status)
  }

  private async request(path: string, accept: string, signal: AbortSignal | undefined, timeout = true): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept }
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`
    const signals = [...(signal === undefined ? [] : [signal]), ...(timeout ? [AbortSignal.timeout(REQUEST_TIMEOUT_MS)] : [])]
    try {
      return await fetch(new URL(path, this.url), { headers, signal: signals.length === 0 ? null : AbortSignal.any(signals) })
    } catch (e) {
      if (signal?.aborted === true) throw e
      throw new MonitorRequestError(unreachableMessage(this.url, networkDetail(e)), true)
    }
  }
}

function parseEvent(block: string): ServerEvent | null {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim()
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
  }
  return data.length === 0 ? null : { event, data: data.join('\n') }
}

/** The useful part of a fetch failure: undici wraps the socket error ("connect ECONNREFUSED ...") in `cause`. */
function networkDetail(e: unknown): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
  const cause = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined
  if (cause instanceof Error) return cause.message
  return e instanceof Error ? e.message : String(e)
}
