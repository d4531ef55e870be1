/**
 * HTTP ingest: records POSTed to the job's monitoring server (JSON or NDJSON) enter the job
 * through a bounded buffer; a full buffer answers 429 with Retry-After (docs/connectors/http.md).
 *
 * Threads. The server always runs on the main thread, so the buffer lives in the main thread's
 * instance of the source (the one in the graph the server sees). In one thread the reader takes
 * from it directly; on worker threads the reading worker's instance pulls from it through the
 * feed (http-feed.ts).
 */
import type { MessagePort } from 'node:worker_threads'
import { SluiceError } from '../errors.ts'
import { systemClock } from '../time/clock.ts'
import { bodyText, decodeBody, type IngestFormat } from './ingest-body.ts'
import { IngestBuffer, type IngestStats } from './ingest-buffer.ts'
import { FedReader, FeedServer, idleWait } from './http-feed.ts'
import type { PartitionProgress, Source, SourceContext, SourceReader } from './spi.ts'

export type { IngestStats } from './ingest-buffer.ts'
export type { IngestFormat } from './ingest-body.ts'

export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
export const DEFAULT_MAX_BUFFERED_RECORDS = 10_000
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 16

export interface HttpSourceOptions<T> {
  /** The last segment of the endpoint, POST /api/v1/jobs/:job/ingest/:path. Default: the source's id. */
  readonly path?: string
  /** The largest request body, in bytes (default 16 MiB); larger ones are answered 413. */
  readonly maxBodyBytes?: number
  /** The bound of the buffer between the server and the job, in records (default 10 000). */
  readonly maxBufferedRecords?: number
  /** Request bodies read at once (default 16); more are answered 429, so bodies in memory are bounded too. */
  readonly maxConcurrentRequests?: number
  /** Validates or converts each record at ingest; throwing refuses the request (400) with the message. */
  readonly parse?: (value: unknown) => T
}

/** How the server answers one ingest request. */
export type IngestOutcome =
  | { readonly status: 202; readonly accepted: number }
  | { readonly status: 400; readonly code: 'INGEST_MALFORMED'; readonly message: string; readonly line: number | null }
  | { readonly status: 413; readonly code: 'INGEST_TOO_MANY_RECORDS'; readonly message: string }
  | { readonly status: 429; readonly code: 'INGEST_BACKPRESSURE'; readonly message: string; readonly retryAfterSeconds: number }

/** What the monitoring server needs of an ingest source (see monitoring/ingest-route.ts). */
export interface IngestTarget {
  readonly kind: 'http'
  /** The endpoint's last segment; undefined: the source's id. */
  readonly path: string | undefined
  readonly maxBodyBytes: number
  readonly maxConcurrentRequests: number
  /** Request bodies being read now (the route counts them). */
  requestsInFlight: number
  /** The buffer is full: a request is refused before its body is read. */
  full(): boolean
  /** Seconds a refused sender should wait. */
  retryAfterSeconds(): number
  /** Decodes a body and puts its records in the buffer, all or none; counts the outcome. */
  ingest(body: Uint8Array, format: IngestFormat): IngestOutcome
  /** Counts a request refused before `ingest` (429 busy or full, 413 body too large, 400 not UTF-8). */
  countRefused(kind: 'rejected' | 'tooLarge' | 'malformed'): void
  stats(): IngestStats
}

/** The source's instance as the server's ingest target, or null for any other source. */
export function asIngestTarget(source: Source<unknown>): IngestTarget | null {
  const s = source as Partial<IngestTarget>
  return s.kind === 'http' && typeof s.ingest === 'function' && typeof s.stats === 'function' ? (source as unknown as IngestTarget) : null
}

/**
 * A source of the records POSTed to `POST /api/v1/jobs/:job/ingest/:path` on the job's monitoring
 * server: `application/json` (one record, or an array of records) or `application/x-ndjson` (one
 * a line). Unbounded (the job runs until stopped), one reader (parallelism 1). Works in one thread
 * and on worker threads. The server answers 202 once a request's records are in the bounded
 * buffer, 429 with Retry-After when they do not fit (the whole request is refused, never part of
 * it), 400 naming the line of malformed input (nothing of that request enters).
 *
 * Not replayable: records accepted (202) but not yet through a completed checkpoint are lost if
 * the job fails. For replay, land the records in a broker first and read that.
 *
 * @example
 * ```ts
 * // curl -X POST -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/x-ndjson' \
 * //   --data-binary @orders.ndjson http://host:8420/api/v1/jobs/orders/ingest/orders
 * interface Order { id: string; amount: number }
 * const parseOrder = (v: unknown): Order => v as Order
 * pipeline.source('orders', httpSource<Order>({ parse: parseOrder })).to('out', fileSink('orders.jsonl'))
 * ```
 */
export function httpSource<T = unknown>(options: HttpSourceOptions<T> = {}): HttpSource<T> {
  return new HttpSource(options)
}

export class HttpSource<T> implements Source<T> {
  readonly kind = 'http'
  readonly bounded = false
  readonly replayable = false
  readonly splittable = false
  readonly path: string | undefined
  readonly maxBodyBytes: number
  readonly maxBufferedRecords: number
  readonly maxConcurrentRequests: number
  /** @internal The monitoring server's count of ingest requests being read. */
  requestsInFlight = 0
  private readonly parse: ((value: unknown) => T) | undefined
  private readonly buffer: IngestBuffer<T>
  private readonly counts = { acceptedRequests: 0, acceptedRecords: 0, rejectedRequests: 0, rejectedRecords: 0, malformedRequests: 0, tooLargeRequests: 0 }
  /** Main thread, on worker threads: the end the reading worker pulls from. */
  private feed: FeedServer<T> | null = null
  /** A worker's instance: the end it pulls through. */
  private workerPort: MessagePort | null = null
  /** The id of the source that opened this instance. */
  private owner: string | null = null

  constructor(options: HttpSourceOptions<T>) {
    if (options.path !== undefined && (typeof options.path !== 'string' || !/^[A-Za-z0-9._~-]{1,128}$/.test(options.path))) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `httpSource option path must be one URL path segment of letters, digits, ".", "_", "~" or "-" (it ends /api/v1/jobs/:job/ingest/:path), got ${JSON.stringify(options.path)}`)
    }
    if (options.parse !== undefined && typeof options.parse !== 'function') {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `httpSource option parse must be a function, got ${typeof options.parse}`)
    }
    this.path = options.path
    this.maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES)
    this.maxBufferedRecords = positive('maxBufferedRecords', options.maxBufferedRecords, DEFAULT_MAX_BUFFERED_RECORDS)
    this.maxConcurrentRequests = positive('maxConcurrentRequests', options.maxConcurrentRequests, DEFAULT_MAX_CONCURRENT_REQUESTS)
    this.parse = options.parse
    this.buffer = new IngestBuffer<T>(this.maxBufferedRecords, systemClock)
  }

  open(ctx: SourceContext): SourceReader<T> {
    // One buffer, one endpoint: two sources sharing an instance would split its records between them.
    if (this.owner !== null && this.owner !== ctx.sourceId) {
      throw new SluiceError('JOB_ARGUMENT_INVALID', `one httpSource() is used by two sources, "${this.owner}" and "${ctx.sourceId}"; call httpSource() once per source (with its own path)`)
    }
    this.owner = ctx.sourceId
    const where = `http ingest ${this.path ?? ctx.sourceId}`
    return this.workerPort !== null ? new FedReader<T>(this.workerPort, where) : new BufferReader<T>(this.buffer, where)
  }

  /** @internal The coordinator links the main thread's buffer to the reading worker. */
  attachFeed(port: MessagePort, end: 'main' | 'worker'): void {
    if (end === 'worker') {
      this.workerPort = port
      return
    }
    this.feed?.close()
    this.feed = new FeedServer(port, this.buffer)
  }

  /** @internal The monitoring server's side (IngestTarget), from here to `ingest`. */
  full(): boolean {
    return !this.buffer.fits(1)
  }

  /** @internal */
  retryAfterSeconds(): number {
    return this.buffer.retryAfterSeconds(Math.max(1, this.buffer.length - this.maxBufferedRecords / 2))
  }

  /** @internal */
  ingest(body: Uint8Array, format: IngestFormat): IngestOutcome {
    const text = bodyText(body)
    if (text === null) {
      this.counts.malformedRequests++
      return { status: 400, code: 'INGEST_MALFORMED', message: 'the body is not valid UTF-8; send JSON text in UTF-8. Nothing of this request was accepted', line: null }
    }
    const decoded = decodeBody(text, format, this.parse)
    if (!decoded.ok) {
      this.counts.malformedRequests++
      return { status: 400, code: 'INGEST_MALFORMED', message: `${decoded.message}; nothing of this request was accepted: fix it and send it again`, line: decoded.line }
    }
    const n = decoded.records.length
    if (n > this.maxBufferedRecords) {
      this.counts.tooLargeRequests++
      return { status: 413, code: 'INGEST_TOO_MANY_RECORDS', message: `the request holds ${n} records, more than the buffer's ${this.maxBufferedRecords} (maxBufferedRecords); send at most ${this.maxBufferedRecords} per request` }
    }
    if (!this.buffer.offer(decoded.records)) {
      this.counts.rejectedRequests++
      this.counts.rejectedRecords += n
      const free = this.maxBufferedRecords - this.buffer.length
      return { status: 429, code: 'INGEST_BACKPRESSURE', message: `the job is behind: its buffer holds ${this.buffer.length} of ${this.maxBufferedRecords} records and the request's ${n} do not fit (room for ${free}); nothing of it was accepted: send it again after Retry-After`, retryAfterSeconds: this.buffer.retryAfterSeconds(n - free) }
    }
    this.counts.acceptedRequests++
    this.counts.acceptedRecords += n
    return { status: 202, accepted: n }
  }

  countRefused(kind: 'rejected' | 'tooLarge' | 'malformed'): void {
    if (kind === 'rejected') this.counts.rejectedRequests++
    else if (kind === 'tooLarge') this.counts.tooLargeRequests++
    else this.counts.malformedRequests++
  }

  stats(): IngestStats {
    return { buffered: this.buffer.length, maxBufferedRecords: this.maxBufferedRecords, highWaterRecords: this.buffer.highWater, ...this.counts, takenRecords: this.buffer.taken }
  }
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v <= 0) throw new SluiceError('CONNECTOR_OPTION_INVALID', `httpSource option ${name} must be a positive whole number, got ${String(v)}`)
  return v
}

/** One thread: takes straight from the buffer. */
class BufferReader<T> implements SourceReader<T> {
  private read_ = 0
  private closed = false

  constructor(private readonly buffer: IngestBuffer<T>, private readonly where: string) {}

  read(out: T[], max: number): number | Promise<number> {
    const n = this.buffer.take(out, max)
    if (n > 0 || this.closed) return this.count(n)
    return idleWait((wake) => this.buffer.onAvailable(wake)).then(() => this.count(this.buffer.take(out, max)))
  }

  position(): string {
    return `${this.where}: ${this.read_} records read`
  }

  progress(): readonly PartitionProgress[] {
    return [{ partition: 'buffer', position: `${this.read_} records read`, lag: this.buffer.length }]
  }

  close(): void {
    this.closed = true
  }

  private count(n: number): number {
    this.read_ += n
    return n
  }
}
