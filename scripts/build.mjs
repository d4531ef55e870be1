// `npm run build`: compiles src/ into dist/ (tsc -p tsconfig.build.json, incremental), copies the
// files tsc does not emit (the dashboard's .js, .css and .html), and removes from dist/ what no
// longer has a source (a file moved or deleted in src/ would otherwise ship stale).
// Plain JavaScript with no dependency but typescript, so that `npm install` of a fresh clone can
// run it from the `prepare` script.
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = join(root, 'src')
const dist = join(root, 'dist')
/** Files of src/ that are shipped as they are. */
const ASSET = /\.(js|css|html)$/

function walk(dir, out = []) {
  if (!existsSync(dir)) return out
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, out)
    else out.push(p)
  }
  return out
}

function walkDirs(dir, out = []) {
  if (!existsSync(dir)) return out
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue
    out.push(join(dir, e.name))
    walkDirs(join(dir, e.name), out)
  }
  return out
}

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (r.status !== 0) {
  console.error('build: tsc failed')
  process.exit(r.status ?? 1)
}

const assets = walk(src).filter((f) => ASSET.test(f))
for (const f of assets) {
  const to = join(dist, relative(src, f))
  mkdirSync(dirname(to), { recursive: true })
  copyFileSync(f, to)
}

// An output is stale when neither its TypeScript source nor (for assets) its original exists.
let removed = 0
for (const f of walk(dist)) {
  const rel = relative(dist, f)
  if (rel === '.tsbuildinfo') continue
  const base = rel.replace(/(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/, '')
  const fromTs = base !== rel && existsSync(join(src, `${base}.ts`))
  if (!fromTs && !existsSync(join(src, rel))) {
    rmSync(f)
    removed++
  }
}
// Directories left empty by the removals go too (deepest first).
for (const d of walkDirs(dist).reverse()) if (readdirSync(d).length === 0) rmSync(d, { recursive: true })
console.error(`build: dist/ from src/ (${assets.length} assets copied${removed > 0 ? `, ${removed} stale files removed` : ''})`)
