// The calls block of the operator detail, for asynchronous operators (mapAsync, mapAsyncBatch,
// lookupJoin): calls per second, slots in flight, how often every slot was taken, call latency,
// timeouts, retries and failures, the lookup cache; and two charts from the samples' `calls`.
// Hidden for an operator that makes no calls (OperatorView.calls null or absent).
import { h, setText, replaceChildren, fmtNum, fmtRate, fmtMs, fmtPct, DASH } from './util.js'
import { LineChart } from './chart.js'

/** Share of the time every slot is in use from which the block warns (the diagnosis' threshold). */
const FULL_WARN = 0.8

const CHARTS = [
  { key: 'call-latency', title: 'Call latency', format: fmtMs, series: [
    { key: 'p50', name: 'p50', color: '#79a6ef', get: (c) => c.latencyP50Ms },
    { key: 'p99', name: 'p99', color: '#d23f35', get: (c) => c.latencyP99Ms }] },
  { key: 'calls-in-flight', title: 'Calls in flight', format: (v) => fmtNum(v), series: [
    { key: 'inFlight', name: 'in flight', color: '#e3a21a', get: (c) => c.inFlight },
    { key: 'capacity', name: 'slots', color: '#2b2f36', get: (c) => c.capacity }] },
]

/** A Sample-style `calls` entry from a live CallsView (to append snapshots to history), or undefined. */
export function sampleCalls(c) {
  if (!c) return undefined
  return {
    callsPerSecond: c.callsPerSecond, inFlight: c.inFlight, capacity: c.capacity, fullRatio: c.fullRatio,
    latencyP50Ms: c.latency?.p50 ?? null, latencyP99Ms: c.latency?.p99 ?? null,
    timeoutsPerSecond: c.timeoutsPerSecond, failuresPerSecond: c.failuresPerSecond,
  }
}

export class CallsBlock {
  constructor() {
    this.kpis = h('div', { class: 'kpi-grid', testid: 'calls-kpis' })
    this.charts = CHARTS.map((c) => ({ def: c, chart: new LineChart({ title: c.title, testid: `chart-${c.key}`, series: c.series, format: c.format }) }))
    this.el = h('div', { class: 'calls', testid: 'detail-calls', hidden: true },
      h('h3', { text: 'Calls' }), this.kpis,
      h('div', { class: 'charts' }, this.charts.map((c) => c.chart.el)))
  }

  /** @param {object} o OperatorView @param {{t: number, operators: Record<string, object>}[]} samples */
  update(o, samples, windowMs) {
    const c = o?.calls
    this.el.hidden = !c
    if (!c) return
    this.renderKpis(c)
    for (const { def, chart } of this.charts) {
      const pts = []
      for (const sm of samples) {
        const sc = sm.operators?.[o.id]?.calls
        if (sc) pts.push({ t: sm.t, v: def.series.map((sr) => sr.get(sc) ?? null) })
      }
      chart.setData(pts, windowMs)
    }
  }

  renderKpis(c) {
    const lat = c.latency
    const batch = c.maxBatch > 1 ? ` · ${fmtNum(c.maxBatch)} per call` : ''
    const items = [
      ['calls', fmtRate(c.callsPerSecond), `calls started per second (retries included)${c.maxBatch > 1 ? '; a batch is one call' : ''}`],
      ['records via calls', fmtRate(c.recordsPerSecond), 'records those calls carried, per second'],
      ['in flight', `${fmtNum(c.inFlight)} of ${fmtNum(c.capacity)}`, `calls in flight now, of the slots (concurrency ${c.concurrency} per subtask${batch})`],
      ['full', fmtPct(c.fullRatio), 'share of the last second every slot was in use (the fullest subtask): near 100% the service limits the job'],
      ['held', fmtNum(c.held), 'records taken in and not yet out: in calls, waiting for a slot or a batch, or done and waiting for their turn'],
      ['latency p50/p99', lat ? `${fmtMs(lat.p50)} · ${fmtMs(lat.p99)}` : DASH, 'call latency, last 10 s'],
      ['timeouts', fmtRate(c.timeoutsPerSecond), `calls aborted by timeoutMs (${fmtNum(c.timeouts)} since start)`],
      ['retries', fmtRate(c.retriesPerSecond), `calls started again (${fmtNum(c.retries)} since start)`],
      ['failures', fmtRate(c.failuresPerSecond), `records whose call failed for good, handed to onError (${fmtNum(c.failures)} since start)`],
    ]
    if (c.cacheHitRatio !== null && c.cacheHitRatio !== undefined) {
      items.push(['cache hits', fmtPct(c.cacheHitRatio), `lookups the cache answered, last 10 s (${fmtNum(c.cacheEntries)} entries)`])
    }
    if (this.kpis.childElementCount !== items.length) {
      replaceChildren(this.kpis, items.map(([k]) => h('div', { class: k.includes('/') ? 'kv wide' : 'kv', testid: `calls-${k.replace(/[^a-z0-9]+/g, '-')}` }, h('span', { class: 'k', text: k }), h('span', { class: 'v' }))))
    }
    items.forEach(([k, v, title], i) => {
      const el = this.kpis.children[i]
      el.title = title
      setText(el.lastChild, v)
      const warn = (k === 'full' && c.fullRatio >= FULL_WARN) || (k === 'timeouts' && c.timeoutsPerSecond > 0) || (k === 'failures' && c.failuresPerSecond > 0)
      el.classList.toggle('warn', warn)
    })
  }
}
