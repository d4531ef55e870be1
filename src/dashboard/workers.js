// The threads panel: CPU, event-loop delay, GC and heap of the main thread and each worker.
import { h, replaceChildren, fmtMs, fmtBytes, msps } from './util.js'

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
