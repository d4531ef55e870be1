// The dashboard's state: what it shows (one job's snapshots, samples and side panels), its live
// link to the server, the page's widgets, and the URL hash (#job=<id>&op=<id>) that names the selection.

export const $ = (id) => document.querySelector(`[data-testid="${id}"]`)
export const TERMINAL = new Set(['finished', 'failed', 'stopped'])
export const MAX_SAMPLES = 600
export const HISTORY_SECONDS = 300

export const state = {
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

/** The graph and the detail panel, built once the page starts. */
export const ui = { graph: null, detail: null }

// How snapshots arrive (follow.js sets it): the EventSource, the mode (sse, poll, ended), the poll
// interval or the SSE start timeout, and the side panels' refresh interval.
export const link = { es: null, mode: null, timer: null, sideTimer: null }

export function hashParams() {
  return new URLSearchParams(location.hash.replace(/^#/, ''))
}

export function setHash(params) {
  const p = hashParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === null) p.delete(k)
    else p.set(k, v)
  }
  const next = `#${p.toString()}`
  if (next !== location.hash) history.replaceState(null, '', next === '#' ? location.pathname + location.search : next)
}
