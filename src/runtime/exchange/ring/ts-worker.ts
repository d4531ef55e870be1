/**
 * Starting a worker_threads Worker whose entry is a TypeScript module, without a build step: the
 * job workers when Sluice runs from its sources (runtime/worker/start-worker.ts), the ring tests
 * and benchmarks. A compiled Sluice starts its workers from dist/ with plain Node instead.
 *
 * What works on Node 20 (measured on 20.20, under vitest 4 and under bin/run-ts.js):
 *   - `new Worker(new URL('./w.ts', import.meta.url))`: fails, "Unknown file extension .ts" —
 *     the parent's tsx registration does not reach a worker's entry.
 *   - `execArgv: ['--import', 'tsx']`: fails the same way on Node 20 (hooks registered by a
 *     worker's --import are not applied to its entry).
 *   - a tiny eval'd CommonJS bootstrap that calls tsx's `register()` inside the worker and then
 *     `import()`s the entry: works. That is what this does. The tsx API is resolved here, next to
 *     Sluice, so it works whatever the process's working directory is.
 *
 * Cost: each worker registers tsx and transpiles its module graph on first import (≈0.3–0.6 s
 * on this machine), once per worker at start.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

let resolvedTsxApi: string | null = null

/**
 * tsx's ESM `register` API, as a file URL, resolved on first use (a compiled Sluice never needs
 * it for its own workers). Resolved through tsx's package.json because
 * `require.resolve('tsx/esm/api')` picks the CommonJS build, whose register() fails on Node 20
 * (it imports a path that does not exist).
 */
function tsxApiUrl(): string {
  if (resolvedTsxApi !== null) return resolvedTsxApi
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json')
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> }
  resolvedTsxApi = pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api'].import.default)).href
  return resolvedTsxApi
}

/**
 * A Worker running the TypeScript module `entry` (a file: URL). Options are Worker's; `eval` is
 * set here. An error thrown while loading `entry` surfaces as the worker's 'error' event.
 *
 * @example
 * ```ts
 * const worker = startTsWorker(new URL('./consumer.ts', import.meta.url), { workerData: { ring: ring.buffer } })
 * ```
 */
export function startTsWorker(entry: URL, options: WorkerOptions = {}): Worker {
  const code = `import(${JSON.stringify(tsxApiUrl())})\n` +
    `  .then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })\n` +
    `  .catch((e) => { setImmediate(() => { throw e }) })\n`
  return new Worker(code, { ...options, eval: true })
}
