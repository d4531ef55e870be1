/** The `sluice` command line as a real process, for the tests that spawn it. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const root = new URL('../..', import.meta.url).pathname

/**
 * Deadlines for processes that end by themselves: each `sluice` start-up may transpile a
 * TypeScript job (once per worker thread too), ~50 s for a run on 2 worker threads at load 30 on
 * 2 cores.
 */
export const PROCESS_DEADLINE_MS = 180_000
export const TEST_DEADLINE_MS = 600_000

/** Runs `node bin/sluice.js ...args` in the package root and waits for it to end. */
export function sluice(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), ...args], { cwd: root, encoding: 'utf8', timeout: PROCESS_DEADLINE_MS })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}
