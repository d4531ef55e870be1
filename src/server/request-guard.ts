/**
 * Who may talk to the monitoring server, decided before any route runs (docs/API.md, "Security").
 *
 * - **Host.** Every request must name this server in its Host header: a loopback name (localhost,
 *   127.0.0.1, [::1]), the bound address (on a wildcard bind, the machine's interface addresses),
 *   or a name from `allowedHosts`, with any port. A page on a DNS-rebound name (evil.example
 *   resolving to 127.0.0.1) is refused before it can read or change anything, because its requests
 *   carry its own name.
 * - **Changes** (every method but GET and HEAD). An Origin header must be the very origin the
 *   request was sent to (scheme-less host and port equal to the Host header) or a host from
 *   `allowedHosts`; `Origin: null` is refused; Sec-Fetch-Site, when sent, must be same-origin.
 *   Then the request must carry the bearer token when one is configured, and otherwise (loopback)
 *   the header `X-Sluice-CSRF` with this server's CSRF value.
 * - **The CSRF value** is random per server, answered by GET /api/v1/csrf only to a request that
 *   is not from another origin. No response ever carries a CORS header, so a page of another
 *   origin can neither read the value nor send a custom header (that needs a CORS preflight, which
 *   is a non-GET request with a foreign Origin, hence refused).
 *
 * Non-browser clients follow the same rule, without exception: a request without Origin and
 * Sec-Fetch-Site is most likely not from a browser page, but old browsers sent no Origin on
 * cross-site form posts, so "no Origin" proves nothing. The CLI fetches the CSRF value first (one
 * more GET), or sends the bearer token.
 */
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import { networkInterfaces } from 'node:os'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { SluiceError } from '../errors.ts'

/** The header a state-changing request carries the CSRF value in. */
export const CSRF_HEADER = 'x-sluice-csrf'
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]']
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', ''])

/** Why a request is refused, in the server's error shape. */
export interface Refusal {
  readonly status: number
  readonly code: string
  readonly message: string
}

export interface GuardOptions {
  /** The address the server binds. */
  readonly host: string
  readonly token: string | undefined
  readonly allowedHosts: readonly string[]
}

export class RequestGuard {
  /** Random per server; see the module comment. */
  readonly csrfToken = randomBytes(32).toString('base64url')
  private readonly hosts: ReadonlySet<string>
  private readonly userHosts: ReadonlySet<string>
  private readonly token: string | undefined

  constructor(o: GuardOptions) {
    this.token = o.token
    this.userHosts = new Set(o.allowedHosts.map(allowedHostName))
    const bound = WILDCARDS.has(o.host) ? interfaceAddresses() : [bracketed(o.host.toLowerCase())]
    this.hosts = new Set([...LOOPBACK_NAMES, ...bound, ...this.userHosts])
  }

  /** DNS rebinding: refuses a Host header that names someone else. */
  checkHost(req: IncomingMessage): Refusal | null {
    const raw = req.headers.host
    const name = raw === undefined ? null : hostName(raw)
    if (name !== null && this.hosts.has(name)) return null
    // The answer may be read by the page that sent it (a rebound name is that page's own origin),
    // so it names no allowed host and no address of this machine.
    const shown = raw === undefined ? 'no Host header' : `Host ${JSON.stringify(raw.slice(0, 100))}`
    return {
      status: 403,
      code: 'HOST_NOT_ALLOWED',
      message: `${shown} is not a name this server answers to (a page on another name may be a DNS-rebinding attack); open it as http://localhost:<port>/ or by its bound address, or if you reach it under this name on purpose, start it with --allowed-host <name> (option allowedHosts)`,
    }
  }

  /** A state-changing request: its Origin and Sec-Fetch-Site, then the token or CSRF value. */
  checkChange(req: IncomingMessage, url: URL): Refusal | null {
    const foreign = this.foreignOrigin(req)
    if (foreign !== null) return foreign
    if (this.token !== undefined) {
      return this.authorized(req, url) ? null : unauthorized()
    }
    const given = req.headers[CSRF_HEADER]
    if (typeof given === 'string' && equalSecrets(given, this.csrfToken)) return null
    return {
      status: 403,
      code: 'CSRF_REQUIRED',
      message: `changes need the header X-Sluice-CSRF with the value GET /api/v1/csrf answers (same origin only), or a server started with --token and "Authorization: Bearer <token>"`,
    }
  }

  /** GET /api/v1/csrf: never to a page of another origin (which could not read it anyway). */
  checkCsrfRead(req: IncomingMessage): Refusal | null {
    return this.foreignOrigin(req)
  }

  /** The bearer token, from the Authorization header or ?token= (EventSource cannot set headers). */
  authorized(req: IncomingMessage, url: URL): boolean {
    if (this.token === undefined) return true
    const header = req.headers.authorization
    const given = header?.startsWith('Bearer ') === true ? header.slice(7) : url.searchParams.get('token')
    return given !== null && given !== undefined && equalSecrets(given, this.token)
  }

  private foreignOrigin(req: IncomingMessage): Refusal | null {
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { status: 403, code: 'ORIGIN_NOT_ALLOWED', message: `a request from a ${String(site)} page cannot do this; use the dashboard this server serves, or a client outside the browser` }
    }
    const origin = req.headers.origin
    if (origin === undefined || this.originAllowed(origin, req.headers.host ?? '')) return null
    return {
      status: 403,
      code: 'ORIGIN_NOT_ALLOWED',
      message: `Origin ${JSON.stringify(origin.slice(0, 100))} is not this server; only the dashboard it serves may do this (a reverse proxy's name: start the server with --allowed-host <name>)`,
    }
  }

  private originAllowed(origin: string, hostHeader: string): boolean {
    let u: URL
    try {
      u = new URL(origin)
    } catch {
      return false // includes "null": sandboxed frames, file: pages, cross-origin redirects
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false
    try {
      // The page's own origin: same host and port as the request was sent to (default ports
      // normalised away by URL on both sides).
      if (new URL(`${u.protocol}//${hostHeader}`).host === u.host) return true
    } catch {
      // A malformed Host was already refused by checkHost; fall through.
    }
    const name = hostName(u.host)
    return name !== null && this.userHosts.has(name)
  }
}

/** 401: the token is missing or wrong. Names no token. */
export function unauthorized(): Refusal {
  return { status: 401, code: 'UNAUTHORIZED', message: 'this server needs a token: send "Authorization: Bearer <token>" (or ?token=<token> in the dashboard URL)' }
}

/**
 * The token the server requires: `token` if given, else env SLUICE_TOKEN; undefined when neither
 * is set. An empty one (from either) is refused: `?token=` would match it. The message never
 * contains the token.
 */
export function serverToken(token: string | undefined): string | undefined {
  const fromEnv = token === undefined
  const t = token ?? process.env.SLUICE_TOKEN
  if (t === undefined) return undefined
  const where = fromEnv ? 'SLUICE_TOKEN' : 'the monitoring token (--token / token option)'
  const problem = t === '' ? 'is empty' : t.trim() !== t ? 'starts or ends with spaces, which no Authorization header can carry' : /[\0-\x1f\x7f]/.test(t) ? 'contains control characters' : null
  if (problem === null) return t
  throw new SluiceError('SERVER_TOKEN_INVALID', `${where} ${problem}; pass a real secret${fromEnv ? ', or unset SLUICE_TOKEN' : ''}, or leave it out on a loopback address`)
}

function equalSecrets(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The host name of a Host header or URL host: lower case, IPv6 in brackets, no port, no trailing dot; null if malformed. */
export function hostName(host: string): string | null {
  const h = host.trim().toLowerCase()
  let name: string
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end < 0 || !/^(:\d{1,5})?$/.test(h.slice(end + 1))) return null
    name = h.slice(0, end + 1)
  } else {
    const m = /^([^:/\s@]+)(?::\d{1,5})?$/.exec(h)
    if (m === null) return null
    name = m[1]
  }
  return name.endsWith('.') ? name.slice(0, -1) : name
}

/** An `allowedHosts` entry as compared with Host headers; refuses what could not be one. */
function allowedHostName(raw: string): string {
  const h = typeof raw === 'string' ? raw.trim().toLowerCase() : ''
  if (isIP(h) === 6) return `[${h}]`
  if (h.startsWith('[') && h.endsWith(']') && isIP(h.slice(1, -1)) === 6) return h
  if (/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/.test(h)) return h.replace(/\.$/, '')
  throw new SluiceError('SERVER_ALLOWED_HOST_INVALID', `allowed host ${JSON.stringify(raw)} is not a host name or IP address${/[:/]/.test(h) ? ' (leave out the scheme, port and path)' : ''}`)
}

function bracketed(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host
}

/** Every address of this machine, for a server bound to all of them. */
function interfaceAddresses(): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(bracketed(a.address.replace(/%.*$/, '').toLowerCase()))
  }
  return out
}
