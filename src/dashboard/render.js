// Drawing the page from the state: the header, the job selector, the operator detail and the side
// panels (each redrawn only when its data changed), and the selected operator.
import { renderAlerts } from './alerts.js'
import { renderCheckpoints } from './checkpoints.js'
import { sampleOperator } from './detail.js'
import { renderExceptions, exceptionKind } from './exceptions.js'
import { renderFindings } from './findings.js'
import { renderSources } from './sources.js'
import { $, state, ui, setHash, MAX_SAMPLES, HISTORY_SECONDS } from './state.js'
import { h, setText, replaceChildren, richText, fmtRate, fmtMs, fmtDuration } from './util.js'

export function renderJobSelect() {
  const sel = $('job-select')
  const ids = state.jobs.map((j) => j.id)
  if (state.jobId && !ids.includes(state.jobId)) ids.unshift(state.jobId)
  const key = JSON.stringify(state.jobs.map((j) => [j.id, j.name, j.status]))
  if (sel.dataset.key !== key) {
    sel.dataset.key = key
    replaceChildren(sel, ids.map((id) => {
      const j = state.jobs.find((x) => x.id === id)
      // A job named as its id shows the name once ("demo-hot-items (running)").
      return h('option', { value: id, text: j ? `${j.name === j.id ? j.id : `${j.id} · ${j.name}`} (${j.status})` : id })
    }))
  }
  if (state.jobId) sel.value = state.jobId
}

export function renderCheckpointsPanel() {
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

/** Broker sources and connections: shown only for a job that has any. */
export function renderSourcesPanel(v) {
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

export function appendSample(v) {
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

export function renderHeader(v) {
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

export function renderDetail() {
  if (!state.view) return
  const windowMs = Math.max(60_000, Math.min(HISTORY_SECONDS * 1000, state.samples.length ? state.samples[state.samples.length - 1].t - state.samples[0].t : 0))
  ui.detail.update(state.view, state.samples, windowMs)
}

/** Re-renders a panel only when its data changed (so text can be selected and read). */
export const rendered = new Map()
function renderIfChanged(name, data, render) {
  const key = JSON.stringify(data)
  if (rendered.get(name) === key) return
  rendered.set(name, key)
  render()
}

export function renderSide() {
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

export function selectOperator(id, { fromHash = false } = {}) {
  if (id === state.selected && id !== null) {
    ui.graph.focusNode(id)
    return
  }
  state.selected = id
  ui.graph.select(id)
  if (!fromHash) setHash({ op: id })
  if (id === null) {
    ui.detail.close()
    return
  }
  ui.detail.open(id)
  renderDetail()
  if (fromHash) requestAnimationFrame(() => ui.graph.focusNode(id))
  // Bring the panel into view only when it starts below the fold.
  const top = $('detail-host').getBoundingClientRect().top
  if (top > window.innerHeight - 140) window.scrollBy({ top: top - 70, behavior: 'smooth' })
}
