/**
 * Every error Sluice raises carries a stable `code` from this catalogue. Match on `code`, not on
 * `instanceof`, once errors may have crossed a thread. docs/ERRORS.md lists the same codes; a test
 * keeps the two in step.
 */
export type ErrorKind = 'user' | 'external' | 'internal'

interface CodeInfo {
  readonly kind: ErrorKind
  readonly retryable: boolean
  /** What the user should do next; appended to messages. */
  readonly hint: string
}

export const ERROR_CODES = {
  JOB_DUPLICATE_ID: { kind: 'user', retryable: false, hint: 'Give every operator and source a unique id.' },
  JOB_INVALID_ID: { kind: 'user', retryable: false, hint: 'Use ids of letters, digits, "-", "_" or ".", 1-64 characters.' },
  JOB_KEYBY_REQUIRED: { kind: 'user', retryable: false, hint: 'Call .keyBy(keySelector) before this keyed operation.' },
  JOB_NO_SINK: { kind: 'user', retryable: false, hint: 'Add a sink with .to(sink) (or .collect()) so the job has an output.' },
  JOB_INVALID_OPTION: { kind: 'user', retryable: false, hint: 'Check the option against the API documentation.' },
  WINDOW_INVALID: { kind: 'user', retryable: false, hint: 'Give window sizes and slides whole positive milliseconds (slide <= size), count triggers a whole positive count, allowedLateness finite milliseconds >= 0 on a time window, and session or sliding windows an aggregate with merge().' },
  JOIN_INVALID: { kind: 'user', retryable: false, hint: 'Give an interval join finite bounds with lower <= upper (.between(lowerMs, upperMs)), an unbounded join a ttlMs of a positive number of milliseconds, and a window join tumbling or sliding windows.' },
  JOB_ALREADY_RUNNING: { kind: 'user', retryable: false, hint: 'A pipeline runs once; build a new Pipeline to run again.' },
  JOB_EMPTY: { kind: 'user', retryable: false, hint: 'Add at least one source to the pipeline.' },
  JOB_MODULE_INVALID: { kind: 'user', retryable: false, hint: 'A job module must export a Pipeline as its default export or as `pipeline`.' },
  RECORD_FAILED: { kind: 'user', retryable: false, hint: 'Fix the function or set onError: "skip" or "dead-letter" on the operator.' },
  RECORD_NO_EVENT_TIME: { kind: 'user', retryable: false, hint: 'Give the source a watermark strategy (p.source(id, source, { watermarks })), or use a processing-time window.' },
  SOURCE_MALFORMED_RECORD: { kind: 'user', retryable: false, hint: 'Fix the input, or set onError: "skip" or "dead-letter" on the source.' },
  SOURCE_IO: { kind: 'external', retryable: true, hint: 'Check that the file or stream exists and is readable.' },
  SINK_RECORD_UNWRITABLE: { kind: 'user', retryable: false, hint: 'The record cannot be encoded (nested too deep, cyclic, a BigInt in JSON): fix the operator that builds it, or set onError: "skip" or "dead-letter" in the sink\'s options, .to(id, sink, { onError }).' },
  SINK_IO: { kind: 'external', retryable: true, hint: 'Check that the output location is writable and has space.' },
  TIMESTAMP_INVALID: { kind: 'user', retryable: false, hint: 'The timestamp assigner must return a finite number of epoch milliseconds.' },
  JOB_CANCELLED: { kind: 'user', retryable: false, hint: 'The job was stopped on request.' },
  CLI_USAGE: { kind: 'user', retryable: false, hint: 'Run `sluice --help` for usage.' },
  NEXMARK_UNKNOWN_QUERY: { kind: 'user', retryable: false, hint: 'Use one of q0, q1, q2, q3, q4, q5, q7, q8, q9, q11.' },
  JOB_NOT_DETERMINISTIC: { kind: 'user', retryable: false, hint: 'Build the pipeline the same way on every import: no random ids, no branches on time or environment.' },
  CHECKPOINT_CORRUPT: { kind: 'external', retryable: false, hint: 'The checkpoint file is damaged or partial; Sluice falls back to the previous complete one.' },
  CHECKPOINT_IO: { kind: 'external', retryable: true, hint: 'Check that the checkpoint directory is writable and has space.' },
  CHECKPOINT_INCOMPATIBLE: { kind: 'user', retryable: false, hint: 'Restore into a job whose stateful operators keep their ids and state types, or pass --allow-non-restored-state for removed operators.' },
  STATE_NOT_PLAIN_DATA: { kind: 'user', retryable: false, hint: 'Keep operator state to plain data (numbers, strings, booleans, null, arrays, objects, Map, Set, Date, typed arrays): no functions or symbols.' },
  STATE_DECLARATION_INVALID: { kind: 'user', retryable: false, hint: 'Declare each piece of keyed state under its own name (one name cannot be value state and map state at once), with a TTL of a positive number of milliseconds.' },
  SERVER_TOKEN_INVALID: { kind: 'user', retryable: false, hint: 'Pass a non-empty secret without surrounding spaces (--token, the token option or SLUICE_TOKEN), or unset it on a loopback address.' },
  SERVER_ALLOWED_HOST_INVALID: { kind: 'user', retryable: false, hint: 'Pass a host name or IP address as the browser shows it, without scheme, port or path: --allowed-host sluice.example.com' },
  CHECKPOINT_LOCKED: { kind: 'user', retryable: false, hint: 'Another job uses this checkpoint directory: stop it first, or give this job its own --checkpoint-dir.' },
  SAVEPOINT_FAILED: { kind: 'external', retryable: true, hint: 'The job keeps running; fix the cause (a savepoint directory that is writable and has space) and ask again.' },
  JOB_NOT_RUNNING: { kind: 'user', retryable: false, hint: 'The job has ended (finished, stopped or failed); a savepoint needs a running job.' },
  CONNECTOR_UNREACHABLE: { kind: 'external', retryable: true, hint: 'Check that the server is running and listening at that address (for the test services: bash scripts/services.sh up), and that no firewall is in the way.' },
  CONNECTOR_AUTH: { kind: 'user', retryable: false, hint: 'Check the user name and password (or token) in the URI or the connector options.' },
  CONNECTOR_URI_INVALID: { kind: 'user', retryable: false, hint: 'Write it as scheme://HOST:PORT/NAME?option=value, e.g. kafka://127.0.0.1:9092/orders?group=billing; see docs/CONNECTORS.md for each scheme\'s options.' },
  CONNECTOR_NOT_FOUND: { kind: 'user', retryable: false, hint: 'Create the topic, stream, key or table first, or let the sink create it (see the connector\'s options).' },
  CONNECTOR_UNSUPPORTED: { kind: 'user', retryable: false, hint: 'The server lacks a feature this option needs: upgrade the server or drop the option.' },
  CONNECTOR_FENCED: { kind: 'external', retryable: true, hint: 'A newer instance of this job took over the output; this one stops writing. Run one instance of a job per output.' },
  WORKER_FAILED: { kind: 'internal', retryable: true, hint: 'A worker thread died; see the cause. If it ran out of memory, lower parallelism or state size.' },
  INTERNAL: { kind: 'internal', retryable: false, hint: 'This is a bug in Sluice; please report it with the message.' },
} as const satisfies Record<string, CodeInfo>

export type ErrorCode = keyof typeof ERROR_CODES

export class SluiceError extends Error {
  readonly code: ErrorCode
  readonly kind: ErrorKind
  readonly retryable: boolean
  readonly hint: string

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    const info: CodeInfo = ERROR_CODES[code]
    super(`${code}: ${message}`, options)
    this.name = 'SluiceError'
    this.code = code
    this.kind = info.kind
    this.retryable = info.retryable
    this.hint = info.hint
  }
}

/** True for any error carrying a Sluice code, including ones re-created after crossing a thread. */
export function isSluiceError(e: unknown): e is SluiceError {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' &&
    (e as { code: string }).code in ERROR_CODES
}

export function describeCause(e: unknown): string {
  if (e instanceof Error) return e.message
  return String(e)
}
