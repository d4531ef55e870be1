// The connection indicator in the header and the banner: live, polling, offline, unauthorized, stale.
import { ApiError } from './api.js'
import { $, state, link } from './state.js'
import { setText, fmtClock } from './util.js'

export function setConn(kind, text) {
  const el = $('conn-status')
  el.dataset.conn = kind
  setText(el, text)
}

export function showBanner(text, kind = 'error') {
  const b = $('banner')
  b.hidden = false
  b.dataset.kind = kind
  setText(b, text)
}

export function hideBanner() {
  $('banner').hidden = true
}

export function markDown(err) {
  if (err instanceof ApiError && err.status === 401) {
    showBanner(`Unauthorized: ${err.message}. Open the dashboard with ?token=<token> in its URL.`)
    setConn('down', 'unauthorized')
    state.down = true
    return
  }
  if (err instanceof ApiError && err.status !== 0) return // an answer, not an outage
  state.down = true
  const since = state.view ? ` Showing the last values received at ${fmtClock(state.lastOk)}.` : ''
  showBanner(`Server unreachable — retrying every few seconds.${since}`)
  setConn('down', 'offline')
}

export function connLabel() {
  if (state.down) return
  if (link.mode === 'sse') setConn('live', 'live')
  else if (link.mode === 'poll') setConn('polling', 'polling')
  else if (link.mode === 'ended') setConn('ended', `job ${state.view?.status ?? 'ended'}`)
}

/** Marks the header stale when nothing arrived for a while (the banner says why). */
export function tickStale() {
  const stale = state.lastOk > 0 && Date.now() - state.lastOk > 3500 && !state.ended
  document.body.classList.toggle('stale', stale)
  if (stale && !state.down) markDown(new ApiError(0, 'STALE', 'no update'))
}
