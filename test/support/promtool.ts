/** `promtool check metrics` (Debian's `prometheus` package; scripts/ensure-promtool.sh installs it). */
import { spawnSync } from 'node:child_process'

export interface PromtoolResult {
  readonly status: number | null
  /** What promtool printed: problems found, one a line (empty when none). */
  readonly output: string
}

/** Runs `promtool check metrics` on an exposition text; throws, saying how to install it, if promtool is missing. */
export function promtoolCheckMetrics(text: string): PromtoolResult {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (r.error !== undefined) {
    throw new Error(`promtool is needed to check /metrics and was not found (${r.error.message}): run \`bash scripts/ensure-promtool.sh\` (Debian: apt-get install prometheus)`)
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() }
}
