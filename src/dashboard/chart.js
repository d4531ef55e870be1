// A small SVG line chart: several series over time, y from 0 (or a fixed range), gaps for null,
// a hover readout in the legend. Redrawn whole on each update (at most a few hundred points).
import { h, s, setText, fmtClock } from './util.js'

const PAD_L = 46
const PAD_R = 8
const PAD_T = 8
const PAD_B = 18

/** A round upper bound for an axis: 1, 2, 2.5, 5 × 10^n. */
export function niceMax(v) {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

export class LineChart {
  /**
   * @param {{ title: string, testid: string, series: {key: string, name: string, color: string}[],
   *           format: (v: number|null) => string, axisFormat?: (v: number) => string, yMax?: number, height?: number }} o
   */
  constructor(o) {
    this.o = o
    this.height = o.height ?? 104
    this.points = []
    this.windowMs = 300_000
    this.hover = null
    this.legendVals = new Map()
    const legend = h('div', { class: 'chart-legend' })
    for (const sr of o.series) {
      const val = h('span', { class: 'lv' })
      this.legendVals.set(sr.key, val)
      legend.append(h('span', { class: 'li' }, h('i', { class: 'sw', style: { background: sr.color } }), `${sr.name} `, val))
    }
    this.svg = s('svg', { class: 'chart-svg', height: String(this.height) })
    this.el = h('div', { class: 'chart', testid: o.testid }, h('div', { class: 'chart-head' }, h('span', { class: 'chart-title', text: o.title }), legend), this.svg)
    this.svg.addEventListener('mousemove', (e) => {
      const rect = this.svg.getBoundingClientRect()
      this.hover = e.clientX - rect.left
      this.draw()
    })
    this.svg.addEventListener('mouseleave', () => { this.hover = null; this.draw() })
    if (typeof ResizeObserver !== 'undefined') {
      let lastW = 0
      new ResizeObserver(() => {
        const w = this.svg.clientWidth
        if (w !== lastW) { lastW = w; this.draw() }
      }).observe(this.svg)
    }
  }

  /** @param {{t: number, v: (number|null)[]}[]} points in time order */
  setData(points, windowMs = 300_000) {
    this.points = points
    this.windowMs = windowMs
    this.draw()
  }

  draw() {
    const { series, format } = this.o
    const W = Math.max(120, this.svg.clientWidth || 320)
    const H = this.height
    const pts = this.points
    const tMax = pts.length ? pts[pts.length - 1].t : Date.now()
    const tMin = tMax - this.windowMs
    let yMax = this.o.yMax ?? 0
    if (this.o.yMax === undefined) {
      for (const p of pts) for (const v of p.v) if (v !== null && v !== undefined && v > yMax) yMax = v
      yMax = niceMax(yMax)
    }
    const iw = W - PAD_L - PAD_R
    const ih = H - PAD_T - PAD_B
    const X = (t) => PAD_L + ((t - tMin) / (tMax - tMin || 1)) * iw
    const Y = (v) => PAD_T + ih - (Math.min(v, yMax) / yMax) * ih

    const kids = []
    for (const f of [0, 0.5, 1]) {
      const y = PAD_T + ih - f * ih
      kids.push(s('line', { class: 'grid', x1: String(PAD_L), x2: String(W - PAD_R), y1: String(y), y2: String(y) }))
      kids.push(s('text', { class: 'axis', x: String(PAD_L - 4), y: String(y + 3.5), 'text-anchor': 'end', text: (this.o.axisFormat ?? format)(f * yMax) }))
    }
    kids.push(s('text', { class: 'axis', x: String(PAD_L), y: String(H - 4), text: `−${Math.round(this.windowMs / 60_000) || 1} min` }))
    kids.push(s('text', { class: 'axis', x: String(W - PAD_R), y: String(H - 4), 'text-anchor': 'end', text: pts.length ? fmtClock(tMax) : 'no data yet' }))

    let maxCount = 0
    series.forEach((sr, k) => {
      let d = ''
      let pen = false
      let count = 0
      for (const p of pts) {
        const v = p.v[k]
        if (p.t < tMin || v === null || v === undefined || Number.isNaN(v)) { pen = false; continue }
        d += `${pen ? 'L' : 'M'}${X(p.t).toFixed(1)},${Y(v).toFixed(1)}`
        pen = true
        count++
      }
      // A lone point has no segment: draw it as a dot so it is visible.
      if (count === 1) d += 'h0.01'
      maxCount = Math.max(maxCount, count)
      kids.push(s('path', { class: 'series', d: d || 'M0,0', stroke: sr.color, testid: `series-${sr.key}`, 'data-points': String(count), visibility: d ? 'visible' : 'hidden' }))
    })

    // Hover readout (or the latest values).
    let at = pts.length ? pts[pts.length - 1] : null
    if (this.hover !== null && pts.length) {
      const t = tMin + ((this.hover - PAD_L) / iw) * (tMax - tMin)
      let best = pts[0]
      for (const p of pts) if (Math.abs(p.t - t) < Math.abs(best.t - t)) best = p
      at = best
      const x = X(best.t)
      kids.push(s('line', { class: 'cursor', x1: String(x), x2: String(x), y1: String(PAD_T), y2: String(PAD_T + ih) }))
      kids.push(s('text', { class: 'axis cursor-t', x: String(clampX(x, PAD_L + 20, W - PAD_R - 20)), y: String(H - 4), 'text-anchor': 'middle', text: fmtClock(best.t) }))
    }
    series.forEach((sr, k) => setText(this.legendVals.get(sr.key), at ? format(at.v[k] ?? null) : '—'))
    this.svg.replaceChildren(...kids)
    this.svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
    this.el.dataset.points = String(maxCount)
  }
}

function clampX(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v
}
