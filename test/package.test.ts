/**
 * The package as a user gets it: `npm pack` (which builds dist/ through the prepare script), the
 * tarball installed into a temporary project, then plain `node` running pipelines from .mjs files
 * — in one thread and on two worker threads, which start from dist/ — the CLI running .mjs and .ts
 * jobs, and `tsc` type-checking a TypeScript consumer against the shipped declarations.
 *
 * The rest of the suite runs Sluice from src/ (vitest.config.ts); this file is the one that tests
 * the compiled package, and the processes it starts run without that development condition.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
const env = { ...process.env, NODE_OPTIONS: (process.env.NODE_OPTIONS ?? '').replace(/--conditions=sluice-source/g, '').trim() }
const STEP_TIMEOUT_MS = 300_000

interface Run { code: number | null; stdout: string; stderr: string }

function sh(cmd: string, args: readonly string[], cwd: string): Run {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: STEP_TIMEOUT_MS, maxBuffer: 1 << 26 })
  if (r.error !== undefined) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const node = (cwd: string, ...args: string[]): Run => sh(process.execPath, args, cwd)

function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`exit ${r.code}:\n${r.stderr}\n${r.stdout}`)
  return r
}

let dir = ''
let project = ''
let packed: string[] = []

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-package-'))
  const pack = ok(sh('npm', ['pack', '--pack-destination', dir, '--json'], root))
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[]
  packed = info.files.map((f) => f.path)
  project = join(dir, 'consumer')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  // Sluice's dependencies come from the npm cache when it has them (the registry otherwise).
  ok(sh('npm', ['install', join(dir, info.filename), '--prefer-offline', '--no-audit', '--no-fund'], project))
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(project, name), text)
}, 2 * STEP_TIMEOUT_MS)

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

describe('the packed package', () => {
  it('ships dist/ (JavaScript, declarations, source maps, the dashboard) and the CLI, no sources, tests or build state', () => {
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/connectors/index.d.ts', 'dist/runtime/worker/entry.js', 'dist/dashboard/index.html', 'dist/dashboard/app.js', 'dist/dashboard/style.css', 'bin/sluice.js', 'bin/read-ahead.js', 'package.json']) {
      expect(packed).toContain(f)
    }
    expect(packed.filter((f) => f.startsWith('src/') || /\.test\./.test(f) || f.endsWith('.tsbuildinfo') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])
    // Every relative import in the JavaScript names a .js file (rewriteRelativeImportExtensions).
    const installed = join(project, 'node_modules/sluice/dist')
    const tsImports: string[] = []
    for (const f of readdirSync(installed, { recursive: true, encoding: 'utf8' })) {
      if (!f.endsWith('.js') || f.startsWith('dashboard/')) continue
      for (const m of readFileSync(join(installed, f), 'utf8').matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) if (!m[1].endsWith('.js')) tsImports.push(`${f}: ${m[1]}`)
    }
    expect(tsImports).toEqual([])
  })

  it('runs a pipeline from a plain .mjs file with node', () => {
    const r = ok(node(project, 'sum.mjs'))
    expect(JSON.parse(r.stdout)).toEqual({ status: 'finished', records: [1, 2, 4, 6, 9, 12] })
  })

  it('runs a job on two worker threads, started from dist/, from a plain .mjs file', () => {
    const r = ok(node(project, 'parallel.mjs'))
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: number; sum: number; worker: boolean })
    expect(rows.every((x) => x.worker)).toBe(true)
    const last = new Map(rows.map((x) => [x.key, x.sum]))
    expect(Object.fromEntries(last)).toEqual({ 0: 1200, 1: 1225, 2: 1250, 3: 1275 })
    expect(r.stderr).toBe('finished\n')
  })

  it('the CLI prints its version and runs a .ts job, loading only that module through tsx, in one thread and on workers', () => {
    expect(ok(node(project, 'node_modules/.bin/sluice', '--version')).stdout.trim()).toBe(version)
    for (const extra of [[], ['--parallelism', '2']]) {
      const r = ok(node(project, 'node_modules/.bin/sluice', 'run', 'job.ts', '--no-server', ...extra))
      const last = new Map(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { customer: string; amount: number }).map((o) => [o.customer, o.amount]))
      expect(Object.fromEntries(last)).toEqual({ a: 7, b: 3 })
    }
  })

  it('runs JavaScript jobs without tsx installed: Sluice itself never needs it, in the main thread or in workers', () => {
    const tsx = join(project, 'node_modules/tsx')
    renameSync(tsx, `${tsx}-hidden`)
    try {
      expect(ok(node(project, 'sum.mjs')).stdout).toContain('"finished"')
      expect(ok(node(project, 'parallel.mjs')).stderr).toBe('finished\n')
      const cli = ok(node(project, 'node_modules/.bin/sluice', 'run', 'parallel.mjs', '--no-server', '--parallelism', '2'))
      expect(cli.stdout.trim().split('\n').length).toBeGreaterThan(0)
      // A .ts job needs tsx, and says so.
      const ts = node(project, 'node_modules/.bin/sluice', 'run', 'job.ts', '--no-server')
      expect(ts.code).not.toBe(0)
      expect(ts.stderr).toMatch(/job\.ts is TypeScript, and loading it needs tsx/)
    } finally {
      renameSync(`${tsx}-hidden`, tsx)
    }
  })

  it('type-checks a TypeScript consumer against the shipped declarations; a type error fails', () => {
    expect(existsSync(join(project, 'node_modules/sluice/dist/index.d.ts'))).toBe(true)
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    const r = node(project, tsc, '-p', 'tsconfig.json')
    const errors = r.stdout.split('\n').filter((l) => / error TS\d+/.test(l))
    // Errors in other libraries' declarations (a dependency's missing @types) are not Sluice's.
    const ours = errors.filter((l) => !l.startsWith('node_modules/') || l.startsWith('node_modules/sluice/'))
    expect(ours).toHaveLength(1)
    expect(ours[0]).toMatch(/^bad\.ts\(\d+,\d+\): error TS2339: Property 'startsWith' does not exist on type 'number'/)
  })
})

/** The consumer project's files. */
const FILES: Record<string, string> = {
  'sum.mjs': `import { Pipeline } from 'sluice'
import { collectSink, fromArray } from 'sluice/connectors'

const out = collectSink()
const p = new Pipeline('sum')
p.source('numbers', fromArray([1, 2, 3, 4, 5, 6])).keyBy((n) => n % 2).reduce('sum', (a, b) => a + b).to('out', out)
const r = await p.run().done
console.log(JSON.stringify({ status: r.status, records: out.records }))
`,
  'parallel.mjs': `import { isMainThread } from 'node:worker_threads'
import { Pipeline } from 'sluice'
import { fromArray, stdoutSink } from 'sluice/connectors'

export const pipeline = new Pipeline('parallel', { module: import.meta.url })
pipeline
  .source('numbers', fromArray(Array.from({ length: 100 }, (_, i) => ({ key: i % 4, sum: i }))))
  .keyBy((x) => x.key)
  .reduce('sum', (a, b) => ({ key: a.key, sum: a.sum + b.sum }))
  .map('tag', (x) => ({ ...x, worker: !isMainThread }))
  .to('out', stdoutSink())

if (isMainThread && process.argv[1] === new URL(import.meta.url).pathname) {
  const r = await pipeline.run({ parallelism: 2, workers: 2 }).done
  process.stderr.write(\`\${r.status}\\n\`)
}
`,
  'job.ts': `import { Pipeline } from 'sluice'
import { fromArray, stdoutSink } from 'sluice/connectors'

interface Order { customer: string; amount: number }
const orders: Order[] = [{ customer: 'a', amount: 2 }, { customer: 'b', amount: 3 }, { customer: 'a', amount: 5 }]

export const pipeline = new Pipeline('orders')
pipeline
  .source('orders', fromArray(orders))
  .keyBy((o: Order) => o.customer)
  .reduce('total', (a: Order, b: Order): Order => ({ customer: a.customer, amount: a.amount + b.amount }))
  .to('out', stdoutSink())
`,
  'good.ts': `import { Pipeline, type JobResult } from 'sluice'
import { collectSink, fromArray } from 'sluice/connectors'
import { runAndCollect } from 'sluice/testing'
import { query, type QueryInfo } from 'sluice/nexmark'

interface Bid { auction: number; price: number }
const out = collectSink<{ auction: number; total: number }>()
const p = new Pipeline('bids')
p.source('bids', fromArray<Bid>([{ auction: 1, price: 2 }]))
  .keyBy((b) => b.auction)
  .reduce('sum', (a, b) => ({ auction: a.auction, price: a.price + b.price }))
  .map('total', (b) => ({ auction: b.auction, total: b.price }))
  .to('out', out)
export const result: Promise<JobResult> = p.run().done
export const doubled: Promise<number[]> = runAndCollect((q) => q.source('n', fromArray([1, 2])).map('double', (n) => n * 2))
export const q0: QueryInfo = query('q0')
`,
  'bad.ts': `import { Pipeline } from 'sluice'
import { fromArray } from 'sluice/connectors'

new Pipeline('bad').source('words', fromArray(['a', 'bb'])).map('length', (w) => w.length).filter('short', (n) => n.startsWith('x'))
`,
  // Strict, and checking declaration files too (skipLibCheck off), so that a broken .d.ts of Sluice's fails.
  'tsconfig.json': JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules/@types')] },
    files: ['good.ts', 'bad.ts'],
  }),
}
