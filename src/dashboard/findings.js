// The diagnosis panel: one card per finding. All text goes through textContent or richText.
import { h, replaceChildren, richText, fmtNum } from './util.js'

/** One finding as a card (used by the diagnosis panel). */
function findingCard(f, onOperator) {
  // Labels and units from the server (evidenceText); a server before them sends only raw keys.
  const evidence = f.evidenceText ?? Object.entries(f.evidence ?? {}).map(([key, v]) => ({ key, label: key, text: typeof v === 'number' ? fmtNum(v) : String(v) }))
  return h('article', { class: `finding sev-${f.severity} kind-${f.kind}`, testid: 'finding', dataset: { kind: f.kind, severity: f.severity } },
    h('div', { class: 'finding-head' },
      h('span', { class: `sev sev-${f.severity}`, text: f.severity }),
      h('span', { class: 'finding-kind', text: f.kind }),
      f.operator ? h('button', { type: 'button', class: 'linkish', title: 'show this operator', text: f.operator, onclick: () => onOperator(f.operator) }) : null),
    h('div', { class: 'finding-title', testid: 'finding-title' }, richText(f.title)),
    evidence.length ? h('dl', { class: 'evidence', testid: 'finding-evidence' }, evidence.map((e) => [h('dt', { text: e.label, title: e.key }), h('dd', { text: e.text })])) : null,
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
