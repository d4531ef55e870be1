// The monitoring API client (docs/API.md): JSON over fetch, snapshots over EventSource.
// A `?token=T` on the page is sent as `Authorization: Bearer T` and appended to EventSource URLs.
// Changes (POST) carry the token, or without one the server's CSRF value, which only a page of
// the server's own origin can read (docs/API.md, "Security").

const token = new URLSearchParams(location.search).get('token')
const API = 'api/v1/' // relative, so the dashboard also works mounted under a path prefix

export class ApiError extends Error {
  /** @param {number} status 0 when the server could not be reached */
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** GET a JSON resource; throws ApiError (status 0: unreachable or timed out). */
export async function getJson(path, timeoutMs = 5000) {
  const ctl = new AbortController()
  const timer = setTimeout(() => ctl.abort(), timeoutMs)
  let res
  try {
    res = await fetch(API + path, {
      headers: token ? { Authorization: `Bearer ${token}`, Accept: 'application/json' } : { Accept: 'application/json' },
      cache: 'no-store',
      signal: ctl.signal,
    })
  } catch (e) {
    throw new ApiError(0, 'UNREACHABLE', ctl.signal.aborted ? 'the server did not answer in time' : 'the server cannot be reached')
  } finally {
    clearTimeout(timer)
  }
  return answer(res, path)
}

let csrf = null

/** POST to the API (a change, e.g. `jobs/q5/savepoints?stop=true`); throws ApiError like getJson. */
export async function postJson(path) {
  const headers = { Accept: 'application/json' }
  if (token) headers.Authorization = `Bearer ${token}`
  else headers['X-Sluice-CSRF'] = csrf ??= (await getJson('csrf')).csrfToken
  let res
  try {
    res = await fetch(API + path, { method: 'POST', headers, cache: 'no-store' })
  } catch {
    throw new ApiError(0, 'UNREACHABLE', 'the server cannot be reached')
  }
  return answer(res, path)
}

/** The JSON body of an answer, or the ApiError its error shape describes. */
async function answer(res, path) {
  let body = null
  try {
    body = await res.json()
  } catch {
    body = null
  }
  if (!res.ok) {
    const err = body && typeof body === 'object' && body.error ? body.error : null
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `${res.status} ${res.statusText}`)
  }
  if (body === null) throw new ApiError(res.status, 'BAD_JSON', `${path}: the answer is not JSON`)
  return body
}

export const jobPath = (id, rest = '') => `jobs/${encodeURIComponent(id)}${rest}`

/** The EventSource URL of a job's event stream (with the token as a query parameter). */
export function eventsUrl(id) {
  const u = new URL(API + jobPath(id, '/events'), location.href)
  if (token) u.searchParams.set('token', token)
  return u.href
}

export const hasToken = () => token !== null
