/** How the CLI reports failures: the message, what to do next, and an exit code. */
import { isSluiceError, type ErrorCode, type SluiceError } from '../errors.ts'

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

/** Mistakes in the command line, or in the options a job file gives, found before it runs (exit 2). */
const USAGE_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'CLI_USAGE', 'NEXMARK_UNKNOWN_QUERY', 'JOB_ARGUMENT_INVALID', 'WORKERS_UNSUPPORTED', 'PARALLELISM_INVALID', 'PIPELINE_OPTION_INVALID',
  'ERROR_POLICY_INVALID', 'SCHEMA_INVALID', 'WINDOW_INVALID', 'WATERMARK_INVALID', 'CHECKPOINT_OPTION_INVALID', 'CONNECTOR_OPTION_INVALID',
  'SERVER_TOKEN_INVALID', 'SERVER_TOKEN_REQUIRED', 'SERVER_PORT_INVALID', 'SERVER_LISTEN_FAILED', 'SERVER_ALLOWED_HOST_INVALID',
])

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
