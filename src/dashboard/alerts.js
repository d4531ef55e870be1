// The alerts panel: firing alerts first, then resolved ones, and the objectives they come from.
import { h, replaceChildren, fmtNum, fmtClock, fmtDuration, DASH } from './util.js'

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
