/** `promtool check metrics` (Debian's `prometheus` package; scripts/ensure-promtool.sh installs it). */
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'

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

/**
 * Parses PromQL expressions with `promtool check rules` (each as a recording rule; JSON is YAML),
 * so a syntax error in any of them fails with promtool's message.
 */
export function promtoolCheckExpressions(exprs: readonly string[], file: string): PromtoolResult {
  const rules = { groups: [{ name: 'expressions', rules: exprs.map((expr, i) => ({ record: `check:expr_${i}`, expr })) }] }
  writeFileSync(file, JSON.stringify(rules, null, 2))
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })
  if (r.error !== undefined) {
    throw new Error(`promtool is needed to check PromQL and was not found (${r.error.message}): run \`bash scripts/ensure-promtool.sh\` (Debian: apt-get install prometheus)`)
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() }
}
