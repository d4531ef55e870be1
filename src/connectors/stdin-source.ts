/**
 * Reads records line by line from standard input (or any byte stream), decoding them exactly as
 * the file source does.
 */
import type { Readable } from 'node:stream'
import { describeCause, SluiceError } from '../errors.ts'
import { validateCsvOptions, type CsvOptions } from './csv.ts'
import { checkLineFormat, checkMaxLineBytes, LineRecordReader, type LineFormat } from './lines.ts'
import type { Source, SourceContext, SourceReader } from './spi.ts'

/** How long a read waits for input before returning 0, so the task stays responsive. */
const IDLE_WAKE_MS = 100
const WOULD_WAIT = -2

export interface StdinSourceOptions<T> {
  /** Default 'jsonl'. */
  readonly format?: LineFormat
  /** Validates or converts each decoded record; throwing marks the line malformed with the message. */
  readonly parse?: (value: unknown) => T
  readonly csv?: CsvOptions
  /** Read this stream instead of process.stdin (tests, sockets). */
  readonly stream?: Readable
  /** Names the input in positions (default "stdin"). */
  readonly name?: string
  /** The longest line, in bytes (default 16 MiB); longer ones are malformed and never held whole. See fileSource. */
  readonly maxLineBytes?: number
}

/**
 * A source of the records arriving on standard input, one a line: JSON Lines, CSV or plain
 * lines. Bounded: it ends when the input does. The stream is read, never closed. CSV columns are
 * typed as in fileSource: `csv.types` declares them, the others are inferred from the first record.
 *
 * Not replayable: what was read cannot be read again, so on recovery from a checkpoint the
 * records read after it are lost. A job reading stdin has no delivery guarantee across a
 * failure; for exactly-once, write the input to a file and use `fileSource`.
 *
 * @example
 * ```ts
 * // cat bids.jsonl | sluice run job.ts
 * pipeline.source('bids', stdinSource<Bid>({ parse: (v) => v as Bid }))
 * ```
 */
export function stdinSource<T = unknown>(options: StdinSourceOptions<T> = {}): StdinSource<T> {
  return new StdinSource(options)
}

export class StdinSource<T> implements Source<T> {
  readonly kind = 'stdin'
  readonly bounded = true
  readonly replayable = false
  private readonly format: LineFormat
  private readonly maxLineBytes: number

  constructor(private readonly options: StdinSourceOptions<T>) {
    this.format = checkLineFormat(options.format ?? 'jsonl', ['jsonl', 'csv', 'lines'])
    this.maxLineBytes = checkMaxLineBytes('stdinSource', options.maxLineBytes)
    if (this.format === 'csv') validateCsvOptions(options.csv)
    if (options.parse !== undefined && typeof options.parse !== 'function') {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `stdinSource option parse must be a function, got ${String(options.parse)}`)
    }
  }

  open(ctx: SourceContext): StdinSourceReader<T> {
    const name = this.options.name ?? 'stdin'
    const records = new LineRecordReader<T>(ctx, {
      name,
      format: this.format,
      parse: this.options.parse,
      csv: this.options.csv,
      startByte: 0,
      skipFirstLine: false,
      stopByte: Infinity,
      lineBase: 0,
      maxLineBytes: this.maxLineBytes,
    })
    return new StdinSourceReader(this.options.stream ?? process.stdin, name, records)
  }
}

/**
 * Pulls chunks with `stream.read()` (paused mode), so input is only taken off the stream as fast
 * as the job consumes it.
 */
export class StdinSourceReader<T> implements SourceReader<T> {
  private ended = false
  private error: unknown = undefined
  private wake: (() => void) | null = null
  private readonly onSignal = (): void => this.notify()
  private readonly onEnd = (): void => {
    this.ended = true
    this.notify()
  }
  private readonly onError = (e: unknown): void => {
    this.error = e
    this.notify()
  }

  constructor(private readonly stream: Readable, private readonly name: string, private readonly records: LineRecordReader<T>) {
    stream.on('readable', this.onSignal)
    stream.on('end', this.onEnd)
    stream.on('error', this.onError)
    if (stream.readableEnded) this.ended = true
  }

  read(out: T[], max: number): number | Promise<number> {
    const n = this.readAvailable(out, max)
    return n === WOULD_WAIT ? this.waitAndRead(out, max) : n
  }

  position(): string {
    return this.records.position()
  }

  /** Absolute byte offset after the last line consumed. */
  byteOffset(): number {
    return this.records.byteOffset
  }

  positionOf(i: number): string {
    return this.records.positionOf(i)
  }

  rawOf(i: number): string | Uint8Array | undefined {
    return this.records.rawOf(i)
  }

  close(): void {
    this.stream.off('readable', this.onSignal)
    this.stream.off('end', this.onEnd)
    this.stream.off('error', this.onError)
    // Stops reading ahead, so a cancelled job does not keep process.stdin (and the process) alive.
    if (!this.ended) this.stream.pause()
    this.notify()
  }

  /** Decodes what has arrived; WOULD_WAIT when that is nothing and the input goes on. */
  private readAvailable(out: T[], max: number): number {
    for (;;) {
      const n = this.records.decode(out, max)
      if (n > 0) return n
      if (this.records.finished) return -1
      if (this.error !== undefined) {
        throw new SluiceError('SOURCE_IO', `cannot read ${this.name}: ${describeCause(this.error)}`, { cause: this.error })
      }
      const chunk: unknown = this.stream.read()
      if (chunk !== null) {
        this.records.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Uint8Array))
      } else if (this.ended) {
        this.records.end()
      } else {
        return WOULD_WAIT
      }
    }
  }

  /** One wait per call: with still nothing to read, it returns 0 and the task comes back. */
  private async waitAndRead(out: T[], max: number): Promise<number> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.notify(), IDLE_WAKE_MS)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    const n = this.readAvailable(out, max)
    return n === WOULD_WAIT ? 0 : n
  }

  private notify(): void {
    const wake = this.wake
    this.wake = null
    if (wake !== null) wake()
  }
}
