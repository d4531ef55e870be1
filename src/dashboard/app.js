// The Sluice dashboard: picks a job (#job=<id>, default the first), follows its snapshots over
// Server-Sent Events (polling GET /api/v1/jobs/:id every second when SSE fails), and renders the
// header, graph, operator detail and the diagnosis, alert, exception, source, checkpoint and thread panels.
// state.js holds what is shown, loading.js fetches it, follow.js keeps it live, render.js draws it.
import { setConn, showBanner, tickStale } from './connection.js'
import { DetailPanel } from './detail.js'
import { follow, stopFollowing } from './follow.js'
import { GraphView } from './graph.js'
import { loadHistory, loadJobs, refreshSide, refreshView } from './loading.js'
import { rendered, renderJobSelect, selectOperator } from './render.js'
import { $, state, ui, link, hashParams, setHash } from './state.js'
import { h, setText, replaceChildren } from './util.js'

async function start() {
  ui.graph = new GraphView($('graph-host'), { onSelect: selectOperator })
  ui.detail = new DetailPanel($('detail-host'), { onClose: () => selectOperator(null) })
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
  ui.detail.close()
  renderJobSelect()
  if (!id) return
  $('graph-empty').hidden = true
  const gen = state.gen
  refreshView(gen).then(() => loadHistory(gen))
  follow(gen)
  refreshSide(gen)
  link.sideTimer = setInterval(() => refreshSide(gen), 3000)
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms))
}

start()
