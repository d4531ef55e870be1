// The operator detail panel (KPIs, charts, subtasks, hot keys), and the job's own charts when no
// operator is selected. All text goes through textContent (operator ids and keys are user data).
import { h, setText, replaceChildren, fmtNum, fmtRate, fmtMs, fmtBytes, fmtPct, fmtInstant, msps, DASH } from './util.js'
import { LineChart } from './chart.js'
import { stateColours, subtaskState } from './graph.js'
import { CallsBlock, sampleCalls } from './calls.js'
/** Below this many samples the server reports no hot key (HOT_KEY_MIN_SAMPLES in metrics/top-k.ts). */
const HOT_KEY_MIN_SAMPLES = 100

const C = {
  in: '#2f6fdf', out: '#169a68',
  p50: '#79a6ef', p90: '#e39a1f', p99: '#d23f35',
  busy: '#d23f35', wait: '#e3a21a', bp: '#2b2f36', idle: '#5b8def',
  queue: '#8a55cf', lag: '#b86f12',
}

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
    calls: sampleCalls(o.calls),
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
    this.calls = new CallsBlock()
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
      this.calls.el,
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
    this.calls.update(o, samples, windowMs)
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
      ['waiting', msps(o.waitingMsPerSecond), 'awaiting a sink write, a source read or, with every slot taken, an asynchronous operator\'s calls (I/O); the thread is free meanwhile'],
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
    const n = o.hotKeysSampled
    const sample = typeof n === 'number' ? h('div', { class: 'muted', testid: 'hot-keys-sample', text: `from ${fmtNum(n)} sampled record${n === 1 ? '' : 's'} (every 64th through the keyBy)` }) : null
    if (!keys || keys.length === 0) {
      const why = keys === null || keys === undefined ? 'Not a keyed operator.'
        : typeof n === 'number' && n < HOT_KEY_MIN_SAMPLES ? `Too few samples yet to tell a hot key (${fmtNum(n)} of the ${HOT_KEY_MIN_SAMPLES} needed).`
          : 'No key stands out: none is certainly above the share every key would have if all were equally frequent.'
      replaceChildren(this.hotKeys, h('div', { class: 'empty', testid: 'hot-keys-empty', text: why }), keys ? sample : null)
      return
    }
    replaceChildren(this.hotKeys, h('table', { class: 'tbl', testid: 'hot-keys' },
      h('thead', null, h('tr', null, h('th', { text: 'key' }), h('th', { text: 'count' }), h('th', { text: 'share' }))),
      h('tbody', null, keys.slice(0, 10).map((k) => h('tr', null,
        h('td', { class: 'key', title: k.key, text: k.key }),
        h('td', { class: 'num', text: fmtNum(k.count) }),
        h('td', { class: 'barcell' }, h('div', { class: 'ratebar share' }, h('i', { style: { width: `${Math.min(100, k.share * 100)}%` } }), h('span', { text: fmtPct(k.share) }))))))), sample)
  }
}
