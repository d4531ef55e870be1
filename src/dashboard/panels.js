// Panels: the operator detail (KPIs, charts, subtasks, hot keys), findings, alerts, exceptions,
// checkpoints and threads. All text goes through textContent (operator ids and keys are user data).
import { h, s, setText, replaceChildren, richText, fmtNum, fmtRate, fmtMs, fmtBytes, fmtPct, fmtClock, fmtInstant, fmtDuration, DASH } from './util.js'
import { LineChart, niceMax } from './chart.js'
import { stateColours, subtaskState } from './graph.js'

const C = {
  in: '#2f6fdf', out: '#169a68',
  p50: '#79a6ef', p90: '#e39a1f', p99: '#d23f35',
  busy: '#d23f35', wait: '#e3a21a', bp: '#2b2f36', idle: '#5b8def',
  queue: '#8a55cf', lag: '#b86f12',
}
const msps = (v) => (v === null || v === undefined ? DASH : `${Math.round(v)} ms/s`)

/** The per-operator series a chart reads from a Sample's operator entry. */
const CHARTS = [
  { key: 'throughput', title: 'Throughput', format: fmtRate, series: [
    { key: 'in', name: 'in', color: C.in, get: (o) => o.recordsInPerSecond },
    { key: 'out', name: 'out', color: C.out, get: (o) => o.recordsOutPerSecond }] },
  { key: 'latency', title: 'Latency (source → here)', format: fmtMs, series: [
    { key: 'p50', name: 'p50', color: C.p50, get: (o) => o.latencyP50Ms },
    { key: 'p90', name: 'p90', color: C.p90, get: (o) => o.latencyP90Ms },
    { key: 'p99', name: 'p99', color: C.p99, get: (o) => o.latencyP99Ms }] },
  { key: 'load', title: 'Busy / waiting / backpressured / idle (ms/s)', format: msps, axisFormat: (v) => String(Math.round(v)), yMax: 1000, series: [
    { key: 'busy', name: 'busy', color: C.busy, get: (o) => o.busyMsPerSecond },
    { key: 'waiting', name: 'waiting', color: C.wait, get: (o) => o.waitingMsPerSecond ?? 0 },
    { key: 'backpressured', name: 'bp', color: C.bp, get: (o) => o.backpressuredMsPerSecond },
    { key: 'idle', name: 'idle', color: C.idle, get: (o) => o.idleMsPerSecond }] },
  { key: 'queue', title: 'Input queue usage', format: fmtPct, yMax: 1, series: [
    { key: 'queue', name: 'in queue', color: C.queue, get: (o) => o.inputQueueUsage }] },
  { key: 'watermark', title: 'Watermark lag', format: fmtMs, series: [
    { key: 'lag', name: 'lag', color: C.lag, get: (o) => o.watermarkLagMs }] },
]

/** A Sample-style operator entry from a live OperatorView (to append snapshots to history). */
export function sampleOperator(o) {
  return {
    recordsInPerSecond: o.recordsInPerSecond, recordsOutPerSecond: o.recordsOutPerSecond,
    busyMsPerSecond: o.busyMsPerSecond, waitingMsPerSecond: o.waitingMsPerSecond ?? 0, backpressuredMsPerSecond: o.backpressuredMsPerSecond, idleMsPerSecond: o.idleMsPerSecond,
    inputQueueUsage: o.inputQueueUsage ?? null, watermarkLagMs: o.watermarkLagMs ?? null,
    latencyP50Ms: o.latency?.p50 ?? null, latencyP90Ms: o.latency?.p90 ?? null, latencyP99Ms: o.latency?.p99 ?? null,
    stateEntries: o.stateEntries,
    subtasks: (o.subtasks ?? []).map((st) => ({ busyMsPerSecond: st.busyMsPerSecond, backpressuredMsPerSecond: st.backpressuredMsPerSecond, recordsInPerSecond: st.recordsInPerSecond })),
  }
}

export class DetailPanel {
  constructor(host, { onClose }) {
    this.host = host
    this.onClose = onClose
    this.opId = null
  }

  /** Builds the panel for one operator (charts are kept across updates). */
  open(opId) {
    this.opId = opId
    this.jobCharts = null
    this.titleId = h('span', { class: 'detail-id', testid: 'detail-id', text: opId })
    this.titleSub = h('span', { class: 'detail-sub', testid: 'detail-sub' })
    this.statePill = h('span', { class: 'pill', testid: 'detail-state' })
    this.kpis = h('div', { class: 'kpi-grid', testid: 'detail-kpis' })
    this.charts = CHARTS.map((c) => ({ def: c, chart: new LineChart({ title: c.title, testid: `chart-${c.key}`, series: c.series, format: c.format, axisFormat: c.axisFormat, yMax: c.yMax }) }))
    this.subtasks = h('div', { class: 'subtasks', testid: 'subtasks' })
    this.hotKeys = h('div', { class: 'hot-keys', testid: 'hot-keys-host' })
    this.missing = h('div', { class: 'empty', hidden: true, testid: 'detail-missing' })
    const root = h('div', { class: 'detail', testid: 'detail-panel', dataset: { operator: opId } },
      h('div', { class: 'card-head detail-head' },
        h('h2', null, this.titleId), this.titleSub, this.statePill,
        h('button', { type: 'button', class: 'tool close', title: 'close', 'aria-label': 'close details', testid: 'detail-close', text: '×', onclick: () => this.onClose() })),
      this.missing,
      this.kpis,
      h('div', { class: 'charts', testid: 'detail-charts' }, this.charts.map((c) => c.chart.el)),
      h('div', { class: 'detail-cols' },
        h('div', { class: 'detail-col' }, h('h3', { text: 'Subtasks' }), this.subtasks),
        h('div', { class: 'detail-col hot' }, h('h3', { text: 'Hot keys' }), this.hotKeys)))
    replaceChildren(this.host, root)
    this.root = root
  }

  /** No operator selected: the job's own throughput and end-to-end latency, and a hint. */
  close() {
    this.opId = null
    this.jobCharts = [
      new LineChart({ title: 'Job throughput (source records)', testid: 'chart-job-throughput', format: fmtRate, series: [{ key: 'rate', name: 'records/s', color: C.in }] }),
      new LineChart({ title: 'End-to-end latency p99', testid: 'chart-job-latency', format: fmtMs, series: [{ key: 'p99', name: 'p99', color: C.p99 }] }),
    ]
    replaceChildren(this.host, h('div', { class: 'job-overview', testid: 'job-overview' },
      h('div', { class: 'card-head' }, h('h2', { text: 'Job' }), h('span', { class: 'hint', testid: 'detail-empty', text: 'click an operator in the graph for its live charts, subtasks, hot keys and state' })),
      h('div', { class: 'charts' }, this.jobCharts.map((c) => c.el))))
  }

  updateJob(samples, windowMs) {
    if (!this.jobCharts) return
    const [rate, lat] = this.jobCharts
    rate.setData(samples.map((sm) => ({ t: sm.t, v: [sm.recordsPerSecond ?? null] })), windowMs)
    lat.setData(samples.map((sm) => ({ t: sm.t, v: [sm.latencyP99Ms ?? null] })), windowMs)
  }

  /**
   * @param {object} view JobView
   * @param {{t: number, operators: Record<string, object>}[]} samples
   */
  update(view, samples, windowMs) {
    if (!this.opId) {
      this.updateJob(samples, windowMs)
      return
    }
    const o = (view?.operators ?? []).find((x) => x.id === this.opId)
    const node = (view?.graph?.nodes ?? []).find((n) => n.id === this.opId)
    this.missing.hidden = !!o
    if (!o) {
      setText(this.missing, `No operator "${this.opId}" in this job's current snapshot.`)
    } else {
      setText(this.titleSub, `${o.label} · ${o.kind} · parallelism ${o.parallelism} · task ${o.task}`)
      setText(this.statePill, o.state)
      const c = stateColours(o.state, o)
      this.statePill.style.background = c.fill
      this.statePill.style.color = c.text
      this.statePill.dataset.state = o.state
      this.renderKpis(o)
      this.renderSubtasks(o)
      this.renderHotKeys(o)
    }
    if (!node && !o) return
    for (const { def, chart } of this.charts) {
      const pts = []
      for (const sm of samples) {
        const so = sm.operators?.[this.opId]
        if (!so) continue
        pts.push({ t: sm.t, v: def.series.map((sr) => sr.get(so) ?? null) })
      }
      chart.setData(pts, windowMs)
    }
  }

  renderKpis(o) {
    const lat = o.latency
    const items = [
      ['in', fmtRate(o.recordsInPerSecond), 'records in per second'],
      ['out', fmtRate(o.recordsOutPerSecond), 'records out per second'],
      ['total in', fmtNum(o.recordsIn), 'records in since start'],
      ['total out', fmtNum(o.recordsOut), 'records out since start'],
      ['bytes in/out', `${fmtBytes(o.bytesInPerSecond)}/s · ${fmtBytes(o.bytesOutPerSecond)}/s`, 'across threads only'],
      ['busy', msps(o.busyMsPerSecond), 'running its own code on its thread'],
      ['waiting', msps(o.waitingMsPerSecond), 'awaiting a sink write or a source read (I/O); the thread is free meanwhile'],
      ['backpressured', msps(o.backpressuredMsPerSecond)],
      ['idle', msps(o.idleMsPerSecond)],
      ['queue in/out', `${fmtPct(o.inputQueueUsage)} · ${fmtPct(o.outputQueueUsage)}`],
      ['latency p50/p90/p99', lat ? `${fmtMs(lat.p50)} · ${fmtMs(lat.p90)} · ${fmtMs(lat.p99)}` : DASH, 'source → this operator, last 10 s'],
      ['watermark', fmtInstant(o.watermark), 'event time'],
      ['watermark lag', fmtMs(o.watermarkLagMs)],
      ['state entries', fmtNum(o.stateEntries)],
      ['state bytes', fmtBytes(o.stateBytes)],
      ['pending timers', fmtNum(o.pendingTimers)],
      ['late', fmtNum(o.lateRecords)],
      ['skipped', fmtNum(o.skippedRecords)],
      ['dead-lettered', fmtNum(o.deadLetteredRecords)],
      ['errors', fmtNum(o.errors)],
    ]
    if (this.kpis.childElementCount !== items.length) {
      replaceChildren(this.kpis, items.map(([k, , title]) => h('div', { class: k.includes('/') ? 'kv wide' : 'kv', title: title ?? null, testid: `kpi-${k.replace(/[^a-z0-9]+/g, '-')}` }, h('span', { class: 'k', text: k }), h('span', { class: 'v' }))))
    }
    items.forEach(([k, v], i) => {
      const el = this.kpis.children[i]
      const val = el.lastChild
      setText(val, v)
      const warn = (k === 'late' && o.lateRecords > 0) || (k === 'skipped' && o.skippedRecords > 0) || (k === 'dead-lettered' && o.deadLetteredRecords > 0) || (k === 'errors' && o.errors > 0)
      el.classList.toggle('warn', warn)
    })
  }

  renderSubtasks(o) {
    const subs = [...(o.subtasks ?? [])].sort((a, b) => a.subtask - b.subtask)
    if (subs.length === 0) {
      replaceChildren(this.subtasks, h('div', { class: 'empty', text: 'No subtask metrics yet.' }))
      return
    }
    const maxIn = Math.max(1, ...subs.map((st) => st.recordsInPerSecond ?? 0))
    const rows = subs.map((st) => {
      const b = st.busyMsPerSecond ?? 0
      const w = st.waitingMsPerSecond ?? 0
      const p = st.backpressuredMsPerSecond ?? 0
      const i = st.idleMsPerSecond ?? 0
      const tot = Math.max(1, b + w + p + i)
      const bar = h('div', { class: 'loadbar', title: `busy ${Math.round(b)} · waiting ${Math.round(w)} · backpressured ${Math.round(p)} · idle ${Math.round(i)} ms/s` },
        h('i', { class: 'b', style: { width: `${(b / tot) * 100}%` } }),
        h('i', { class: 'w', style: { width: `${(w / tot) * 100}%` } }),
        h('i', { class: 'p', style: { width: `${(p / tot) * 100}%` } }),
        h('i', { class: 'd', style: { width: `${(i / tot) * 100}%` } }))
      const inBar = h('div', { class: 'ratebar' }, h('i', { style: { width: `${((st.recordsInPerSecond ?? 0) / maxIn) * 100}%` } }), h('span', { text: fmtRate(st.recordsInPerSecond) }))
      return h('tr', { testid: `subtask-row-${st.subtask}`, dataset: { state: subtaskState(st) } },
        h('td', { class: 'num', text: `#${st.subtask}` }),
        h('td', { class: 'num', text: st.worker === -1 ? 'main' : `w${st.worker}` }),
        h('td', { class: 'barcell' }, bar),
        h('td', { class: 'num', text: `${Math.round(b)}` }),
        h('td', { class: 'num', text: `${Math.round(w)}` }),
        h('td', { class: 'num', text: `${Math.round(p)}` }),
        h('td', { class: 'num', text: `${Math.round(i)}` }),
        h('td', { class: 'barcell' }, inBar),
        h('td', { class: 'num', text: fmtRate(st.recordsOutPerSecond) }),
        h('td', { class: 'num', text: fmtPct(st.inputQueueUsage) }),
        h('td', { class: 'num', text: fmtMs(st.watermarkLagMs) }),
        h('td', { class: 'num', text: `${fmtNum(st.stateEntries)} / ${fmtBytes(st.stateBytes)}` }),
        h('td', { class: 'num', text: fmtNum(st.pendingTimers) }),
        h('td', { class: 'num', text: `${fmtNum(st.lateRecords)} / ${fmtNum(st.skippedRecords)} / ${fmtNum(st.deadLetteredRecords)}` }))
    })
    const head = ['subtask', 'worker', 'busy · wait · bp · idle', 'busy', 'wait', 'bp', 'idle', 'in', 'out', 'queue', 'wm lag', 'state', 'timers', 'late/skip/DL']
    replaceChildren(this.subtasks, h('table', { class: 'tbl', testid: 'subtask-table' },
      h('thead', null, h('tr', null, head.map((t) => h('th', { text: t })))),
      h('tbody', null, rows)))
  }

  renderHotKeys(o) {
    const keys = o.hotKeys
    if (!keys || keys.length === 0) {
      replaceChildren(this.hotKeys, h('div', { class: 'empty', testid: 'hot-keys-empty', text: keys === null || keys === undefined ? 'Not a keyed operator.' : 'No key stands out: none is certainly among the heaviest.' }))
      return
    }
    replaceChildren(this.hotKeys, h('table', { class: 'tbl', testid: 'hot-keys' },
      h('thead', null, h('tr', null, h('th', { text: 'key' }), h('th', { text: 'count' }), h('th', { text: 'share' }))),
      h('tbody', null, keys.slice(0, 10).map((k) => h('tr', null,
        h('td', { class: 'key', title: k.key, text: k.key }),
        h('td', { class: 'num', text: fmtNum(k.count) }),
        h('td', { class: 'barcell' }, h('div', { class: 'ratebar share' }, h('i', { style: { width: `${Math.min(100, k.share * 100)}%` } }), h('span', { text: fmtPct(k.share) }))))))))
  }
}

/** One finding as a card (used by the diagnosis panel). */
function findingCard(f, onOperator) {
  const evidence = Object.entries(f.evidence ?? {})
  return h('article', { class: `finding sev-${f.severity} kind-${f.kind}`, testid: 'finding', dataset: { kind: f.kind, severity: f.severity } },
    h('div', { class: 'finding-head' },
      h('span', { class: `sev sev-${f.severity}`, text: f.severity }),
      h('span', { class: 'finding-kind', text: f.kind }),
      f.operator ? h('button', { type: 'button', class: 'linkish', title: 'show this operator', text: f.operator, onclick: () => onOperator(f.operator) }) : null),
    h('div', { class: 'finding-title', testid: 'finding-title' }, richText(f.title)),
    evidence.length ? h('dl', { class: 'evidence', testid: 'finding-evidence' }, evidence.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: typeof v === 'number' ? fmtNum(v) : String(v) })])) : null,
    f.recommendation ? h('div', { class: 'recommendation', testid: 'finding-recommendation' }, h('span', { class: 'arrow', text: '→ ' }), richText(f.recommendation)) : null,
    f.action ? h('div', { class: 'action', text: f.action.kind === 'set-parallelism' ? `suggested: parallelism of ${f.action.operator} → ${f.action.parallelism}` : `suggested: two-phase aggregation for ${f.action.operator}` }) : null)
}

export function renderFindings(host, findings, onOperator) {
  if (!findings.length) {
    replaceChildren(host, h('div', { class: 'empty', testid: 'findings-empty', text: 'No findings.' }))
    return
  }
  replaceChildren(host, findings.map((f) => findingCard(f, onOperator)))
}

export function renderAlerts(host, objectives, alerts) {
  const firing = alerts.filter((a) => a.state === 'firing')
  const resolved = alerts.filter((a) => a.state !== 'firing')
  const rows = []
  for (const a of [...firing, ...resolved]) {
    rows.push(h('div', { class: `alert st-${a.state}`, testid: 'alert', dataset: { state: a.state, objective: a.objective } },
      h('div', { class: 'alert-head' },
        h('span', { class: `sev ${a.state === 'firing' ? 'sev-critical' : 'sev-resolved'}`, text: a.state }),
        h('b', { text: a.objective }),
        h('span', { class: 'muted', text: ` since ${fmtClock(a.since)}` })),
      h('div', { class: 'alert-msg', text: a.message }),
      h('div', { class: 'muted', text: `value ${a.value === null ? DASH : fmtNum(a.value)} · threshold ${fmtNum(a.threshold)}` })))
  }
  const firingNames = new Set(firing.map((a) => a.objective))
  const objs = objectives.length
    ? h('table', { class: 'tbl objectives', testid: 'objectives' },
      h('thead', null, h('tr', null, ['objective', 'rule', 'state'].map((t) => h('th', { text: t })))),
      h('tbody', null, objectives.map((o) => h('tr', { dataset: { firing: String(firingNames.has(o.name)) } },
        h('td', { text: o.name }),
        h('td', { text: `${o.metric} ${o.op} ${fmtNum(o.threshold)} for ${fmtDuration(o.forSeconds * 1000)}` }),
        h('td', { class: firingNames.has(o.name) ? 'bad' : 'ok', text: firingNames.has(o.name) ? 'firing' : 'ok' })))))
    : h('div', { class: 'empty small', text: 'No objectives configured.' })
  replaceChildren(host, rows.length ? rows : h('div', { class: 'empty', testid: 'alerts-empty', text: 'No alerts firing.' }), objs)
}

/** An exception entry's kind: 'error' (also for servers that do not send one), 'restart' or 'restore'. */
export const exceptionKind = (e) => (e.kind === 'restart' || e.kind === 'restore' ? e.kind : 'error')

export function renderExceptions(host, exceptions) {
  if (!exceptions.length) {
    replaceChildren(host, h('div', { class: 'empty', testid: 'exceptions-empty', text: 'No exceptions.' }))
    return
  }
  const list = [...exceptions].sort((a, b) => b.time - a.time).slice(0, 100)
  replaceChildren(host, h('div', { class: 'exceptions' }, list.map((e) => {
    const where = e.operator === null ? 'job' : e.subtask === null ? e.operator : `${e.operator} #${e.subtask}`
    const [first, ...rest] = String(e.message).split('\n')
    const kind = exceptionKind(e)
    return h('div', { class: `exception kind-${kind}`, testid: 'exception', dataset: { kind } },
      h('div', { class: 'exception-head' },
        h('span', { class: 'muted', text: fmtClock(e.time) }),
        h('span', { class: `ev ev-${kind}`, testid: 'exception-kind', text: kind }),
        h('b', { text: where })),
      rest.length
        ? h('details', null, h('summary', { class: 'exception-msg', text: first }), h('pre', { text: rest.join('\n') }))
        : h('div', { class: 'exception-msg', text: first }))
  })))
}

export function renderWorkers(host, workers) {
  if (!workers || workers.length === 0) {
    replaceChildren(host, h('div', { class: 'empty', text: 'No thread metrics.' }))
    return
  }
  replaceChildren(host, h('table', { class: 'tbl', testid: 'workers' },
    h('thead', null, h('tr', null, ['thread', 'CPU', 'loop delay p99', 'max', 'GC', 'heap'].map((t) => h('th', { text: t })))),
    h('tbody', null, workers.map((w) => {
      const share = w.heapLimitBytes > 0 ? w.heapUsedBytes / w.heapLimitBytes : 0
      return h('tr', { testid: `worker-${w.worker}` },
        h('td', { text: w.worker === -1 ? 'main' : `worker ${w.worker}` }),
        h('td', { class: 'num', title: 'the thread\'s own CPU time, last second', text: msps(w.cpuMsPerSecond) }),
        h('td', { class: 'num', text: fmtMs(w.eventLoopDelayP99Ms) }),
        h('td', { class: 'num', text: fmtMs(w.eventLoopDelayMaxMs) }),
        h('td', { class: 'num', text: msps(w.gcPauseMsPerSecond) }),
        h('td', { class: 'barcell', title: `${fmtBytes(w.heapUsedBytes)} of ${fmtBytes(w.heapLimitBytes)}` },
          h('div', { class: `ratebar heap${share > 0.8 ? ' hot' : ''}` }, h('i', { style: { width: `${Math.min(100, share * 100)}%` } }), h('span', { text: fmtBytes(w.heapUsedBytes) }))))
    }))))
}

// ---------- checkpoints ----------

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
