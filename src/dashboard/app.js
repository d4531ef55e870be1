// The Sluice dashboard: picks a job (#job=<id>, default the first), follows its snapshots over
// Server-Sent Events (polling GET /api/v1/jobs/:id every second when SSE fails), and renders the
// header, graph, operator detail and the diagnosis, alert, exception, source, checkpoint and thread panels.
import { getJson, jobPath, eventsUrl, ApiError } from './api.js'
import { GraphView } from './graph.js'
import { DetailPanel, sampleOperator, renderFindings, renderAlerts, renderExceptions, renderWorkers, renderCheckpoints, exceptionKind } from './panels.js'
import { renderSources } from './sources.js'
import { h, setText, replaceChildren, richText, fmtRate, fmtMs, fmtDuration, fmtClock } from './util.js'

const $ = (id) => document.querySelector(`[data-testid="${id}"]`)
const TERMINAL = new Set(['finished', 'failed', 'stopped'])
const MAX_SAMPLES = 600
const HISTORY_SECONDS = 300

const state = {
  jobs: [],
  jobId: null,
  gen: 0,              // bumps on every job switch; late answers for an older job are dropped
  view: null,
  samples: [],
  intervalMs: 1000,
  selected: null,
  findings: null,
  objectives: [],
  alerts: [],          // from GET /alerts, merged with JobView.alerts and `event: alert`
  exceptions: null,
  checkpoints: null,   // GET /checkpoints (summary and history), polled while the job takes checkpoints
  checkpointsError: null,
  ended: false,
  lastOk: 0,           // epoch ms of the last good answer
  down: false,
}

let graph
let detail
let es = null

function hashParams() {
  return new URLSearchParams(location.hash.replace(/^#/, ''))
}

function setHash(params) {
  const p = hashParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === null) p.delete(k)
    else p.set(k, v)
  }
  const next = `#${p.toString()}`
  if (next !== location.hash) history.replaceState(null, '', next === '#' ? location.pathname + location.search : next)
}

// ---------- connection state ----------

function setConn(kind, text) {
  const el = $('conn-status')
  el.dataset.conn = kind
  setText(el, text)
}

function showBanner(text, kind = 'error') {
  const b = $('banner')
  b.hidden = false
  b.dataset.kind = kind
  setText(b, text)
}

function hideBanner() {
  $('banner').hidden = true
}

function markOk() {
  state.lastOk = Date.now()
  if (state.down) {
    state.down = false
    hideBanner()
    connLabel()
    // Fill the gap the outage left in the charts.
    if (state.jobId) loadHistory(state.gen)
  }
}

function markDown(err) {
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

// ---------- loading ----------

async function loadJobs() {
  try {
    const { jobs } = await getJson('jobs')
    markOk()
    state.jobs = Array.isArray(jobs) ? jobs : []
    renderJobSelect()
    return true
  } catch (e) {
    markDown(e)
    return false
  }
}

function renderJobSelect() {
  const sel = $('job-select')
  const ids = state.jobs.map((j) => j.id)
  if (state.jobId && !ids.includes(state.jobId)) ids.unshift(state.jobId)
  const key = JSON.stringify(state.jobs.map((j) => [j.id, j.name, j.status]))
  if (sel.dataset.key !== key) {
    sel.dataset.key = key
    replaceChildren(sel, ids.map((id) => {
      const j = state.jobs.find((x) => x.id === id)
      return h('option', { value: id, text: j ? `${j.id} · ${j.name} (${j.status})` : id })
    }))
  }
  if (state.jobId) sel.value = state.jobId
}

async function start() {
  graph = new GraphView($('graph-host'), { onSelect: selectOperator })
  detail = new DetailPanel($('detail-host'), { onClose: () => selectOperator(null) })
  $('job-select').addEventListener('change', (e) => {
    setHash({ job: e.target.value, op: null })
    chooseJob()
  })
  window.addEventListener('hashchange', chooseJob)
  window.addEventListener('keydown', (e) => { if (e.key === 'Escape' && state.selected) selectOperator(null) })
  setInterval(tickStale, 1000)
  await bootstrap()
}

/** Lists the jobs until there is one to show (server up, at least one job). */
async function bootstrap() {
  for (;;) {
    const ok = await loadJobs()
    if (ok && state.jobs.length > 0) break
    if (ok) {
      setConn('idle', 'no jobs')
      showEmpty('No jobs on this server yet. Waiting for one to start…')
    }
    await sleep(2000)
  }
  chooseJob()
  // Keep the job list fresh (new jobs, status in the selector).
  setInterval(() => { loadJobs() }, 5000)
}

function showEmpty(text) {
  const e = $('graph-empty')
  e.hidden = false
  setText(e, text)
}

function chooseJob() {
  const p = hashParams()
  const wanted = p.get('job')
  let id = wanted && state.jobs.some((j) => j.id === wanted) ? wanted : null
  if (wanted && !id) {
    showBanner(`No job "${wanted}" on this server; showing "${state.jobs[0]?.id ?? ''}". Jobs: ${state.jobs.map((j) => j.id).join(', ')}.`, 'warn')
  }
  id ??= state.jobs[0]?.id ?? null
  const op = p.get('op')
  if (id !== state.jobId) switchJob(id)
  if (op && op !== state.selected) selectOperator(op, { fromHash: true })
}

function switchJob(id) {
  stopFollowing()
  state.gen++
  Object.assign(state, { jobId: id, view: null, samples: [], selected: null, findings: null, objectives: [], alerts: [], exceptions: null, checkpoints: null, checkpointsError: null, ended: false })
  rendered.clear()
  const loading = (text) => h('div', { class: 'empty', text })
  replaceChildren($('findings'), loading('Waiting for the first diagnosis…'))
  replaceChildren($('alerts-body'), loading('Loading…'))
  replaceChildren($('exceptions-body'), loading('Loading…'))
  replaceChildren($('workers-body'), loading('—'))
  replaceChildren($('checkpoints-body'), loading('Loading…'))
  $('checkpoints-panel').hidden = true
  replaceChildren($('sources-body'))
  $('sources-panel').hidden = true
  detail.close()
  renderJobSelect()
  if (!id) return
  $('graph-empty').hidden = true
  const gen = state.gen
  refreshView(gen).then(() => loadHistory(gen))
  follow(gen)
  refreshSide(gen)
  sideTimer = setInterval(() => refreshSide(gen), 3000)
}

async function refreshView(gen) {
  try {
    const v = await getJson(jobPath(state.jobId))
    if (gen !== state.gen) return false
    markOk()
    onView(v)
    return true
  } catch (e) {
    if (gen !== state.gen) return false
    if (e instanceof ApiError && e.status === 404) {
      showBanner(`Job "${state.jobId}" is gone from the server: ${e.message}`, 'warn')
      return false
    }
    markDown(e)
    return false
  }
}

async function loadHistory(gen) {
  try {
    // Large: ~75 KB a sample for 100 operators × 4 subtasks, so a generous timeout.
    const hist = await getJson(`${jobPath(state.jobId, '/history')}?seconds=${HISTORY_SECONDS}`, 30_000)
    if (gen !== state.gen) return
    state.intervalMs = hist.intervalMs || 1000
    const old = Array.isArray(hist.samples) ? hist.samples : []
    // History first, then whatever live snapshots arrived later than it.
    const lastT = old.length ? old[old.length - 1].t : -Infinity
    state.samples = [...old, ...state.samples.filter((x) => x.t > lastT + state.intervalMs / 2)].slice(-MAX_SAMPLES)
    renderDetail()
  } catch (e) {
    if (gen === state.gen) markDown(e)
  }
}

/** Diagnosis, alerts and exceptions: polled (cheap, and the diagnosis may change any time). */
async function refreshSide(gen) {
  const id = state.jobId
  const [diag, alerts, exc] = await Promise.allSettled([
    getJson(jobPath(id, '/diagnosis')),
    getJson(jobPath(id, '/alerts')),
    getJson(jobPath(id, '/exceptions')),
  ])
  if (gen !== state.gen) return
  if (diag.status === 'fulfilled') {
    state.findings = diag.value.findings ?? []
    setText($('diagnosis-updated'), `updated ${fmtClock(Date.now())}`)
  } else if (state.findings === null) {
    replaceChildren($('findings'), h('div', { class: 'empty error', testid: 'findings-error', text: `Diagnosis unavailable: ${diag.reason?.message ?? diag.reason}` }))
  }
  if (alerts.status === 'fulfilled') {
    state.objectives = alerts.value.objectives ?? []
    state.alerts = alerts.value.alerts ?? []
  }
  if (exc.status === 'fulfilled') state.exceptions = exc.value.exceptions ?? []
  else if (state.exceptions === null) replaceChildren($('exceptions-body'), h('div', { class: 'empty error', text: `Exceptions unavailable: ${exc.reason?.message ?? exc.reason}` }))
  renderSide()
  refreshCheckpoints(gen)
}

/** The checkpoint history, only for a job that takes checkpoints; one request at a time. */
let checkpointsLoading = false
async function refreshCheckpoints(gen) {
  if (checkpointsLoading || !state.view?.checkpoints) return
  checkpointsLoading = true
  try {
    const c = await getJson(jobPath(state.jobId, '/checkpoints'))
    if (gen !== state.gen) return
    state.checkpoints = c
    state.checkpointsError = null
    setText($('checkpoints-updated'), `updated ${fmtClock(Date.now())}`)
  } catch (e) {
    if (gen !== state.gen) return
    state.checkpointsError = e?.message ?? String(e)
  } finally {
    checkpointsLoading = false
  }
  renderCheckpointsPanel()
}

function renderCheckpointsPanel() {
  const c = state.view?.checkpoints ?? null
  const panel = $('checkpoints-panel')
  panel.hidden = c === null
  if (c === null) return
  const detail = state.checkpoints
  renderIfChanged('checkpoints', [c, detail, state.checkpointsError], () => renderCheckpoints($('checkpoints-body'), c, detail, state.checkpointsError))
  const badge = $('checkpoints-count')
  setText(badge, String(c.completed))
  badge.title = `${c.completed} completed, ${c.failed} failed`
  badge.classList.toggle('hot', c.failed > 0)
}

// ---------- following: SSE, polling fallback ----------
//
// mode 'sse': snapshots arrive over EventSource. 'poll': GET the snapshot every second (SSE failed;
// SSE is tried again after 10 good answers). 'ended': the job ended; GET every 5 s, which notices
// the server going away (banner) or a job of that id running again (back to SSE).

let mode = null
let followTimer = null
let sideTimer = null

function stopFollowing() {
  if (es) { es.close(); es = null }
  clearTimeout(followTimer)
  clearInterval(followTimer)
  followTimer = null
  clearInterval(sideTimer)
  sideTimer = null
  mode = null
}

function connLabel() {
  if (state.down) return
  if (mode === 'sse') setConn('live', 'live')
  else if (mode === 'poll') setConn('polling', 'polling')
  else if (mode === 'ended') setConn('ended', `job ${state.view?.status ?? 'ended'}`)
}

function follow(gen) {
  if (gen !== state.gen) return
  if (typeof EventSource === 'undefined') { poll(gen, 1000); return }
  if (es) es.close()
  clearInterval(followTimer)
  mode = 'sse'
  let got = false
  const src = new EventSource(eventsUrl(state.jobId))
  es = src
  if (!state.down) setConn('connecting', 'connecting…')
  // No snapshot within a few seconds: treat the stream as broken and poll instead.
  followTimer = setTimeout(() => { if (!got && es === src) fallBack() }, 4000)
  src.addEventListener('snapshot', (ev) => {
    if (es !== src) return
    got = true
    let v
    try { v = JSON.parse(ev.data) } catch { return }
    markOk()
    onView(v)
    connLabel()
  })
  src.addEventListener('alert', (ev) => {
    if (es !== src) return
    try { mergeAlert(JSON.parse(ev.data)) } catch { /* ignore a malformed event */ }
    renderSide()
  })
  src.addEventListener('end', () => {
    if (es !== src) return
    src.close()
    es = null
    state.ended = true
    // The final snapshot and findings; then keep checking slowly.
    refreshView(gen).then(() => refreshSide(gen))
    poll(gen, 5000)
  })
  src.onerror = () => {
    if (es !== src) return
    fallBack()
  }
  function fallBack() {
    src.close()
    if (es === src) es = null
    poll(gen, 1000)
  }
}

/** GETs the snapshot every `everyMs`; back to SSE when the job runs and the server answers. */
function poll(gen, everyMs) {
  if (gen !== state.gen) return
  clearTimeout(followTimer)
  clearInterval(followTimer)
  mode = everyMs > 1000 ? 'ended' : 'poll'
  connLabel()
  let okStreak = 0
  followTimer = setInterval(async () => {
    if (gen !== state.gen) return
    const ok = await refreshView(gen)
    if (gen !== state.gen || mode === 'sse') return
    okStreak = ok ? okStreak + 1 : 0
    const running = state.view && !TERMINAL.has(state.view.status)
    if (ok && running && (mode === 'ended' || okStreak >= 10)) {
      state.ended = false
      follow(gen)
    } else if (ok) {
      connLabel()
    }
  }, everyMs)
}

function mergeAlert(a) {
  const i = state.alerts.findIndex((x) => x.objective === a.objective)
  if (i >= 0) state.alerts[i] = a
  else state.alerts.push(a)
}

// ---------- rendering ----------

function onView(v) {
  if (!v || typeof v !== 'object' || !v.graph) return
  const restarted = state.view !== null && v.startedAt !== state.view.startedAt
  state.view = v
  if (restarted) {
    // Same id, a new run (the server restarted): the old samples belong to another run.
    state.samples = []
    loadHistory(state.gen)
  }
  if (TERMINAL.has(v.status)) state.ended = true
  appendSample(v)
  renderHeader(v)
  const listed = state.jobs.find((j) => j.id === v.id)
  if (listed && listed.status !== v.status) {
    listed.status = v.status
    renderJobSelect()
  }
  const rebuilt = graph.setGraph(v.graph)
  graph.update(v)
  if (rebuilt && state.selected) {
    graph.select(state.selected)
    graph.focusNode(state.selected)
  }
  for (const a of v.alerts ?? []) mergeAlert(a)
  renderDetail()
  renderSide()
  renderCheckpointsPanel()
  renderSourcesPanel(v)
  // A checkpoint ended (or the job restarted) since the history was fetched: fetch it again now.
  const c = v.checkpoints
  const hist = state.checkpoints
  if (c && (hist ? hist.completed !== c.completed || hist.failed !== c.failed || hist.restarts !== c.restarts : state.checkpointsError === null)) refreshCheckpoints(state.gen)
  renderWorkers($('workers-body'), v.workers)
  document.body.dataset.status = v.status
}

/** Broker sources and connections: shown only for a job that has any. */
function renderSourcesPanel(v) {
  const has = (v.sources ?? []).length > 0 || (v.connections ?? []).length > 0
  $('sources-panel').hidden = !has
  if (!has) return
  const down = (v.connections ?? []).filter((c) => c.state !== 'connected').length
  const badge = $('sources-down')
  badge.hidden = down === 0
  setText(badge, `${down} not connected`)
  // The trend changes with every sample, so this panel is redrawn each time (it has little text to select).
  renderSources($('sources-body'), v, state.samples)
}

function appendSample(v) {
  const t = typeof v.startedAt === 'number' && typeof v.uptimeMs === 'number' ? v.startedAt + v.uptimeMs : Date.now()
  const last = state.samples[state.samples.length - 1]
  if (last && t < last.t + state.intervalMs / 2) return
  const operators = {}
  for (const o of v.operators ?? []) operators[o.id] = sampleOperator(o)
  const sources = {}
  for (const src of v.sources ?? []) sources[src.source] = { lag: src.lag, lagPerSecond: src.lagPerSecond }
  state.samples.push({ t, recordsPerSecond: v.recordsPerSecond, latencyP99Ms: v.latency?.p99 ?? null, operators, sources })
  if (state.samples.length > MAX_SAMPLES) state.samples.splice(0, state.samples.length - MAX_SAMPLES)
}

function renderHeader(v) {
  setText($('job-name'), v.name)
  const st = $('job-status')
  setText(st, v.status)
  st.dataset.status = v.status
  setText($('job-uptime'), fmtDuration(v.uptimeMs))
  setText($('job-throughput'), fmtRate(v.recordsPerSecond))
  setText($('job-latency-p99'), v.latency ? fmtMs(v.latency.p99) : '—')
  const workerCount = typeof v.workerCount === 'number' ? v.workerCount : typeof v.workers === 'number' ? v.workers : Array.isArray(v.workers) ? v.workers.filter((w) => w.worker >= 0).length : null
  setText($('job-parallelism'), `p=${v.parallelism ?? '—'} · ${workerCount === null ? '—' : workerCount === 0 ? 'single thread' : `${workerCount} workers`}`)
  const tf = $('top-finding')
  const f = v.topFinding ?? (state.findings && state.findings[0]) ?? null
  const key = f ? `${f.severity}|${f.title}` : ''
  if (tf.dataset.key !== key) {
    tf.dataset.key = key
    tf.dataset.severity = f ? f.severity : ''
    tf.dataset.kind = f ? f.kind : ''
    tf.title = f ? `${f.title}\n→ ${f.recommendation}` : ''
    replaceChildren(tf, f ? richText(f.title) : '—')
    tf.onclick = f && f.operator ? () => selectOperator(f.operator) : null
    tf.classList.toggle('clickable', !!(f && f.operator))
  }
  document.title = `${v.name} · ${v.status} · Sluice`
}

function renderDetail() {
  if (!state.view) return
  const windowMs = Math.max(60_000, Math.min(HISTORY_SECONDS * 1000, state.samples.length ? state.samples[state.samples.length - 1].t - state.samples[0].t : 0))
  detail.update(state.view, state.samples, windowMs)
}

/** Re-renders a panel only when its data changed (so text can be selected and read). */
const rendered = new Map()
function renderIfChanged(name, data, render) {
  const key = JSON.stringify(data)
  if (rendered.get(name) === key) return
  rendered.set(name, key)
  render()
}

function renderSide() {
  if (state.findings !== null) renderIfChanged('findings', state.findings, () => renderFindings($('findings'), state.findings, selectOperator))
  // An alert the latest snapshot no longer lists as firing has resolved.
  const firingNow = new Set((state.view?.alerts ?? []).map((a) => a.objective))
  const alerts = state.view && Array.isArray(state.view.alerts)
    ? state.alerts.map((a) => (a.state === 'firing' && !firingNow.has(a.objective) ? { ...a, state: 'resolved' } : a))
    : state.alerts
  renderIfChanged('alerts', [state.objectives, alerts], () => renderAlerts($('alerts-body'), state.objectives, alerts))
  const nFiring = alerts.filter((a) => a.state === 'firing').length
  const badge = $('alerts-count')
  setText(badge, String(nFiring))
  badge.classList.toggle('hot', nFiring > 0)
  if (state.exceptions !== null) {
    renderIfChanged('exceptions', state.exceptions, () => renderExceptions($('exceptions-body'), state.exceptions))
    const eb = $('exceptions-count')
    setText(eb, String(state.exceptions.length))
    // Restores are events, not trouble: the badge turns red for failures and restarts only.
    eb.classList.toggle('hot', state.exceptions.some((e) => exceptionKind(e) !== 'restore'))
  }
}

function selectOperator(id, { fromHash = false } = {}) {
  if (id === state.selected && id !== null) {
    graph.focusNode(id)
    return
  }
  state.selected = id
  graph.select(id)
  if (!fromHash) setHash({ op: id })
  if (id === null) {
    detail.close()
    return
  }
  detail.open(id)
  renderDetail()
  if (fromHash) requestAnimationFrame(() => graph.focusNode(id))
  // Bring the panel into view only when it starts below the fold.
  const top = $('detail-host').getBoundingClientRect().top
  if (top > window.innerHeight - 140) window.scrollBy({ top: top - 70, behavior: 'smooth' })
}

/** Marks the header stale when nothing arrived for a while (the banner says why). */
function tickStale() {
  const stale = state.lastOk > 0 && Date.now() - state.lastOk > 3500 && !state.ended
  document.body.classList.toggle('stale', stale)
  if (stale && !state.down) markDown(new ApiError(0, 'STALE', 'no update'))
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}

start()
