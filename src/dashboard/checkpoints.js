// The checkpoints panel: a summary, bar charts of duration and size, and the history table.
import { h, s, replaceChildren, fmtNum, fmtMs, fmtBytes, fmtClock, fmtInstant, DASH } from './util.js'
import { niceMax } from './chart.js'

const ckptMs = (v) => fmtMs(v)

/** What the run restored from, in a few words. */
function restoredText(c) {
  const r = c.restore
  if (!r) return c.restoredFrom === null || c.restoredFrom === undefined ? 'fresh start' : `checkpoint ${c.restoredFrom}`
  const what = r.savepoint ? `savepoint ${r.savepoint.split(/[\\/]/).pop()}` : `checkpoint ${r.checkpointId}`
  return `${what} (taken ${fmtInstant(r.takenAt)})`
}

function restoredTitle(c) {
  const r = c.restore
  if (!r) return c.restoredFrom === null || c.restoredFrom === undefined ? 'this run started without restoring state' : null
  return `${r.savepoint ? `savepoint ${r.savepoint}` : `checkpoint ${r.checkpointId}`}\ntaken ${new Date(r.takenAt).toISOString()}\n${fmtBytes(r.sizeBytes)}, loaded in ${fmtMs(r.loadMs)} at ${fmtClock(r.time)}`
}

/**
 * A small SVG bar chart over the checkpoint history (oldest left): one bar per checkpoint, failed
 * ones in red, a tooltip per bar. Bars stretch with the width; the labels are HTML.
 */
function barChart({ testid, title, records, value, format }) {
  const SLOT = 10
  const H = 64
  const n = Math.max(records.length, 12)
  let max = 0
  for (const r of records) {
    const v = value(r)
    if (v !== null && v !== undefined && v > max) max = v
  }
  const top = niceMax(max)
  const kids = [s('line', { class: 'base', x1: '0', x2: String(n * SLOT), y1: String(H - 0.5), y2: String(H - 0.5) })]
  let bars = 0
  records.forEach((r, i) => {
    const v = value(r)
    const failed = r.status === 'failed'
    // A failed checkpoint with no value (no size) still gets a short red mark, so it is seen.
    const hgt = v === null || v === undefined ? (failed ? 3 : 0) : Math.max(1, (v / top) * (H - 2))
    if (hgt === 0) return
    bars++
    kids.push(s('rect', { class: `bar${failed ? ' failed' : ''}${r.kind === 'savepoint' ? ' savepoint' : ''}`, x: String(i * SLOT + 1.5), y: String(H - hgt), width: String(SLOT - 3), height: String(hgt), 'data-id': String(r.id) },
      s('title', { text: `${r.kind} ${r.id} · ${r.status} · ${fmtClock(r.triggeredAt)}\n${title.toLowerCase()} ${format(v ?? null)}${r.failure ? `\n${r.failure}` : ''}` })))
  })
  const last = records.length ? value(records[records.length - 1]) : null
  return h('div', { class: 'chart bar-chart', testid, dataset: { bars } },
    h('div', { class: 'chart-head' },
      h('span', { class: 'chart-title', text: title }),
      h('span', { class: 'chart-legend' }, h('span', { class: 'li', text: 'last ' }, h('span', { class: 'lv', text: format(last ?? null) })), h('span', { class: 'li', text: 'max ' }, h('span', { class: 'lv', text: records.length ? format(max) : DASH })))),
    s('svg', { class: 'bars-svg', viewBox: `0 0 ${n * SLOT} ${H}`, preserveAspectRatio: 'none', height: String(H) }, kids))
}

/**
 * The checkpoints panel: a summary from the live job view (`view.checkpoints`), bar charts of
 * duration and size over the history, and the history table (GET /checkpoints, newest first),
 * failed ones highlighted with their reason.
 * @param {object} c CheckpointView (from the job view)
 * @param {object|null} detail CheckpointsView (with history), null while loading
 */
export function renderCheckpoints(host, c, detail, error = null) {
  const kv = (key, label, value, { title = null, warn = false } = {}) =>
    h('div', { class: `kv${warn ? ' warn' : ''}`, title, testid: `ckpt-${key}` }, h('span', { class: 'k', text: label }), h('span', { class: 'v', text: value }))
  const summary = h('div', { class: 'kpi-grid', testid: 'checkpoints-summary' },
    kv('completed', 'completed', fmtNum(c.completed)),
    kv('failed', 'failed', fmtNum(c.failed), { warn: c.failed > 0 }),
    kv('restarts', 'restarts', fmtNum(c.restarts ?? 0), { warn: (c.restarts ?? 0) > 0, title: 'restarts of the job from its latest checkpoint after a failure' }),
    kv('last-id', 'last completed', c.completed > 0 ? `#${c.lastId}` : DASH),
    kv('duration', 'duration', ckptMs(c.lastDurationMs), { title: 'last completed checkpoint: trigger to committed' }),
    kv('size', 'size', fmtBytes(c.lastSizeBytes), { title: 'last completed checkpoint: encoded operator state' }),
    kv('alignment', 'alignment', ckptMs(c.lastAlignmentMs), { title: 'last completed checkpoint: longest barrier alignment over the tasks (first to last input barrier)' }),
    kv('start-delay', 'start delay', ckptMs(c.lastStartDelayMs), { title: 'last completed checkpoint: longest time from trigger to the barrier reaching a task' }),
    kv('sync', 'sync', ckptMs(c.lastSyncMs), { title: 'last completed checkpoint: longest synchronous state snapshot on a task\'s thread' }),
    kv('restored', 'restored from', restoredText(c), { title: restoredTitle(c) }))

  let rest
  if (detail === null) {
    rest = h('div', { class: error ? 'empty error' : 'empty', testid: 'checkpoints-loading', text: error ? `Checkpoint history unavailable: ${error}` : 'Loading the checkpoint history…' })
  } else if (!detail.history || detail.history.length === 0) {
    rest = h('div', { class: 'empty', testid: 'checkpoints-empty', text: 'No checkpoint taken yet.' })
  } else {
    const newestFirst = detail.history
    const oldestFirst = [...newestFirst].reverse()
    const charts = h('div', { class: 'charts ckpt-charts' },
      barChart({ testid: 'checkpoint-chart-duration', title: 'Duration', records: oldestFirst, value: (r) => r.durationMs, format: fmtMs }),
      barChart({ testid: 'checkpoint-chart-size', title: 'Size', records: oldestFirst, value: (r) => r.sizeBytes, format: fmtBytes }))
    const head = ['id', 'kind', 'status', 'time', 'duration', 'size', 'alignment', 'start delay', 'sync', 'tasks', 'failure']
    const rows = newestFirst.map((r) => h('tr', { class: r.status === 'failed' ? 'failed' : null, testid: 'checkpoint-row', dataset: { id: r.id, status: r.status, kind: r.kind } },
      h('td', { class: 'num', text: `#${r.id}` }),
      h('td', { text: r.kind }),
      h('td', { class: r.status === 'failed' ? 'bad' : 'ok', text: r.status }),
      h('td', { class: 'num', title: new Date(r.triggeredAt).toISOString(), text: fmtClock(r.triggeredAt) }),
      h('td', { class: 'num', text: fmtMs(r.durationMs) }),
      h('td', { class: 'num', text: fmtBytes(r.sizeBytes) }),
      h('td', { class: 'num', text: fmtMs(r.alignmentMs) }),
      h('td', { class: 'num', text: fmtMs(r.startDelayMs) }),
      h('td', { class: 'num', text: fmtMs(r.syncMs) }),
      h('td', { class: 'num', title: 'tasks that acknowledged, of all', text: `${r.acknowledged}/${r.tasks}` }),
      h('td', { class: 'failure', testid: r.failure ? 'checkpoint-failure' : null, title: r.failure ?? null, text: r.failure ?? '' })))
    rest = [charts, h('div', { class: 'ckpt-table' }, h('table', { class: 'tbl', testid: 'checkpoint-history' },
      h('thead', null, h('tr', null, head.map((t) => h('th', { text: t })))),
      h('tbody', null, rows)))]
  }
  replaceChildren(host, summary, rest)
}
