// The job graph as SVG: built once per graph shape, then only attributes and texts change each
// second. Scrolls (overflow) and zooms (buttons, Ctrl+wheel), drag to pan.
import { layoutGraph, routePath, NODE_W, NODE_H, GAP_X, MARGIN } from './layout.js'
import { h, s, setText, fmtRate, clamp } from './util.js'

const MIN_SCALE = 0.02
/** Below this scale an automatic layout is cut into rows rather than fitted (its text would not read). */
const MIN_FIT_SCALE = 0.4
const MAX_SCALE = 2

/** Fill and text colour of a node or subtask, Flink style: busy red, backpressured black, idle blue; plus waiting (on I/O) amber. */
export function stateColours(state, m) {
  const busy = clamp((m?.busyMsPerSecond ?? 0) / 1000, 0, 1)
  const bp = clamp((m?.backpressuredMsPerSecond ?? 0) / 1000, 0, 1)
  if (state === 'busy') {
    // light salmon at 0 → deep red at 1000 ms/s
    const l = 88 - busy * 46
    return { fill: `hsl(4 ${Math.round(62 + busy * 20)}% ${Math.round(l)}%)`, text: l < 58 ? '#fff' : '#2a0e0b', stroke: 'hsl(4 70% 34%)' }
  }
  if (state === 'waiting') {
    const wait = clamp((m?.waitingMsPerSecond ?? 0) / 1000, 0, 1)
    const l = 84 - wait * 30
    return { fill: `hsl(40 ${Math.round(80 + wait * 15)}% ${Math.round(l)}%)`, text: '#3a2600', stroke: 'hsl(36 80% 34%)' }
  }
  if (state === 'backpressured') {
    const l = 40 - bp * 32
    return { fill: `hsl(220 6% ${Math.round(l)}%)`, text: '#fff', stroke: '#000' }
  }
  if (state === 'idle') return { fill: 'hsl(214 80% 80%)', text: '#0c2344', stroke: 'hsl(214 55% 42%)' }
  return { fill: '#e3e5e8', text: '#444', stroke: '#9aa0a6' }
}

/** The dominant state of a subtask's metrics (the server gives it only per operator). */
export function subtaskState(m) {
  const b = m.busyMsPerSecond ?? 0
  const w = m.waitingMsPerSecond ?? 0
  const p = m.backpressuredMsPerSecond ?? 0
  const i = m.idleMsPerSecond ?? 0
  if (p >= b && p >= w && p >= i && p > 0) return 'backpressured'
  if (w > b && w >= i) return 'waiting'
  if (b >= i && b > 0) return 'busy'
  return 'idle'
}

function truncate(text, max) {
  const t = String(text)
  return t.length > max ? `${t.slice(0, max - 1)}…` : t
}

export class GraphView {
  /**
   * @param {HTMLElement} host
   * @param {{ onSelect: (id: string) => void }} opts
   */
  constructor(host, opts) {
    this.host = host
    this.onSelect = opts.onSelect
    this.shapeKey = ''
    this.scale = 1
    // Until the user zooms, the graph is fitted to the view on open and again when the window resizes.
    this.autoFit = true
    this.layout = null
    this.nodeEls = new Map()
    this.edgeEls = []
    this.selected = null

    this.viewport = h('div', { class: 'graph-viewport', testid: 'graph-viewport', tabindex: '0' })
    this.svg = s('svg', { class: 'graph-svg', testid: 'graph', role: 'img', 'aria-label': 'job graph' })
    this.defs = s('defs', null,
      s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' })))
    this.edgeLayer = s('g', { class: 'edges' })
    this.labelLayer = s('g', { class: 'edge-labels' })
    this.nodeLayer = s('g', { class: 'nodes' })
    this.svg.append(this.defs, this.edgeLayer, this.nodeLayer, this.labelLayer)
    this.viewport.append(this.svg)

    this.zoomLabel = h('span', { class: 'zoom-level', testid: 'zoom-level', text: '100%' })
    this.findInput = h('input', { class: 'find', type: 'search', placeholder: 'find operator…', list: 'op-ids', testid: 'graph-find', 'aria-label': 'find operator' })
    this.findList = h('datalist', { id: 'op-ids' })
    const find = (open) => {
      const id = this.findInput.value.trim()
      if (!this.nodeEls.has(id)) return
      this.focusNode(id)
      if (open) this.onSelect(id)
    }
    // Typing (or picking from the list) an exact id scrolls to it; Enter also opens it.
    this.findInput.addEventListener('input', () => find(false))
    this.findInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') find(true) })
    const btn = (text, title, testid, fn) => h('button', { type: 'button', class: 'tool', title, testid, text, onclick: fn })
    this.toolbar = h('div', { class: 'graph-tools' },
      this.findInput, this.findList,
      btn('−', 'zoom out', 'zoom-out', () => this.zoomBy(1 / 1.25)),
      this.zoomLabel,
      btn('+', 'zoom in', 'zoom-in', () => this.zoomBy(1.25)),
      btn('fit', 'fit the whole graph', 'zoom-fit', () => this.fit()),
      btn('1:1', 'actual size', 'zoom-reset', () => { this.autoFit = false; this.setScale(1) }),
      this.wrapBtn = btn('wrap', 'cut a long graph into rows (left to right in each)', 'layout-wrap', () => this.toggleWrap()))
    this.wrapPref = null // null: automatic (wrap long, flat graphs)
    this.legend = h('div', { class: 'graph-legend' },
      h('span', { class: 'lg lg-busy', text: 'busy' }),
      h('span', { class: 'lg lg-wait', text: 'waiting on I/O' }),
      h('span', { class: 'lg lg-bp', text: 'backpressured' }),
      h('span', { class: 'lg lg-idle', text: 'idle' }),
      h('span', { class: 'lg lg-chained', text: 'chained' }),
      h('span', { class: 'lg lg-exchange', text: 'exchange' }))
    host.append(this.toolbar, this.legend, this.viewport)
    this.installPanZoom()
  }

  installPanZoom() {
    const vp = this.viewport
    let drag = null
    vp.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || e.target.closest?.('.node')) return
      drag = { x: e.clientX, y: e.clientY, left: vp.scrollLeft, top: vp.scrollTop, id: e.pointerId }
      vp.setPointerCapture?.(e.pointerId)
      vp.classList.add('dragging')
    })
    vp.addEventListener('pointermove', (e) => {
      if (!drag) return
      vp.scrollLeft = drag.left - (e.clientX - drag.x)
      vp.scrollTop = drag.top - (e.clientY - drag.y)
    })
    const end = () => { drag = null; vp.classList.remove('dragging') }
    vp.addEventListener('pointerup', end)
    vp.addEventListener('pointercancel', end)
    vp.addEventListener('wheel', (e) => {
      if (!e.ctrlKey && !e.metaKey) return
      e.preventDefault()
      const rect = vp.getBoundingClientRect()
      this.zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - rect.left, e.clientY - rect.top)
    }, { passive: false })
    // Refit on resize, once per frame, while the user has not zoomed.
    let pending = false
    window.addEventListener('resize', () => {
      if (pending || !this.autoFit || !this.graph) return
      pending = true
      requestAnimationFrame(() => {
        pending = false
        if (!this.autoFit || !this.graph) return
        this.build()
        if (this.lastView) this.update(this.lastView)
      })
    })
  }

  /** Rebuilds the SVG when the graph's shape changed; returns true if it did. */
  setGraph(graph) {
    const key = JSON.stringify([graph.nodes.map((n) => [n.id, n.label, n.kind, n.parallelism]), graph.edges.map((e) => [e.from, e.to, e.partitioning, e.chained])])
    if (key === this.shapeKey) return false
    this.shapeKey = key
    this.graph = graph
    this.autoFit = true
    this.build()
    return true
  }

  toggleWrap() {
    if (!this.graph) return
    this.wrapPref = !(this.layout && this.layout.bands > 1)
    this.build()
    if (this.lastView) this.update(this.lastView)
  }

  /** Lays out and draws the current graph (wrapping as preferred, or automatically). */
  build() {
    const graph = this.graph
    const t0 = performance.now()
    const vw = Math.max(200, this.viewport.clientWidth - 4)
    let layout = layoutGraph(graph.nodes, graph.edges)
    // Automatic wrap: a graph many screens wide but only a row or two high (a long pipeline) reads
    // better cut into rows at a legible zoom than as one thin line.
    const readable = 0.7
    const cols = Math.max(2, Math.floor((vw / readable - 2 * MARGIN) / (NODE_W + GAP_X)))
    const wantWrap = this.wrapPref ?? (vw / layout.width < MIN_FIT_SCALE && layout.height * readable < 0.35 * window.innerHeight)
    if (wantWrap) layout = layoutGraph(graph.nodes, graph.edges, { wrapColumns: cols })
    this.layout = layout
    this.wrapBtn.setAttribute('aria-pressed', String(layout.bands > 1))
    this.wrapBtn.classList.toggle('on', layout.bands > 1)
    this.nodeEls.clear()
    this.edgeEls = []
    this.edgeLayer.replaceChildren()
    this.labelLayer.replaceChildren()
    this.nodeLayer.replaceChildren()
    this.findList.replaceChildren(...graph.nodes.map((n) => h('option', { value: n.id })))

    const routes = new Map(this.layout.edges.map((r) => [r.index, r]))
    graph.edges.forEach((e, i) => {
      const route = routes.get(i)
      if (!route) return
      const cls = `edge ${e.chained ? 'chained' : 'exchange'} p-${e.partitioning}`
      const path = s('path', { class: cls, d: routePath(route.points, route.back), 'marker-end': 'url(#arrow)', testid: `edge-${e.from}-${e.to}`, dataset: { partitioning: e.partitioning, chained: String(e.chained) } })
      const [lx, ly] = route.label
      const label = s('text', { class: 'edge-label', x: String(lx), y: String(ly), 'text-anchor': 'middle', testid: `edge-label-${e.from}-${e.to}` })
      this.edgeLayer.append(path)
      this.labelLayer.append(label)
      this.edgeEls.push({ path, label, edge: e })
    })

    for (const n of graph.nodes) {
      const p = this.layout.nodes.get(n.id)
      const g = s('g', { class: `node kind-${n.kind}`, transform: `translate(${p.x},${p.y})`, testid: `node-${n.id}`, dataset: { id: n.id, state: 'unknown' }, tabindex: '0', role: 'button', 'aria-label': `operator ${n.id}` })
      const title = s('title', { text: `${n.id} (${n.label}), parallelism ${n.parallelism}` })
      const rect = s('rect', { class: 'node-box', width: String(NODE_W), height: String(NODE_H), rx: '6', ry: '6' })
      const idText = s('text', { class: 'node-id', x: '9', y: '17', text: truncate(n.id, 21) })
      const kind = n.kind === 'operator' ? null : s('text', { class: 'node-kind', x: String(NODE_W - 8), y: '16', 'text-anchor': 'end', text: n.kind === 'source' ? 'SRC' : 'SINK' })
      const sub = s('text', { class: 'node-sub', x: '9', y: '33', text: `${truncate(n.label, 18)} · p=${n.parallelism}` })
      const rate = s('text', { class: 'node-rate', x: '9', y: '50', testid: `node-rate-${n.id}` })
      const load = s('text', { class: 'node-load', x: String(NODE_W - 8), y: '50', 'text-anchor': 'end' })
      const strip = s('g', { class: 'subtask-strip', transform: `translate(6,${NODE_H - 10})` })
      const stripW = NODE_W - 12
      const cells = []
      const pn = Math.max(1, n.parallelism)
      for (let k = 0; k < pn; k++) {
        const w = stripW / pn
        const c = s('rect', { class: 'st', x: String(k * w + (pn > 1 ? 0.5 : 0)), y: '0', width: String(Math.max(0.5, w - (pn > 1 ? 1 : 0))), height: '5', rx: '1' })
        strip.append(c)
        cells.push(c)
      }
      g.append(title, rect, idText, ...(kind ? [kind] : []), sub, rate, load, strip)
      g.addEventListener('click', () => this.onSelect(n.id))
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.onSelect(n.id) } })
      this.nodeLayer.append(g)
      this.nodeEls.set(n.id, { g, rect, idText, kind, sub, rate, load, cells, node: n })
    }
    this.svg.setAttribute('viewBox', `0 0 ${this.layout.width} ${this.layout.height}`)
    this.svg.dataset.nodes = String(graph.nodes.length)
    // Start fitted: the whole width in view (a long pipeline was cut into rows above, so it stays
    // legible); a layout the user chose (wrap off) starts readable and scrolls. Size the viewport to the graph.
    const { width: W, height: H } = this.layout
    const maxH = Math.max(260, Math.round(window.innerHeight * (layout.bands > 1 ? 0.6 : 0.45)))
    const fitted = layout.bands > 1 ? Math.min(vw / W, 1) : Math.min(vw / W, (maxH - 20) / H, 1)
    this.setScale(this.wrapPref === false ? clamp(fitted, 0.55, 1) : fitted)
    const needH = H * this.scale + (W * this.scale > vw ? 20 : 6)
    this.viewport.style.height = `${Math.round(clamp(needH, 110, maxH))}px`
    this.viewport.scrollLeft = 0
    this.viewport.scrollTop = layout.bands > 1 ? 0 : Math.max(0, (H * this.scale - this.viewport.clientHeight) / 2)
    this.svg.dataset.bands = String(layout.bands)
    if (this.selected) this.select(this.selected)
    this.svg.dataset.buildMs = (performance.now() - t0).toFixed(1)
  }

  /** Applies a JobView's live values (operator states, rates) to the existing SVG. */
  update(view) {
    this.lastView = view
    const t0 = performance.now()
    const ops = new Map((view.operators ?? []).map((o) => [o.id, o]))
    for (const [id, el] of this.nodeEls) {
      const o = ops.get(id)
      const state = o?.state ?? 'unknown'
      const c = stateColours(state, o)
      el.rect.style.fill = c.fill
      el.rect.style.stroke = c.stroke
      el.g.style.color = c.text
      if (el.g.dataset.state !== state) el.g.dataset.state = state
      const isSource = el.node.kind === 'source'
      const r = o ? (isSource ? o.recordsOutPerSecond : o.recordsInPerSecond) : null
      setText(el.rate, `${isSource ? 'out' : 'in'} ${fmtRate(r)}`)
      el.g.dataset.rate = r === null ? '' : String(r)
      let load = ''
      if (o) {
        if (state === 'backpressured') load = `bp ${Math.round((o.backpressuredMsPerSecond ?? 0) / 10)}%`
        else if (state === 'busy') load = `busy ${Math.round((o.busyMsPerSecond ?? 0) / 10)}%`
        else if (state === 'waiting') load = `wait ${Math.round((o.waitingMsPerSecond ?? 0) / 10)}%`
        else load = `idle ${Math.round((o.idleMsPerSecond ?? 0) / 10)}%`
      }
      setText(el.load, load)
      const subs = o?.subtasks ?? []
      el.cells.forEach((cell, k) => {
        const m = subs.find((x) => x.subtask === k) ?? subs[k]
        const cs = m ? stateColours(subtaskState(m), m) : stateColours('unknown')
        cell.style.fill = cs.fill
        cell.style.stroke = cs.stroke
      })
    }
    const edges = view.graph?.edges ?? []
    this.edgeEls.forEach((el, i) => {
      const e = edges[i] && edges[i].from === el.edge.from && edges[i].to === el.edge.to ? edges[i] : el.edge
      const rate = e.recordsPerSecond
      const part = e.partitioning === 'forward' ? '' : `${e.partitioning} · `
      setText(el.label, `${part}${fmtRate(rate)}`)
      const w = 1.2 + Math.min(3.5, Math.log10(1 + Math.max(0, rate ?? 0)) / 1.6)
      el.path.style.strokeWidth = w.toFixed(2)
    })
    this.svg.dataset.updateMs = (performance.now() - t0).toFixed(1)
  }

  select(id) {
    this.selected = id
    for (const [nid, el] of this.nodeEls) el.g.classList.toggle('selected', nid === id)
  }

  fitScale() {
    if (!this.layout) return 1
    const vw = Math.max(50, this.viewport.clientWidth - 4)
    const vh = Math.max(50, this.viewport.clientHeight - 4)
    return clamp(Math.min(vw / this.layout.width, vh / this.layout.height), MIN_SCALE, MAX_SCALE)
  }

  fit() {
    this.autoFit = false
    this.setScale(this.fitScale())
  }

  zoomBy(f, ax, ay) {
    this.autoFit = false
    const vp = this.viewport
    const cx = ax ?? vp.clientWidth / 2
    const cy = ay ?? vp.clientHeight / 2
    const gx = (vp.scrollLeft + cx) / this.scale
    const gy = (vp.scrollTop + cy) / this.scale
    this.setScale(this.scale * f)
    vp.scrollLeft = gx * this.scale - cx
    vp.scrollTop = gy * this.scale - cy
  }

  setScale(v) {
    if (!this.layout) return
    this.scale = clamp(v, MIN_SCALE, MAX_SCALE)
    this.svg.setAttribute('width', String(Math.round(this.layout.width * this.scale)))
    this.svg.setAttribute('height', String(Math.round(this.layout.height * this.scale)))
    this.zoomLabel.textContent = `${Math.round(this.scale * 100)}%`
    this.svg.dataset.scale = this.scale.toFixed(3)
  }

  /** Scrolls so the node is in view (centred). */
  focusNode(id) {
    const p = this.layout?.nodes.get(id)
    if (!p) return
    const vp = this.viewport
    vp.scrollLeft = (p.x + p.w / 2) * this.scale - vp.clientWidth / 2
    vp.scrollTop = (p.y + p.h / 2) * this.scale - vp.clientHeight / 2
  }
}
