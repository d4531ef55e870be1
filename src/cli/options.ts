/** Parsing of CLI option values, with errors that name the option and the expected form. */
import { SluiceError } from '../errors.ts'

/**
 * How each option's value is read: one rule, one message and one code (CLI_USAGE) for an option,
 * on every command that takes it. main.ts checks every value given before a command runs
 * (checkOptionValues), and the commands read them with the same functions.
 */
const NUMBER_RULES = {
  '--parallelism': whole(1),
  '--workers': whole(0),
  '--port': whole(0, 65535),
  '--events': whole(0),
  '--seed': whole(0),
  '--rate': whole(1),
  '--duration': whole(1),
  '--interval': duration(100),
  '--checkpoint-interval': duration(10),
  '--checkpoint-timeout': duration(10),
  '--restart-attempts': whole(0),
  '--restart-delay': duration(0),
  '--restart-reset': duration(1),
  '--max-line-bytes': bytes(),
} satisfies Record<string, (flag: string, value: string) => number>

const CHOICE_RULES = {
  // The queries of src/nexmark/queries/index.ts (a test keeps them equal), named here so that a
  // wrong one is refused without loading the engine.
  '--query': ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q7', 'q8', 'q9', 'q11'],
  '--on-error': ['fail', 'skip', 'dead-letter'],
  '--restart-backoff': ['fixed', 'exponential'],
} as const satisfies Record<string, readonly string[]>

export type NumberOption = keyof typeof NUMBER_RULES
export type ChoiceOption = keyof typeof CHOICE_RULES

/** The value of a numeric option (undefined when not given), or CLI_USAGE with the option's one message. */
export function parseOption(flag: NumberOption, value: string | undefined): number | undefined {
  return value === undefined ? undefined : NUMBER_RULES[flag](flag, value)
}

/** The value of an option with a fixed set of values, or CLI_USAGE naming them. */
export function parseChoice<F extends ChoiceOption>(flag: F, value: string | undefined): (typeof CHOICE_RULES)[F][number] | undefined {
  if (value === undefined) return undefined
  const choices: readonly string[] = CHOICE_RULES[flag]
  if (!choices.includes(value)) throw new SluiceError('CLI_USAGE', `${flag} must be ${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}, got "${value}"`)
  return value as (typeof CHOICE_RULES)[F][number]
}

/** Checks every value given to `command` (its options' current values) against its option's rule. */
export function checkOptionValues(command: { options: readonly { long?: string; attributeName(): string }[]; getOptionValue(key: string): unknown }): void {
  for (const option of command.options) {
    const value = command.getOptionValue(option.attributeName())
    if (typeof value !== 'string' || option.long === undefined) continue
    if (option.long in NUMBER_RULES) parseOption(option.long as NumberOption, value)
    else if (option.long in CHOICE_RULES) parseChoice(option.long as ChoiceOption, value)
  }
}

/** A whole number (digits, `_` allowed between them) from `min` (to `max`). */
function whole(min: number, max?: number): (flag: string, value: string) => number {
  return (flag, value) => {
    const n = /^\d[\d_]*$/.test(value.trim()) ? Number(value.trim().replace(/_/g, '')) : NaN
    if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
      throw new SluiceError('CLI_USAGE', `${flag} must be a whole number ${max === undefined ? `>= ${min}` : `from ${min} to ${max}`}, got "${value}"`)
    }
    return n
  }
}

const DURATION_UNITS_MS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** A duration: a whole number with ms, s, m or h ("500ms", "1s", "2m", "1h"); bare numbers are ms. At least `minMs`. */
function duration(minMs: number): (flag: string, value: string) => number {
  return (flag, value) => {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(value.trim())
    const ms = m === null ? NaN : Number(m[1]) * DURATION_UNITS_MS[m[2] ?? '']
    if (!Number.isSafeInteger(ms) || ms < minMs) {
      throw new SluiceError('CLI_USAGE', `${flag} must be a duration like 500ms, 1s, 2m or 1h${minMs > 0 ? `, at least ${minMs}ms` : ''}, got "${value}"`)
    }
    return ms
  }
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 }

/** A size in bytes: "1048576", "64KiB", "16MiB" (k, m, g are powers of 1024). */
function bytes(): (flag: string, value: string) => number {
  return (flag, value) => {
    const m = /^([\d_]+)\s*([a-z]*)$/i.exec(value.trim())
    const unit = m === null ? undefined : BYTE_UNITS[m[2].toLowerCase()]
    const n = m === null || unit === undefined ? NaN : Number(m[1].replace(/_/g, '')) * unit
    if (!Number.isSafeInteger(n) || n < 1) throw new SluiceError('CLI_USAGE', `${flag} must be a size in bytes such as 1048576, 64KiB or 16MiB, got "${value}"`)
    return n
  }
}

/** Runs `stop` on the first Ctrl-C; a second one exits at once. */
export function onInterrupt(stop: () => void): () => void {
  let count = 0
  const handler = (): void => {
    count++
    if (count > 1) process.exit(130)
    process.stderr.write('\nsluice: stopping (Ctrl-C again to exit at once)\n')
    stop()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}

export interface CheckpointFlags {
  checkpointDir?: string
  checkpointInterval?: string
  checkpointTimeout?: string
  allowNonRestoredState?: boolean
  fromSavepoint?: string
  savepointDir?: string
  restartAttempts?: string
  restartDelay?: string
  restartBackoff?: string
  restartReset?: string
}

/** --restart-attempts / --restart-delay / --restart-backoff / --restart-reset, or undefined for the default. */
export function restartOptions(o: CheckpointFlags): { attempts: number; delayMs: number; backoff: 'fixed' | 'exponential'; resetMs?: number } | undefined {
  if (o.restartAttempts === undefined && o.restartDelay === undefined && o.restartBackoff === undefined && o.restartReset === undefined) return undefined
  const backoff = parseChoice('--restart-backoff', o.restartBackoff) ?? 'fixed'
  const resetMs = parseOption('--restart-reset', o.restartReset)
  return { attempts: parseOption('--restart-attempts', o.restartAttempts) ?? 3, delayMs: parseOption('--restart-delay', o.restartDelay) ?? 1000, backoff, ...(resetMs === undefined ? {} : { resetMs }) }
}

/** The run options for --checkpoint-dir / --checkpoint-interval (default 1s) / --checkpoint-timeout / --allow-non-restored-state / --savepoint-dir. */
export function checkpointOptions(o: CheckpointFlags): { dir: string; intervalMs: number; timeoutMs?: number; allowNonRestoredState: boolean; fromSavepoint?: string; savepointDir?: string } | undefined {
  if (o.checkpointDir === undefined) {
    if (o.checkpointInterval !== undefined) throw new SluiceError('CLI_USAGE', '--checkpoint-interval needs --checkpoint-dir <dir>')
    if (o.checkpointTimeout !== undefined) throw new SluiceError('CLI_USAGE', '--checkpoint-timeout needs --checkpoint-dir <dir>')
    if (o.fromSavepoint !== undefined) throw new SluiceError('CLI_USAGE', '--from-savepoint needs --checkpoint-dir <dir> (where the job\'s checkpoints go from there)')
    if (o.savepointDir !== undefined) throw new SluiceError('CLI_USAGE', '--savepoint-dir needs --checkpoint-dir <dir> (a job takes savepoints only with checkpoints)')
    return undefined
  }
  const intervalMs = parseOption('--checkpoint-interval', o.checkpointInterval) ?? 1000
  const timeoutMs = parseOption('--checkpoint-timeout', o.checkpointTimeout)
  if (o.savepointDir === '') throw new SluiceError('CLI_USAGE', '--savepoint-dir must be a directory path, got ""')
  return {
    dir: o.checkpointDir, intervalMs, ...(timeoutMs === undefined ? {} : { timeoutMs }), allowNonRestoredState: o.allowNonRestoredState === true,
    ...(o.fromSavepoint === undefined ? {} : { fromSavepoint: o.fromSavepoint }), ...(o.savepointDir === undefined ? {} : { savepointDir: o.savepointDir }),
  }
}
