/**
 * msgpackr, loaded on first use. Its Node build loads a native string decoder: ~25 ms of CPU in
 * every thread that imports it (the main thread and each worker, at start-up), which a job that
 * sends only flat records across threads and takes no checkpoint never needs.
 */
import { createRequire } from 'node:module'
import type * as Msgpackr from 'msgpackr'

let loaded: typeof Msgpackr | null = null

/** The msgpackr module (its CommonJS build: the same code, loadable synchronously). */
export function msgpackr(): typeof Msgpackr {
  return (loaded ??= createRequire(import.meta.url)('msgpackr') as typeof Msgpackr)
}
