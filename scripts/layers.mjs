// The dependency rule of src/ (docs/ARCHITECTURE.md, "Layers"): a folder may import only from the
// folders listed after it. Run `node scripts/layers.mjs` for a report; test/layers.test.ts keeps it.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Top to bottom. Each unit may import itself and the units below it. */
export const LAYERS = [
  'cli', 'nexmark', 'testing', 'index.ts', 'api', 'server', 'dashboard', 'monitoring',
  'runtime/coordinator', 'runtime/worker', 'runtime/task', 'runtime/checkpoint', 'runtime/exchange',
  'graph', 'operators', 'metrics', 'connectors', 'state', 'time', 'errors.ts',
]

const SRC = fileURLToPath(new URL('../src/', import.meta.url))

/** The layer a source file belongs to: runtime/ by its subfolder, every other folder whole. */
export function unitOf(file) {
  const rel = relative(SRC, file).split('/')
  if (rel.length === 1) return rel[0]
  if (rel[0] === 'runtime') return rel.length > 2 ? `runtime/${rel[1]}` : `runtime/${rel[1]}`
  return rel[0]
}

function sources(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) sources(p, out)
    else if (/\.(ts|js|mjs)$/.test(e.name) && !/\.test\.ts$/.test(e.name) && !/test-(support|worker)\.ts$/.test(e.name)) out.push(p)
  }
  return out
}

/** Every import (static, dynamic, type-only, re-export) that crosses units. */
export function crossings() {
  const edges = []
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(?:^|[\s;])(?:import|export)\b[^'"]*?(?:from\s*)?\(?\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      const target = normalize(join(dirname(file), m[1]))
      const from = unitOf(file), to = unitOf(target)
      if (from !== to) edges.push({ from, to, file: relative(SRC, file), target: relative(SRC, target) })
    }
  }
  return edges
}

/** Imports that break the order: an import of a unit above, or of a unit not in LAYERS. */
export function violations() {
  return crossings().filter(e => {
    const a = LAYERS.indexOf(e.from), b = LAYERS.indexOf(e.to)
    return a < 0 || b < 0 || b <= a
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bad = violations()
  for (const v of bad) console.log(`${v.from} -> ${v.to}: ${v.file} imports ${v.target}`)
  console.log(bad.length === 0 ? 'layers: no violation' : `layers: ${bad.length} violation(s)`)
  process.exitCode = bad.length === 0 ? 0 : 1
}
