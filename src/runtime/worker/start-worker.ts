/**
 * Starting a job's worker thread. From dist/ the compiled entry runs with plain Node: no loader,
 * nothing transpiled (a user's .ts job module is loaded through tsx by the worker itself, only
 * then; ts-loader.ts). From the TypeScript sources (development, tests) the entry goes through
 * tsx's bootstrap (startTsWorker), as its modules are TypeScript.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads'
import { startTsWorker } from '../exchange/ring/ts-worker.ts'
import { FROM_SOURCE } from './ts-loader.ts'

/**
 * A worker running entry.ts (or entry.js) beside this module, with `options` (workerData etc.).
 *
 * @example
 * ```ts
 * const worker = startJobWorker({ workerData: start })
 * ```
 */
export function startJobWorker(options: WorkerOptions): Worker {
  return FROM_SOURCE ? startTsWorker(new URL('./entry.ts', import.meta.url), options) : new Worker(new URL('./entry.js', import.meta.url), options)
}
