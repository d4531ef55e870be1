// Requests for the job shown: its snapshot, history, diagnosis, alerts, exceptions and checkpoint
// history; and what a new snapshot changes on the page.
import { getJson, jobPath, ApiError } from './api.js'
import { markDown, hideBanner, showBanner, connLabel } from './connection.js'
import { renderCheckpointsPanel, renderDetail, renderHeader, renderJobSelect, renderSide, renderSourcesPanel, appendSample } from './render.js'
import { $, state, ui, TERMINAL, HISTORY_SECONDS, MAX_SAMPLES } from './state.js'
import { renderWorkers } from './workers.js'
import { h, setText, replaceChildren, fmtClock } from './util.js'

export function markOk() {
  state.lastOk = Date.now()
  if (state.down) {
    state.down = false
    hideBanner()
    connLabel()
    // Fill the gap the outage left in the charts.
    if (state.jobId) loadHistory(state.gen)
  }
}

export async function loadJobs() {
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

export async function refreshView(gen) {
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

export async function loadHistory(gen) {
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
export async function refreshSide(gen) {
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

export function mergeAlert(a) {
  const i = state.alerts.findIndex((x) => x.objective === a.objective)
  if (i >= 0) state.alerts[i] = a
  else state.alerts.push(a)
}

// ---------- rendering ----------

export function onView(v) {
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
  const rebuilt = ui.graph.setGraph(v.graph)
  ui.graph.update(v)
  if (rebuilt && state.selected) {
    ui.graph.select(state.selected)
    ui.graph.focusNode(state.selected)
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
