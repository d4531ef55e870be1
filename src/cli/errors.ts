/** How the CLI reports failures: the message, what to do next, and an exit code. */
import { isSluiceError, type SluiceError } from '../errors.ts'

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

/** Mistakes in the command line itself (exit 2). */
const USAGE_CODES: ReadonlySet<string> = new Set(['CLI_USAGE', 'JOB_INVALID_OPTION', 'NEXMARK_UNKNOWN_QUERY', 'SERVER_TOKEN_INVALID', 'SERVER_ALLOWED_HOST_INVALID'])

export function reportError(e: unknown): number {
  if (isSluiceError(e)) {
    const err = e as SluiceError
    process.stderr.write(`sluice: ${err.message}\n  what to do: ${err.hint}\n`)
    return USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILED
  }
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e)
  process.stderr.write(`sluice: unexpected error: ${msg}\n`)
  return EXIT_FAILED
}
