/**
 * Opt-in CPU profiling of a thread: with `SLUICE_CPU_PROFILE=<dir>` set, `startCpuProfile(name)`
 * starts V8's sampling profiler on the calling thread (a `node:inspector` session, which works
 * inside worker threads too) and the returned `stop()` writes `<dir>/<name>.cpuprofile`
 * synchronously (an in-thread session answers synchronously). Without the variable it returns
 * null and costs nothing. tsx compiles each module to one line, so positions are mapped back to
 * the TypeScript source through the source maps tsx registers, when the profile is written. Open the files in Chrome DevTools (Performance) or summarise them with
 * `node bin/run-ts.js bench/profile-summary.ts <file>`.
 *
 * @example
 * const profile = startCpuProfile(`worker-${index}`)
 * try { await work() } finally { profile?.stop() }
 */
import { Session, type Profiler } from 'node:inspector'
import { mkdirSync, writeFileSync } from 'node:fs'
import { findSourceMap, type SourceMap } from 'node:module'
import { join } from 'node:path'

/** Sampling interval in microseconds (V8's default is 1000). */
const SAMPLING_INTERVAL_US = 200

export interface CpuProfile {
  /** Stops the profiler and writes the profile; later calls do nothing. Never throws. */
  stop(): void
}

export function startCpuProfile(name: string, dir: string | undefined = process.env.SLUICE_CPU_PROFILE): CpuProfile | null {
  if (dir === undefined || dir === '') return null
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US })
  session.post('Profiler.start')
  let stopped = false
  return {
    stop: () => {
      if (stopped) return
      stopped = true
      session.post('Profiler.stop', (err, result) => {
        try {
          if (err !== null) throw err
          mkdirSync(dir, { recursive: true })
          writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(toSource(result.profile)))
        } catch (e) {
          process.stderr.write(`sluice: could not write CPU profile ${name} to ${dir}: ${e instanceof Error ? e.message : String(e)}\n`)
        }
      })
      session.disconnect()
    },
  }
}

/** Rewrites call frames' (0-based) line and column to the original source where a source map knows them. */
function toSource(profile: Profiler.Profile): Profiler.Profile {
  const maps = new Map<string, SourceMap | undefined>()
  for (const { callFrame: f } of profile.nodes) {
    if (!f.url.startsWith('file:') || f.lineNumber < 0) continue
    if (!maps.has(f.url)) maps.set(f.url, findSourceMap(f.url))
    const entry = maps.get(f.url)?.findEntry(f.lineNumber, f.columnNumber)
    if (entry === undefined || !('originalLine' in entry)) continue
    f.lineNumber = entry.originalLine
    f.columnNumber = entry.originalColumn
  }
  return profile
}
