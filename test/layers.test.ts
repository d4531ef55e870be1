import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
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

describe('the size of src/ files (issue 12: none over 400 lines, dashboard assets included)', () => {
  it('every file of src/ has at most 400 lines', () => {
    const root = new URL('../src/', import.meta.url).pathname
    const files: string[] = []
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (/\.(ts|js|mjs|css|html)$/.test(e.name)) files.push(p)
      }
    }
    walk(root)
    const long = files.map((f) => ({ file: f.slice(root.length), lines: readFileSync(f, 'utf8').split('\n').length - 1 })).filter((x) => x.lines > 400)
    expect(long).toEqual([])
    expect(files.length).toBeGreaterThan(100)
  })
})
