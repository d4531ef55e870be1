// The sources panel: per broker source its lag (records behind the end, all partitions), how fast
// the lag changes, a trend of the last minutes and a row per partition (position, lag, lag/s); and
// per connector subtask its connection state with the last error. All text through textContent
// (partition names and errors come from connectors).
import { h, s, replaceChildren, fmtNum, fmtDuration, DASH } from './util.js'

const TREND_W = 220
const TREND_H = 36

/** "+1.2k/s" (falling behind), "-300/s" (catching up), "0/s"; "—" when not measured yet. */
export function fmtLagRate(v) {
  if (v === null || v === undefined) return DASH
  return `${v > 0 ? '+' : ''}${fmtNum(v)}/s`
}

/** Masks a password in any URI in a text, like the server does (in case an older server did not). */
function masked(text) {
  return String(text).replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):[^\s@/?#]*@/gi, '$1:***@')
}

/**
 * Fills the panel; returns false (the panel is then hidden) when the job has neither a source that
 * reports partitions nor a connector with a server.
 * `samples`: the history (Sample[], oldest first), whose `sources` give the trend.
 */
export function renderSources(host, view, samples) {
  const sources = view.sources ?? []
  const connections = view.connections ?? []
  if (sources.length === 0 && connections.length === 0) {
    replaceChildren(host)
    return false
  }
  const now = view.t ?? Date.now()
  // Redrawn every snapshot: keep where the reader scrolled each partition table to.
  const scrolled = new Map([...host.querySelectorAll('[data-testid="source"]')].map((el) => [el.dataset.source, el.querySelector('.partition-table')?.scrollTop ?? 0]))
  replaceChildren(host,
    sources.map((src) => sourceBlock(src, samples)),
    connections.length === 0 ? null : connectionTable(connections, now))
  for (const el of host.querySelectorAll('[data-testid="source"]')) {
    const top = scrolled.get(el.dataset.source)
    const table = el.querySelector('.partition-table')
    if (top && table) table.scrollTop = top
  }
  return true
}

function sourceBlock(src, samples) {
  const kv = (key, label, value, { title = null, warn = false } = {}) =>
    h('div', { class: `kv${warn ? ' warn' : ''}`, title, testid: `source-${key}` }, h('span', { class: 'k', text: label }), h('span', { class: 'v', text: value }))
  const growing = (src.lagPerSecond ?? 0) > 0
  const worst = src.worst
  const head = h('div', { class: 'source-head' },
    h('span', { class: 'source-id', text: src.source }),
    h('span', { class: 'detail-sub', text: `${src.kind} · ${src.partitionCount} partition${src.partitionCount === 1 ? '' : 's'}` }))
  const summary = h('div', { class: 'kpi-grid' },
    kv('lag', 'lag', src.lag === null ? DASH : `${fmtNum(src.lag)} records`, { title: 'records behind the end, summed over the partitions' }),
    kv('lag-rate', 'lag growth', fmtLagRate(src.lagPerSecond), { warn: growing, title: `change of the lag over the last ${src.windowSeconds} s: + falling behind, - catching up` }),
    kv('worst', 'farthest behind', worst === null ? DASH : `${worst.partition} (${fmtNum(worst.lag)})`),
    h('div', { class: 'kv wide', testid: 'source-trend' }, h('span', { class: 'k', text: 'lag, last minutes' }), trend(src.source, samples)))
  const max = Math.max(1, ...src.partitions.map((p) => p.lag ?? 0))
  const rows = src.partitions.map((p) => h('tr', { testid: 'partition-row', dataset: { partition: p.partition } },
    h('td', { class: 'key', title: p.partition, text: p.partition }),
    h('td', { class: 'num', text: String(p.subtask) }),
    h('td', { class: 'key', title: p.position, text: p.position }),
    h('td', { class: 'barcell' }, h('div', { class: 'ratebar share' }, h('i', { style: { width: `${((p.lag ?? 0) / max) * 100}%` } }), h('span', { testid: 'partition-lag', text: p.lag === null ? DASH : fmtNum(p.lag) }))),
    h('td', { class: `num${(p.lagPerSecond ?? 0) > 0 ? ' bad' : ''}`, testid: 'partition-lag-rate', text: `${arrow(p.lagPerSecond)} ${fmtLagRate(p.lagPerSecond)}` })))
  const more = src.partitionCount > src.partitions.length ? h('div', { class: 'empty small', text: `${src.partitionCount - src.partitions.length} more partitions not listed` }) : null
  return h('div', { class: 'source', testid: 'source', dataset: { source: src.source } }, head, summary,
    h('div', { class: 'partition-table' }, h('table', { class: 'tbl', testid: 'partitions' },
      h('thead', null, h('tr', null, ['partition', 'subtask', 'position', 'lag', 'lag/s'].map((t) => h('th', { text: t })))),
      h('tbody', null, rows))), more)
}

const arrow = (v) => (v === null || v === undefined || v === 0 ? '–' : v > 0 ? '▲' : '▼')

/** A small line of the source's total lag over the samples that have it. */
function trend(id, samples) {
  const pts = (samples ?? []).flatMap((x) => {
    const lag = x.sources?.[id]?.lag
    return typeof lag === 'number' ? [{ t: x.t, lag }] : []
  })
  if (pts.length < 2) return h('span', { class: 'v', text: DASH })
  const t0 = pts[0].t
  const span = Math.max(1, pts[pts.length - 1].t - t0)
  const top = Math.max(1, ...pts.map((p) => p.lag))
  const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${(((p.t - t0) / span) * TREND_W).toFixed(1)},${(TREND_H - 2 - (p.lag / top) * (TREND_H - 4)).toFixed(1)}`).join(' ')
  return s('svg', { class: 'lag-trend', viewBox: `0 0 ${TREND_W} ${TREND_H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `lag of ${id}, up to ${fmtNum(top)} records` },
    s('title', { text: `lag from ${fmtNum(pts[0].lag)} to ${fmtNum(pts[pts.length - 1].lag)} records (max ${fmtNum(top)})` }),
    s('path', { d, fill: 'none', stroke: '#b86f12', 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }))
}

function connectionTable(connections, now) {
  const rows = connections.map((c) => h('tr', { testid: 'connection-row', dataset: { connector: c.connector, subtask: c.subtask, state: c.state } },
    h('td', { class: 'key', text: c.connector }),
    h('td', { text: `${c.role} (${c.kind})` }),
    h('td', { class: 'num', text: String(c.subtask) }),
    h('td', { class: c.state === 'connected' ? 'ok' : 'bad', testid: 'connection-state', text: c.state }),
    h('td', { class: 'num', title: new Date(c.since).toISOString(), text: fmtDuration(now - c.since) }),
    h('td', { class: 'failure', testid: 'connection-error', title: c.lastError === null ? null : masked(c.lastError), text: c.lastError === null ? '' : masked(c.lastError) })))
  return h('div', { class: 'connections' },
    h('h3', { text: 'Connections' }),
    h('table', { class: 'tbl', testid: 'connections' },
      h('thead', null, h('tr', null, ['connector', 'role', 'subtask', 'state', 'for', 'last error'].map((t) => h('th', { text: t })))),
      h('tbody', null, rows)))
}
