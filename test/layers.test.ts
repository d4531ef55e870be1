import { describe, expect, it } from 'vitest'
import { crossings, LAYERS, violations } from '../scripts/layers.mjs'

describe('the layers of src/ (docs/ARCHITECTURE.md)', () => {
  it('no folder imports a folder above it, and every folder has its place in the order', () => {
    const bad = violations().map((v: { from: string; to: string; file: string; target: string }) => `${v.from} -> ${v.to}: ${v.file} imports ${v.target}`)
    expect(bad).toEqual([])
  })

  it('the check sees real imports across layers (it is not vacuous)', () => {
    const edges = crossings() as { from: string; to: string }[]
    // The builder imports the graph, the runtime imports operators, operators import state.
    for (const [from, to] of [['api', 'graph'], ['runtime/task', 'operators'], ['operators', 'state']]) {
      expect(edges.some((e) => e.from === from && e.to === to)).toBe(true)
    }
    expect(LAYERS.indexOf('api')).toBeLessThan(LAYERS.indexOf('graph'))
  })
})
