/** Parsing of CLI option values, with errors that name the option and the expected form. */
import { SluiceError } from '../errors.ts'

export function parseCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value.replace(/_/g, ''))
  if (!Number.isSafeInteger(n) || n < 0) throw new SluiceError('CLI_USAGE', `${name} must be a whole number >= 0, got "${value}"`)
  return n
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 }

/** A size in bytes: "1048576", "64KiB", "16MiB" (k, m, g are powers of 1024). */
export function parseBytes(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const m = /^([\d_]+)\s*([a-z]*)$/i.exec(value.trim())
  const unit = m === null ? undefined : BYTE_UNITS[m[2].toLowerCase()]
  const n = m === null || unit === undefined ? NaN : Number(m[1].replace(/_/g, '')) * unit
  if (!Number.isSafeInteger(n) || n < 1) throw new SluiceError('CLI_USAGE', `${name} must be a size in bytes such as 1048576, 64KiB or 16MiB, got "${value}"`)
  return n
}

export function parsePolicy(value: string | undefined): 'fail' | 'skip' | 'dead-letter' {
  const v = value ?? 'fail'
  if (v !== 'fail' && v !== 'skip' && v !== 'dead-letter') throw new SluiceError('CLI_USAGE', `--on-error must be fail, skip or dead-letter, got "${v}"`)
  return v
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

/** A duration: a whole number with ms, s, m or h ("500ms", "1s", "2m", "1h"); bare numbers are ms. */
export function parseDuration(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const m = /^(\d+)(ms|s|m|h)?$/.exec(value.trim())
  if (m === null) throw new SluiceError('CLI_USAGE', `${name} must be a duration like 500ms, 1s, 2m or 1h, got "${value}"`)
  const n = Number(m[1])
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : m[2] === 'h' ? n * 3_600_000 : n
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
  const backoff = o.restartBackoff ?? 'fixed'
  if (backoff !== 'fixed' && backoff !== 'exponential') throw new SluiceError('CLI_USAGE', `--restart-backoff must be fixed or exponential, got "${backoff}"`)
  const resetMs = parseDuration('--restart-reset', o.restartReset)
  if (resetMs === 0) throw new SluiceError('CLI_USAGE', `--restart-reset must be longer than 0, got "${o.restartReset}"`)
  return { attempts: parseCount('--restart-attempts', o.restartAttempts) ?? 3, delayMs: parseDuration('--restart-delay', o.restartDelay) ?? 1000, backoff, ...(resetMs === undefined ? {} : { resetMs }) }
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
  const intervalMs = parseDuration('--checkpoint-interval', o.checkpointInterval) ?? 1000
  if (intervalMs < 10) throw new SluiceError('CLI_USAGE', `--checkpoint-interval must be at least 10ms, got "${o.checkpointInterval}"`)
  const timeoutMs = parseDuration('--checkpoint-timeout', o.checkpointTimeout)
  if (timeoutMs !== undefined && timeoutMs < 10) throw new SluiceError('CLI_USAGE', `--checkpoint-timeout must be at least 10ms, got "${o.checkpointTimeout}"`)
  if (o.savepointDir === '') throw new SluiceError('CLI_USAGE', '--savepoint-dir must be a directory path, got ""')
  return {
    dir: o.checkpointDir, intervalMs, ...(timeoutMs === undefined ? {} : { timeoutMs }), allowNonRestoredState: o.allowNonRestoredState === true,
    ...(o.fromSavepoint === undefined ? {} : { fromSavepoint: o.fromSavepoint }), ...(o.savepointDir === undefined ? {} : { savepointDir: o.savepointDir }),
  }
}
