/** Parsing of CLI option values, with errors that name the option and the expected form. */
import { SluiceError } from '../errors.ts'

export function parseCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value.replace(/_/g, ''))
  if (!Number.isSafeInteger(n) || n < 0) throw new SluiceError('CLI_USAGE', `${name} must be a whole number >= 0, got "${value}"`)
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
