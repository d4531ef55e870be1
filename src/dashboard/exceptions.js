// The exceptions panel: failures, restarts and restores, newest first.
import { h, replaceChildren, fmtClock } from './util.js'

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
