// Layered left-to-right layout of a job graph (a DAG): layers by topological depth, dummy nodes
// for edges spanning several layers, barycenter ordering to reduce crossings, and a few passes
// that pull each node towards its neighbours to straighten edges. Pure: no DOM.

export const NODE_W = 184
export const NODE_H = 66
export const GAP_X = 104
const GAP_Y = 22
const DUMMY_H = 14
export const MARGIN = 24
const BAND_GAP = 44

/**
 * @param {{id: string}[]} nodes
 * @param {{from: string, to: string}[]} edges
 * @param {{ wrapColumns?: number }} [opts] cut the layers into bands of this many columns
 * @returns {{ width: number, height: number, nodes: Map<string, {x: number, y: number, w: number, h: number, layer: number}>,
 *             edges: {index: number, points: [number, number][], back: boolean}[] }}
 */
export function layoutGraph(nodes, edges, opts = {}) {
  const ids = nodes.map((n) => n.id)
  const index = new Map(ids.map((id, i) => [id, i]))
  const n = ids.length
  const succ = Array.from({ length: n }, () => [])
  const pred = Array.from({ length: n }, () => [])
  const valid = []
  edges.forEach((e, i) => {
    const a = index.get(e.from)
    const b = index.get(e.to)
    if (a === undefined || b === undefined || a === b) return
    succ[a].push(b)
    pred[b].push(a)
    valid.push({ i, a, b })
  })

  // Depth: longest path from the sources (Kahn's order). Nodes on a cycle (not expected in a
  // job graph) are placed after their known predecessors, and their back edges drawn as is.
  const depth = new Array(n).fill(0)
  const indeg = pred.map((p) => p.length)
  const queue = []
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue.push(v)
  const done = new Array(n).fill(false)
  for (let qi = 0; qi < queue.length; qi++) {
    const v = queue[qi]
    done[v] = true
    for (const w of succ[v]) {
      depth[w] = Math.max(depth[w], depth[v] + 1)
      if (--indeg[w] === 0) queue.push(w)
    }
  }
  for (let v = 0; v < n; v++) {
    if (done[v]) continue
    let d = 0
    for (const u of pred[v]) if (done[u]) d = Math.max(d, depth[u] + 1)
    depth[v] = d
    done[v] = true
  }
  // Sources sit just before their first consumer (a side input joins late, not at column 0).
  for (let v = 0; v < n; v++) {
    if (pred[v].length > 0 || succ[v].length === 0) continue
    let d = Infinity
    for (const w of succ[v]) d = Math.min(d, depth[w])
    if (d !== Infinity && d - 1 > depth[v]) depth[v] = d - 1
  }

  // Layer items: real nodes (index < n) and dummies (index >= n) for long edges.
  const layerOf = [...depth]
  const isDummy = []
  const itemPred = pred.map(() => [])
  const itemSucc = succ.map(() => [])
  for (let v = 0; v < n; v++) isDummy.push(false)
  const routes = []
  for (const { i, a, b } of valid) {
    if (depth[b] <= depth[a]) {
      routes.push({ index: i, items: [a, b], back: true })
      continue
    }
    const chain = [a]
    for (let d = depth[a] + 1; d < depth[b]; d++) {
      const id = layerOf.length
      layerOf.push(d)
      isDummy.push(true)
      itemPred.push([])
      itemSucc.push([])
      chain.push(id)
    }
    chain.push(b)
    for (let k = 0; k + 1 < chain.length; k++) {
      itemSucc[chain[k]].push(chain[k + 1])
      itemPred[chain[k + 1]].push(chain[k])
    }
    routes.push({ index: i, items: chain, back: false })
  }

  const layerCount = layerOf.reduce((m, d) => Math.max(m, d + 1), 0)
  let layers = Array.from({ length: layerCount }, () => [])
  // Initial order: graph order for real nodes, dummies after their origin.
  const seq = layerOf.map((_, i) => i)
  for (const it of seq) layers[layerOf[it]].push(it)

  const pos = new Array(layerOf.length).fill(0)
  const setPos = (ls) => { for (const l of ls) l.forEach((it, k) => { pos[it] = k }) }
  setPos(layers)

  const crossings = (ls) => {
    let c = 0
    for (let d = 0; d + 1 < ls.length; d++) {
      const es = []
      for (const it of ls[d]) for (const w of itemSucc[it]) if (layerOf[w] === d + 1) es.push([pos[it], pos[w]])
      for (let x = 0; x < es.length; x++) {
        for (let y = x + 1; y < es.length; y++) {
          if ((es[x][0] - es[y][0]) * (es[x][1] - es[y][1]) < 0) c++
        }
      }
    }
    return c
  }

  let best = layers.map((l) => [...l])
  let bestC = layerOf.length > 1 ? crossings(layers) : 0
  const sweep = (down) => {
    const order = down ? [...layers.keys()].slice(1) : [...layers.keys()].reverse().slice(1)
    for (const d of order) {
      const bary = new Map()
      for (const it of layers[d]) {
        const nb = (down ? itemPred[it] : itemSucc[it]).filter((w) => layerOf[w] === (down ? d - 1 : d + 1))
        bary.set(it, nb.length ? nb.reduce((sum, w) => sum + pos[w], 0) / nb.length : pos[it])
      }
      layers[d].sort((x, y) => bary.get(x) - bary.get(y) || pos[x] - pos[y])
      layers[d].forEach((it, k) => { pos[it] = k })
    }
  }
  if (bestC > 0) {
    for (let iter = 0; iter < 8 && bestC > 0; iter++) {
      sweep(iter % 2 === 0)
      const c = crossings(layers)
      if (c < bestC) {
        bestC = c
        best = layers.map((l) => [...l])
      }
    }
    layers = best
    setPos(layers)
  }

  // Vertical placement: stack each layer, then pull items towards their neighbours' centres.
  const hOf = (it) => (isDummy[it] ? DUMMY_H : NODE_H)
  const y = new Array(layerOf.length).fill(0)
  let maxH = 0
  const stackH = layers.map((l) => l.reduce((sum, it) => sum + hOf(it), 0) + Math.max(0, l.length - 1) * GAP_Y)
  for (const v of stackH) maxH = Math.max(maxH, v)
  layers.forEach((l, d) => {
    let cur = (maxH - stackH[d]) / 2
    for (const it of l) { y[it] = cur; cur += hOf(it) + GAP_Y }
  })
  const centre = (it) => y[it] + hOf(it) / 2
  const place = (d, neighbours) => {
    const l = layers[d]
    if (l.length === 0) return
    const want = l.map((it) => {
      const nb = neighbours(it)
      return nb.length ? nb.reduce((sum, w) => sum + centre(w), 0) / nb.length - hOf(it) / 2 : y[it]
    })
    // Keep the order and the gaps: forward pass pushes down, then shift to the mean offset.
    let cur = -Infinity
    const got = l.map((it, k) => {
      const v = Math.max(want[k], cur)
      cur = v + hOf(it) + GAP_Y
      return v
    })
    const shift = want.reduce((sum, w, k) => sum + (w - got[k]), 0) / l.length
    l.forEach((it, k) => { y[it] = got[k] + shift })
  }
  for (let iter = 0; iter < 4; iter++) {
    for (let d = 1; d < layers.length; d++) place(d, (it) => itemPred[it])
    for (let d = layers.length - 2; d >= 0; d--) place(d, (it) => itemSucc[it])
  }
  // Bands: with `wrapColumns`, a long graph is cut every `wrapColumns` layers and the pieces are
  // stacked top to bottom (still left to right inside each band); edges crossing into the next
  // band run below their band and back to its left side.
  const perBand = opts.wrapColumns && opts.wrapColumns > 0 && layerCount > opts.wrapColumns ? Math.floor(opts.wrapColumns) : Math.max(1, layerCount)
  const bandCount = Math.max(1, Math.ceil(layerCount / perBand))
  const bandOf = (it) => Math.floor(layerOf[it] / perBand)
  const bandMin = new Array(bandCount).fill(Infinity)
  const bandMax = new Array(bandCount).fill(-Infinity)
  for (let it = 0; it < layerOf.length; it++) {
    const b = bandOf(it)
    bandMin[b] = Math.min(bandMin[b], y[it])
    bandMax[b] = Math.max(bandMax[b], y[it] + hOf(it))
  }
  const bandTop = []
  let top = MARGIN
  for (let b = 0; b < bandCount; b++) {
    if (!Number.isFinite(bandMin[b])) { bandMin[b] = 0; bandMax[b] = 0 }
    bandTop.push(top)
    top += bandMax[b] - bandMin[b] + BAND_GAP
  }
  const wrapped = bandCount > 1
  const left = MARGIN + (wrapped ? GAP_X / 2 : 0)
  const xOf = (d) => left + (d % perBand) * (NODE_W + GAP_X)
  const yOf = (it) => bandTop[bandOf(it)] + y[it] - bandMin[bandOf(it)]
  const gapBelow = (it) => bandTop[bandOf(it)] + bandMax[bandOf(it)] - bandMin[bandOf(it)] + BAND_GAP / 2

  const out = new Map()
  for (let v = 0; v < n; v++) out.set(ids[v], { x: xOf(layerOf[v]), y: yOf(v), w: NODE_W, h: NODE_H, layer: layerOf[v] })

  const edgeRoutes = routes.map((r) => {
    // Points [x, y] or, entering a lower band, [x, y, yOfTheLaneBelowTheBandLeft].
    const pts = []
    const [first, ...rest] = r.items
    pts.push([xOf(layerOf[first]) + NODE_W, yOf(first) + NODE_H / 2])
    let prev = first
    for (const it of rest) {
      const cy = yOf(it) + hOf(it) / 2
      const entry = bandOf(it) !== bandOf(prev) && !r.back ? [xOf(layerOf[it]), cy, gapBelow(prev)] : [xOf(layerOf[it]), cy]
      pts.push(entry)
      if (isDummy[it]) pts.push([xOf(layerOf[it]) + NODE_W, cy])
      prev = it
    }
    const [[x0, y0], [x1, y1, lane]] = pts
    const label = lane === undefined ? [(x0 + x1) / 2, (y0 + y1) / 2 - 5] : [x0 + GAP_X / 2, y0 - 5]
    return { index: r.index, points: pts, back: r.back, label }
  })

  return {
    width: Math.min(layerCount, perBand) * (NODE_W + GAP_X) - GAP_X + 2 * MARGIN + (wrapped ? GAP_X : 0),
    height: Math.max(top - BAND_GAP + MARGIN, 2 * MARGIN),
    bands: bandCount,
    nodes: out,
    edges: edgeRoutes,
  }
}

/** An SVG path through the route's points: horizontal-tangent curves between columns. */
export function routePath(points, back) {
  if (points.length < 2) return ''
  const [x0, y0] = points[0]
  if (back) {
    const [x1, y1] = points[points.length - 1]
    const dip = Math.max(y0, y1) + NODE_H
    return `M${x0},${y0} C${x0 + 60},${dip} ${x1 - 60},${dip} ${x1},${y1}`
  }
  let d = `M${r(x0)},${r(y0)}`
  for (let k = 1; k < points.length; k++) {
    const [ax, ay] = points[k - 1]
    const [bx, by, lane] = points[k]
    if (lane !== undefined) {
      // Into the next band: right, down to the lane under the band, left, down, into the target.
      const g = GAP_X / 2
      const c = 8
      d += ` H${r(ax + g - c)} Q${r(ax + g)},${r(ay)} ${r(ax + g)},${r(ay + c)} V${r(lane - c)} Q${r(ax + g)},${r(lane)} ${r(ax + g - c)},${r(lane)}`
      d += ` H${r(bx - g + c)} Q${r(bx - g)},${r(lane)} ${r(bx - g)},${r(lane + c)} V${r(by - c)} Q${r(bx - g)},${r(by)} ${r(bx - g + c)},${r(by)} H${r(bx)}`
    } else if (ay === by) d += ` L${r(bx)},${r(by)}`
    else {
      const mx = (ax + bx) / 2
      d += ` C${r(mx)},${r(ay)} ${r(mx)},${r(by)} ${r(bx)},${r(by)}`
    }
  }
  return d
}

function r(v) {
  return Math.round(v * 10) / 10
}
