// Following a job's snapshots: Server-Sent Events, polling when they fail.
//
// mode 'sse': snapshots arrive over EventSource. 'poll': GET the snapshot every second (SSE failed;
// SSE is tried again after 10 good answers). 'ended': the job ended; GET every 5 s, which notices
// the server going away (banner) or a job of that id running again (back to SSE).
import { eventsUrl } from './api.js'
import { setConn, connLabel } from './connection.js'
import { markOk, mergeAlert, onView, refreshSide, refreshView } from './loading.js'
import { renderSide } from './render.js'
import { state, link, TERMINAL } from './state.js'

export function stopFollowing() {
  if (link.es) { link.es.close(); link.es = null }
  clearTimeout(link.timer)
  clearInterval(link.timer)
  link.timer = null
  clearInterval(link.sideTimer)
  link.sideTimer = null
  link.mode = null
}

export function follow(gen) {
  if (gen !== state.gen) return
  if (typeof EventSource === 'undefined') { poll(gen, 1000); return }
  if (link.es) link.es.close()
  clearInterval(link.timer)
  link.mode = 'sse'
  let got = false
  const src = new EventSource(eventsUrl(state.jobId))
  link.es = src
  if (!state.down) setConn('connecting', 'connecting…')
  // No snapshot within a few seconds: treat the stream as broken and poll instead.
  link.timer = setTimeout(() => { if (!got && link.es === src) fallBack() }, 4000)
  src.addEventListener('snapshot', (ev) => {
    if (link.es !== src) return
    got = true
    let v
    try { v = JSON.parse(ev.data) } catch { return }
    markOk()
    onView(v)
    connLabel()
  })
  src.addEventListener('alert', (ev) => {
    if (link.es !== src) return
    try { mergeAlert(JSON.parse(ev.data)) } catch { /* ignore a malformed event */ }
    renderSide()
  })
  src.addEventListener('end', () => {
    if (link.es !== src) return
    src.close()
    link.es = null
    state.ended = true
    // The final snapshot and findings; then keep checking slowly.
    refreshView(gen).then(() => refreshSide(gen))
    poll(gen, 5000)
  })
  src.onerror = () => {
    if (link.es !== src) return
    fallBack()
  }
  function fallBack() {
    src.close()
    if (link.es === src) link.es = null
    poll(gen, 1000)
  }
}

/** GETs the snapshot every `everyMs`; back to SSE when the job runs and the server answers. */
function poll(gen, everyMs) {
  if (gen !== state.gen) return
  clearTimeout(link.timer)
  clearInterval(link.timer)
  link.mode = everyMs > 1000 ? 'ended' : 'poll'
  connLabel()
  let okStreak = 0
  link.timer = setInterval(async () => {
    if (gen !== state.gen) return
    const ok = await refreshView(gen)
    if (gen !== state.gen || link.mode === 'sse') return
    okStreak = ok ? okStreak + 1 : 0
    const running = state.view && !TERMINAL.has(state.view.status)
    if (ok && running && (link.mode === 'ended' || okStreak >= 10)) {
      state.ended = false
      follow(gen)
    } else if (ok) {
      connLabel()
    }
  }, everyMs)
}
