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
  JOB_DUPLICATE_ID: { kind: 'user', retryable: false, hint: 'Give every operator and source a unique id. See docs/GUIDE.md#operators.' },
  JOB_INVALID_ID: { kind: 'user', retryable: false, hint: 'Use ids of letters, digits, "-", "_" or ".", 1-64 characters. See docs/GUIDE.md#operators.' },
  JOB_KEYBY_REQUIRED: { kind: 'user', retryable: false, hint: 'Call .keyBy(keySelector) before this keyed operation. See docs/GUIDE.md#concepts.' },
  JOB_NO_SINK: { kind: 'user', retryable: false, hint: 'Add a sink with .to(sink) (or .collect()) so the job has an output. See docs/GUIDE.md#sources-and-sinks.' },
  WORKERS_UNSUPPORTED: { kind: 'user', retryable: false, hint: 'Worker threads re-import the job: create it with new Pipeline(name, { module: import.meta.url }) in a file that exports it, and inject no clock; or run in this thread (workers: 0). See docs/GUIDE.md#parallelism-and-workers.' },
  JOB_ARGUMENT_INVALID: { kind: 'user', retryable: false, hint: 'Pass the kind of value the call expects, as the message says (a function, a source, a sink, an iterable, a stream of the same pipeline); in a .ts job file TypeScript checks these calls. See docs/GUIDE.md#operators.' },
  PARALLELISM_INVALID: { kind: 'user', retryable: false, hint: 'Give parallelism and maxParallelism whole numbers >= 1 (an operator\'s at most 1024 and at most maxParallelism) and workers a whole number >= 0; run a source that cannot be split, or a sink that cannot write in parallel, at parallelism 1. See docs/GUIDE.md#parallelism-and-workers.' },
  PIPELINE_OPTION_INVALID: { kind: 'user', retryable: false, hint: 'Correct the option the message names (of new Pipeline(), pipeline.run() or pipeline.source(), or its sluice flag) to a value in the range it gives. See docs/GUIDE.md#running-from-code.' },
  ERROR_POLICY_INVALID: { kind: 'user', retryable: false, hint: 'Set onError to \'fail\', \'skip\' or \'dead-letter\'; \'dead-letter\' needs a dead-letter sink: deadLetter in the operator\'s options or in new Pipeline(name, { deadLetter }). See docs/GUIDE.md#errors-and-dead-letters.' },
  SCHEMA_INVALID: { kind: 'user', retryable: false, hint: 'Build the schema with recordSchema({ field: type }): at least one field, each of type number, int, string or boolean (or { type, nullable }), and declare it on an operator\'s main output. See docs/GUIDE.md#parallelism-and-workers.' },
  WINDOW_INVALID: { kind: 'user', retryable: false, hint: 'Give window sizes and slides whole positive milliseconds (slide <= size), count triggers a whole positive count, allowedLateness finite milliseconds >= 0 on a time window, and session or sliding windows an aggregate with merge(). See docs/GUIDE.md#windows.' },
  WATERMARK_INVALID: { kind: 'user', retryable: false, hint: 'Give boundedOutOfOrderness a timestamp function, maxOutOfOrdernessMs a finite number >= 0 and idleTimeoutMs a positive number of milliseconds. See docs/GUIDE.md#event-time-and-watermarks.' },
  JOIN_INVALID: { kind: 'user', retryable: false, hint: 'Give an interval join finite bounds with lower <= upper (.between(lowerMs, upperMs)), an unbounded join a ttlMs of a positive number of milliseconds, and a window join tumbling or sliding windows. See docs/GUIDE.md#joins.' },
  ASYNC_OPTIONS_INVALID: { kind: 'user', retryable: false, hint: 'Give the asynchronous operator (mapAsync, flatMapAsync, mapAsyncBatch, lookupJoin) options in the ranges the message names: concurrency and maxBatch whole numbers >= 1, timeoutMs and maxWaitMs milliseconds >= 0, retry an object (attempts >= 1, backoffMs <= maxBackoffMs, jitter 0..1), a cache with maxEntries >= 1. See docs/GUIDE.md#calling-services-async-io.' },
  ASYNC_RESULT_INVALID: { kind: 'user', retryable: false, hint: 'Make the call resolve with what the operator expects: mapAsyncBatch one result per record, in order (an array as long as the batch); flatMapAsync an array or other iterable; a lookup table one value (or undefined) per key. See docs/GUIDE.md#calling-services-async-io.' },
  ASYNC_TIMEOUT: { kind: 'external', retryable: true, hint: 'The service did not answer within timeoutMs: check it is up and not overloaded, raise timeoutMs, or retry ({ retry: { attempts } }); a lasting failure goes to the operator\'s onError. See docs/GUIDE.md#calling-services-async-io.' },
  ASYNC_CALL_FAILED: { kind: 'external', retryable: true, hint: 'A call to the service failed after its retries: fix the service or the request (the cause is named), retry more ({ retry: { attempts } }), or set onError: \'skip\' or \'dead-letter\' to go on without the record. See docs/GUIDE.md#calling-services-async-io.' },
  JOB_ALREADY_RUNNING: { kind: 'user', retryable: false, hint: 'A pipeline runs once; build a new Pipeline to run again. See docs/GUIDE.md#running-from-code.' },
  JOB_EMPTY: { kind: 'user', retryable: false, hint: 'Add at least one source to the pipeline. See docs/GUIDE.md#sources-and-sinks.' },
  JOB_MODULE_INVALID: { kind: 'user', retryable: false, hint: 'A job module must export a Pipeline as its default export or as `pipeline` (see docs/GUIDE.md#job-files-and-the-cli).' },
  JOB_FILE_INVALID: { kind: 'user', retryable: false, hint: 'Fix the syntax at the line and column shown (npx tsc --noEmit job.ts checks a TypeScript job file; node --check job.mjs a JavaScript one); see docs/GUIDE.md#job-files-and-the-cli.' },
  JOB_FILE_IMPORT_FAILED: { kind: 'user', retryable: false, hint: 'Install the package the job file imports (npm install NAME, where the job file can find it), correct the path of a relative import (relative to the importing file, with its extension, as in ./helpers.ts), or fix the code at the line shown; see docs/GUIDE.md#job-files-and-the-cli.' },
  RECORD_FAILED: { kind: 'user', retryable: false, hint: 'Fix what failed, as the message says (the operator\'s function, or the cause it names), or set onError: \'skip\' or \'dead-letter\' in the operator\'s options (.map(id, fn, { onError })); see docs/GUIDE.md#errors-and-dead-letters.' },
  RECORD_NO_EVENT_TIME: { kind: 'user', retryable: false, hint: 'Give the source a watermark strategy (pipeline.source(id, source, { watermarks: boundedOutOfOrderness({ timestamp, maxOutOfOrdernessMs }) })), or use a processing-time window (tumbling(sizeMs, { time: \'processing\' })); see docs/GUIDE.md#event-time-and-watermarks.' },
  SOURCE_MALFORMED_RECORD: { kind: 'user', retryable: false, hint: 'Fix the input, or the source\'s parse or timestamp function, as the reason says; or set onError: \'skip\' or \'dead-letter\' in the source\'s options (pipeline.source(id, source, { onError })); see docs/GUIDE.md#errors-and-dead-letters.' },
  SOURCE_IO: { kind: 'external', retryable: true, hint: 'Check that the file or stream exists and is readable. See docs/GUIDE.md#sources-and-sinks.' },
  SINK_RECORD_UNWRITABLE: { kind: 'user', retryable: false, hint: 'The record cannot be encoded (nested too deep, cyclic, a BigInt in JSON): fix the operator that builds it, or set onError: "skip" or "dead-letter" in the sink\'s options, .to(id, sink, { onError }). See docs/GUIDE.md#errors-and-dead-letters.' },
  SINK_IO: { kind: 'external', retryable: true, hint: 'Check that the output location is writable and has space. See docs/GUIDE.md#sources-and-sinks.' },
  TIMESTAMP_INVALID: { kind: 'user', retryable: false, hint: 'Event times are numbers of epoch milliseconds: make the timestamp function, or the time given to a timer, return one. See docs/GUIDE.md#event-time-and-watermarks.' },
  JOB_CANCELLED: { kind: 'user', retryable: false, hint: 'The job was stopped on request.' },
  CLI_USAGE: { kind: 'user', retryable: false, hint: 'Run `sluice --help` (or `sluice COMMAND --help`) for usage; see docs/GUIDE.md#job-files-and-the-cli.' },
  NEXMARK_UNKNOWN_QUERY: { kind: 'user', retryable: false, hint: 'Use one of q0, q1, q2, q3, q4, q5, q7, q8, q9, q11.' },
  JOB_NOT_DETERMINISTIC: { kind: 'user', retryable: false, hint: 'Build the pipeline the same way on every import: no random ids, no branches on time or environment. See docs/GUIDE.md#parallelism-and-workers.' },
  CHECKPOINT_CORRUPT: { kind: 'external', retryable: false, hint: 'The checkpoint file is damaged or partial; Sluice falls back to the previous complete one. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  CHECKPOINT_IO: { kind: 'external', retryable: true, hint: 'Check that the checkpoint directory is writable and has space. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  CHECKPOINT_INCOMPATIBLE: { kind: 'user', retryable: false, hint: 'Restore into a job that matches the checkpoint: stateful operators with their ids and state types, sources and sinks with their topics, files and tables, sources at their parallelism; pass --allow-non-restored-state for removed operators, or start without the checkpoint. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  CHECKPOINT_OPTION_INVALID: { kind: 'user', retryable: false, hint: 'Give the checkpoint interval and timeout at least 10 ms (--checkpoint-interval, --checkpoint-timeout; checkpoints.intervalMs, timeoutMs), retain a whole number >= 1, and savepointDir a directory path. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  CHECKPOINTS_DISABLED: { kind: 'user', retryable: false, hint: 'Savepoints need checkpoints: run the job with a checkpoint directory (sluice run --checkpoint-dir <dir>, or run({ checkpoints: { dir, intervalMs } })). See docs/GUIDE.md#checkpoints-and-guarantees.' },
  SAVEPOINT_NOT_FOUND: { kind: 'user', retryable: false, hint: 'Pass the path of a savepoint file (.sluice) as printed by sluice savepoint or POST /api/v1/jobs/:id/savepoints. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  STATE_NOT_PLAIN_DATA: { kind: 'user', retryable: false, hint: 'Keep operator state to plain data (numbers, strings, booleans, null, arrays, objects, Map, Set, Date, typed arrays): no functions or symbols. See docs/GUIDE.md#keyed-state-and-timers.' },
  STATE_DECLARATION_INVALID: { kind: 'user', retryable: false, hint: 'Declare each piece of keyed state under its own name (one name cannot be value state and map state at once), with a TTL of a positive number of milliseconds. See docs/GUIDE.md#keyed-state-and-timers.' },
  SERVER_TOKEN_INVALID: { kind: 'user', retryable: false, hint: 'Pass a non-empty secret without surrounding spaces (--token, the token option or SLUICE_TOKEN), or unset it on a loopback address. See docs/GUIDE.md#the-dashboard-and-the-diagnosis.' },
  SERVER_TOKEN_REQUIRED: { kind: 'user', retryable: false, hint: 'Pass a token (--token <secret>, the token option or SLUICE_TOKEN), or bind the server to a loopback address (--host 127.0.0.1). See docs/GUIDE.md#the-dashboard-and-the-diagnosis.' },
  SERVER_PORT_INVALID: { kind: 'user', retryable: false, hint: 'Pass --port (the port option) a whole number from 0 to 65535; 0 takes any free port. See docs/GUIDE.md#the-dashboard-and-the-diagnosis.' },
  SERVER_LISTEN_FAILED: { kind: 'external', retryable: false, hint: 'Pass a free port (--port <port>, --port 0 for any free one) and an address of this machine (--host), or run without the server (--no-server). See docs/GUIDE.md#the-dashboard-and-the-diagnosis.' },
  SERVER_ALLOWED_HOST_INVALID: { kind: 'user', retryable: false, hint: 'Pass a host name or IP address as the browser shows it, without scheme, port or path: --allowed-host sluice.example.com. See docs/GUIDE.md#the-dashboard-and-the-diagnosis.' },
  CHECKPOINT_LOCKED: { kind: 'user', retryable: false, hint: 'Another job uses this checkpoint directory: stop it first, or give this job its own --checkpoint-dir. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  SAVEPOINT_FAILED: { kind: 'external', retryable: true, hint: 'The job keeps running; fix the cause (a savepoint directory that is writable and has space) and ask again. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  JOB_NOT_RUNNING: { kind: 'user', retryable: false, hint: 'The job has ended (finished, stopped or failed); a savepoint needs a running job. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  CONNECTOR_UNREACHABLE: { kind: 'external', retryable: true, hint: 'Check that the server is running and listening at that address (for the test services: bash scripts/services.sh up), and that no firewall is in the way.' },
  CONNECTOR_AUTH: { kind: 'user', retryable: false, hint: 'Check the user name and password (or token) in the URI or the connector options. See docs/CONNECTORS.md.' },
  CONNECTOR_OPTION_INVALID: { kind: 'user', retryable: false, hint: 'Correct the source or sink option the message names to a value it takes; docs/CONNECTORS.md lists each connector\'s options.' },
  CONNECTOR_URI_INVALID: { kind: 'user', retryable: false, hint: 'Write it as scheme://HOST:PORT/NAME?option=value, e.g. kafka://127.0.0.1:9092/orders?group=billing; see docs/CONNECTORS.md for each scheme\'s options.' },
  CONNECTOR_NOT_FOUND: { kind: 'user', retryable: false, hint: 'Create the topic, stream, key or table first, or let the sink create it (see the connector\'s options). See docs/CONNECTORS.md.' },
  CONNECTOR_UNSUPPORTED: { kind: 'user', retryable: false, hint: 'The server lacks a feature this option needs: upgrade the server or drop the option. See docs/CONNECTORS.md.' },
  CONNECTOR_FENCED: { kind: 'external', retryable: true, hint: 'A newer instance of this job took over the output; this one stops writing. Run one instance of a job per output. See docs/GUIDE.md#checkpoints-and-guarantees.' },
  WORKER_FAILED: { kind: 'internal', retryable: true, hint: 'A worker thread died; see the cause. If it ran out of memory, lower parallelism or state size. See docs/GUIDE.md#parallelism-and-workers.' },
  NODE_UNSUPPORTED: { kind: 'user', retryable: false, hint: 'Run Sluice on Node.js 20.19 or later (node --version shows the one in use).' },
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
  return typeof e === 'object' && e !== null && isErrorCode((e as { code?: unknown }).code)
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
}

export function describeCause(e: unknown): string {
  if (e instanceof Error) return e.message
  return String(e)
}

/**
 * What went wrong, without a SluiceError's code: for a message or a bad-record reason that wraps
 * `e` under a code of its own (a SOURCE_MALFORMED_RECORD that says why the payload is not JSON).
 */
export function reasonOf(e: unknown): string {
  return isSluiceError(e) ? withoutCode(e.code, String(e.message)) : describeCause(e)
}

/** `suffix` at the end of the message's first line: below it may come an excerpt of a file with a caret. */
function withSuffix(message: string, suffix: string): string {
  const nl = message.indexOf('\n')
  return nl < 0 ? `${message}${suffix}` : `${message.slice(0, nl)}${suffix}${message.slice(nl)}`
}

function withoutCode(code: string, message: string): string {
  return message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message
}

/**
 * An error as plain data that survives `postMessage` (structured clone drops an error's class and
 * its own fields): what a reader on the other thread needs to match on it and to debug it.
 */
export interface SerializedError {
  /** `SluiceError`, `CodecError`, `TypeError`… */
  readonly name: string
  /** A catalogue code, or a foreign error's own string code (`ENOENT`, `ERR_MODULE_NOT_FOUND`). */
  readonly code?: string
  /** As the error had it: a SluiceError's starts with its code. */
  readonly message: string
  /** A catalogue code's; the receiving side takes them from its own catalogue. */
  readonly kind?: ErrorKind
  readonly retryable?: boolean
  /** The stack where it was thrown, on the thread it was thrown on. */
  readonly stack?: string
  /** At most MAX_CAUSE_DEPTH causes deep; a cause seen before in the chain ends it. */
  readonly cause?: SerializedError
  /** The error's other own fields of plain value: a CodecError's recordIndex, a Kafka apiCode, errno, path. */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>
}

/** Causes kept below the error itself when it crosses a thread. */
export const MAX_CAUSE_DEPTH = 8
const MAX_DETAILS = 16
const MAX_DETAIL_CHARS = 1000
/** Fields a SerializedError carries by name, or derives from the code. */
const NOT_DETAILS = new Set(['name', 'message', 'stack', 'cause', 'code', 'kind', 'retryable', 'hint'])

/** `e` (anything thrown) as a SerializedError, to post to another thread. */
export function serializeError(e: unknown): SerializedError {
  return serializeAt(e, 0, new Set())
}

function serializeAt(e: unknown, depth: number, seen: Set<object>): SerializedError {
  if (typeof e !== 'object' || e === null) return { name: 'Error', message: String(e) }
  seen.add(e)
  const o = e as Record<string, unknown>
  const code = typeof o.code === 'string' ? o.code : undefined
  const info = isErrorCode(code) ? ERROR_CODES[code] : undefined
  const cause = o.cause
  const details: Record<string, string | number | boolean | null> = {}
  let detailCount = 0
  for (const key of Object.keys(o)) {
    if (detailCount === MAX_DETAILS) break
    if (NOT_DETAILS.has(key) && !(key === 'code' && code === undefined)) continue
    const v = o[key]
    const plain = typeof v === 'string' ? v.slice(0, MAX_DETAIL_CHARS) : typeof v === 'number' || typeof v === 'boolean' || v === null ? v : typeof v === 'bigint' ? String(v) : undefined
    if (plain === undefined) continue
    details[key] = plain
    detailCount++
  }
  return {
    name: typeof o.name === 'string' ? o.name : 'Error',
    ...(code === undefined ? {} : { code }),
    message: typeof o.message === 'string' ? o.message : describeObject(o),
    ...(info === undefined ? {} : { kind: info.kind, retryable: info.retryable }),
    ...(typeof o.stack === 'string' ? { stack: o.stack } : {}),
    ...(cause === undefined || depth >= MAX_CAUSE_DEPTH || (typeof cause === 'object' && cause !== null && seen.has(cause)) ? {} : { cause: serializeAt(cause, depth + 1, seen) }),
    ...(detailCount === 0 ? {} : { details }),
  }
}

function describeObject(o: object): string {
  try {
    return JSON.stringify(o) ?? String(o)
  } catch {
    return String(o)
  }
}

/**
 * The error a SerializedError describes, on this thread, as a SluiceError: a catalogue code is
 * kept (kind, retryable and hint from this thread's catalogue); any other error becomes INTERNAL
 * with the original as its cause. Message, stack, causes and details are the other thread's;
 * `where` ("worker 1 of 2") is appended to the message.
 */
export function deserializeError(x: SerializedError, where?: string): SluiceError {
  const suffix = where === undefined ? '' : ` (${where})`
  if (isErrorCode(x.code)) return revive(x, suffix) as SluiceError
  const original = revive(x, '')
  const e = new SluiceError('INTERNAL', `${x.name === 'Error' ? '' : `${x.name}: `}${x.message}${suffix}`, { cause: original })
  if (x.stack !== undefined) e.stack = x.stack
  return e
}

function revive(x: SerializedError, suffix: string): Error {
  const options = x.cause === undefined ? undefined : { cause: revive(x.cause, '') }
  const e = isErrorCode(x.code) ? new SluiceError(x.code, withSuffix(withoutCode(x.code, x.message), suffix), options) : new Error(x.message, options)
  e.name = x.name
  if (x.stack !== undefined) e.stack = x.stack
  const own = e as unknown as Record<string, unknown>
  if (x.code !== undefined && !isErrorCode(x.code)) own.code = x.code
  if (x.details !== undefined) for (const [k, v] of Object.entries(x.details)) if (!(k in own)) own[k] = v
  return e
}
