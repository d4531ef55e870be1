/**
 * Reads a file of JSON Lines, CSV or plain lines in large chunks, in whole or as a byte range so
 * that several readers can split one file.
 */
import { readSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { describeCause, SluiceError } from '../errors.ts'
import { CSV_NEED_MORE, CSV_RECORD, CsvDecoder, validateCsvOptions, type CsvOptions, type CsvStart } from './csv.ts'
import { checkLineFormat, checkMaxLineBytes, LineRecordReader, LineSplitter, type LineFormat } from './lines.ts'
import { badPosition, positionInteger, positionIntegerOrNull } from './position.ts'
import type { Source, SourceContext, SourcePosition, SourceReader } from './spi.ts'

const DEFAULT_CHUNK_BYTES = 1024 * 1024
const HEADER_CHUNK_BYTES = 64 * 1024
/** Past the end of its range a reader only needs the rest of one line: read less from there. */
const PAST_RANGE_READ_BYTES = 64 * 1024

export interface FileSourceOptions<T> {
  /** Default from the extension: ".csv" is CSV, anything else JSON Lines. */
  readonly format?: LineFormat
  /** Validates or converts each decoded record; throwing marks the line malformed with the message. */
  readonly parse?: (value: unknown) => T
  readonly csv?: CsvOptions
  /**
   * Read only the records whose first line starts within [startByte, endByte). Readers given
   * adjacent ranges together read every record once (a CSV split must not start inside a
   * quoted field that spans lines).
   */
  readonly startByte?: number
  readonly endByte?: number
  /** Bytes per read (default 1 MiB). */
  readonly chunkSize?: number
  /**
   * The longest line, in bytes (default 16 MiB, at most ~512 MiB). A longer line is malformed:
   * reported to the source's onError policy with its length and first 1 KiB, and never held
   * whole in memory (the rest is skipped as it is read).
   */
  readonly maxLineBytes?: number
}

/**
 * Checkpoint position of a file reader: it goes on with the records whose first line starts at
 * or after `byteOffset` (always a line start, or where its byte range starts) and before
 * `endByte`, the end of its range (null: the end of the file). `line` counts the lines before
 * `byteOffset`'s line, for error messages (null until counted: a split reader counts them
 * only when it first reports a bad record).
 */
export type FilePosition = { readonly byteOffset: number; readonly line: number | null; readonly endByte: number | null }

/**
 * A bounded source of the records in a file: JSON Lines (one JSON value a line), CSV (RFC 4180,
 * header row names the fields) or plain lines. Empty lines are skipped; a line that does not
 * decode is reported to the error policy with its line number and byte offset. Replayable: a
 * reader resumes from a `FilePosition` (the file must not change in between). CSV columns are
 * typed: as declared in `csv.types`, the others inferred from the file's first record (`csv.infer`,
 * default true; see CsvOptions and docs/GUIDE.md#csv-columns).
 *
 * @example
 * ```ts
 * const parseBid = (v: unknown): Bid => v as Bid
 * pipeline.source('bids', fileSource<Bid>('bids.jsonl', { parse: parseBid }))
 * pipeline.source('trades', fileSource('trades.csv', { csv: { types: { price: 'number' } } }))
 * ```
 */
export function fileSource<T = unknown>(path: string, options: FileSourceOptions<T> = {}): FileSource<T> {
  return new FileSource(path, options)
}

export class FileSource<T> implements Source<T> {
  readonly kind = 'file'
  readonly bounded = true
  /**
   * JSON Lines and plain lines split by byte ranges across parallel readers (each takes the
   * lines that start in its share). CSV does not: a range could start inside a quoted field that
   * spans lines. Neither does a source given its own startByte/endByte.
   */
  readonly splittable: boolean
  readonly replayable = true
  private readonly format: LineFormat
  private readonly startByte: number
  private readonly endByte: number
  private readonly chunkSize: number
  private readonly maxLineBytes: number

  constructor(private readonly path: string, private readonly options: FileSourceOptions<T>) {
    this.format = options.format === undefined
      ? (/\.csv$/i.test(path) ? 'csv' : 'jsonl')
      : checkLineFormat(options.format, ['jsonl', 'csv', 'lines'])
    if (this.format === 'csv') validateCsvOptions(options.csv)
    this.startByte = options.startByte ?? 0
    this.endByte = options.endByte ?? Infinity
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_BYTES
    if (!Number.isSafeInteger(this.startByte) || this.startByte < 0) invalid('startByte', 'a whole number >= 0', options.startByte)
    if (this.endByte !== Infinity && (!Number.isSafeInteger(this.endByte) || this.endByte < this.startByte)) {
      invalid('endByte', `a whole number >= startByte (${this.startByte})`, options.endByte)
    }
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 1) invalid('chunkSize', 'a whole number >= 1', options.chunkSize)
    this.maxLineBytes = checkMaxLineBytes('fileSource', options.maxLineBytes)
    if (options.parse !== undefined && typeof options.parse !== 'function') invalid('parse', 'a function', options.parse)
    this.splittable = this.format !== 'csv' && options.startByte === undefined && options.endByte === undefined
  }

  async open(ctx: SourceContext, from?: SourcePosition): Promise<FileSourceReader<T>> {
    const path = this.path
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (e) {
      throw new SluiceError('SOURCE_IO', `cannot open ${path}: ${describeCause(e)}`, { cause: e })
    }
    try {
      const stat = await handle.stat()
      if (stat.isDirectory()) throw new SluiceError('SOURCE_IO', `cannot read ${path}: it is a directory`)
      let { startByte, endByte } = this
      if (this.splittable && ctx.parallelism > 1) {
        startByte = Math.floor((stat.size * ctx.subtaskIndex) / ctx.parallelism)
        endByte = ctx.subtaskIndex === ctx.parallelism - 1 ? Infinity : Math.floor((stat.size * (ctx.subtaskIndex + 1)) / ctx.parallelism)
      }
      // Resuming is starting a narrower range: the lines that start in [byteOffset, endByte).
      let lineBase: number | null = startByte === 0 ? 0 : null
      if (from !== undefined) {
        const resume = checkFilePosition(from, path, startByte, endByte, stat.size)
        startByte = resume.byteOffset
        lineBase = resume.line ?? (startByte === 0 ? 0 : null)
      }
      const csvStart = this.format === 'csv' && startByte > 0 ? await readCsvStart(handle, this.options.csv) : undefined
      // A range starting past 0 begins one byte early: if that byte is "\n", a line starts
      // exactly at startByte and is ours; otherwise the partial line belongs to the range before.
      const readFrom = startByte > 0 ? startByte - 1 : 0
      const records = new LineRecordReader<T>(ctx, {
        name: path,
        format: this.format,
        parse: this.options.parse,
        csv: this.options.csv,
        startByte: readFrom,
        skipFirstLine: startByte > 0,
        stopByte: endByte,
        lineBase: lineBase ?? ((firstLineStart) => countNewlines(handle.fd, firstLineStart)),
        csvStart,
        rangeStart: startByte,
        maxLineBytes: this.maxLineBytes,
      })
      return new FileSourceReader(handle, path, records, Buffer.allocUnsafe(this.chunkSize), readFrom, endByte)
    } catch (e) {
      await handle.close().catch(() => undefined)
      if (e instanceof SluiceError) throw e
      throw new SluiceError('SOURCE_IO', `cannot read ${path}: ${describeCause(e)}`, { cause: e })
    }
  }
}

/**
 * Reads chunk after chunk, keeping the next read in flight while the current chunk is decoded.
 */
export class FileSourceReader<T> implements SourceReader<T> {
  private filePosition: number
  private inFlight: Promise<number> | null = null
  private readError: unknown = undefined
  private closing: Promise<void> | null = null

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly records: LineRecordReader<T>,
    private readonly chunk: Buffer,
    readFrom: number,
    private readonly endByte: number,
  ) {
    this.filePosition = readFrom
  }

  read(out: T[], max: number): number | Promise<number> {
    const n = this.records.decode(out, max)
    if (n > 0) return n
    if (this.records.finished) {
      this.release()
      return -1
    }
    return this.readMore(out, max)
  }

  /** "events.jsonl byte 88120 (line 1532)", after the last line consumed. */
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

  snapshotPosition(): FilePosition {
    const { byteOffset, line } = this.records.resumePoint()
    return { byteOffset, line, endByte: this.endByte === Infinity ? null : this.endByte }
  }

  close(): Promise<void> {
    this.release()
    return this.closing ?? Promise.resolve()
  }

  private async readMore(out: T[], max: number): Promise<number> {
    for (;;) {
      await this.fill()
      const n = this.records.decode(out, max)
      if (n > 0) return n
      if (this.records.finished) {
        this.release()
        return -1
      }
    }
  }

  private async fill(): Promise<void> {
    if (this.closing !== null) throw new SluiceError('SOURCE_IO', `cannot read ${this.path}: the reader is closed`)
    const bytesRead = await (this.inFlight ?? this.startRead())
    this.inFlight = null
    if (bytesRead < 0) {
      throw new SluiceError('SOURCE_IO', `cannot read ${this.path}: ${describeCause(this.readError)}`, { cause: this.readError })
    }
    if (bytesRead === 0) {
      this.records.end()
      return
    }
    this.records.push(this.chunk.subarray(0, bytesRead))
    this.filePosition += bytesRead
    this.inFlight = this.startRead()
  }

  /** Resolves to the bytes read into `chunk`, or -1 with `readError` set: never rejects, so an
   * abandoned prefetch cannot become an unhandled rejection. */
  private startRead(): Promise<number> {
    const length = Math.min(this.chunk.length, Math.max(PAST_RANGE_READ_BYTES, this.endByte - this.filePosition))
    return this.handle.read(this.chunk, 0, length, this.filePosition).then(
      (r) => r.bytesRead,
      (e: unknown) => {
        this.readError = e
        return -1
      },
    )
  }

  /** FileHandle.close waits for a read still in flight. */
  private release(): void {
    if (this.closing === null) this.closing = this.handle.close().catch(() => undefined)
  }
}

/**
 * The header row of a CSV file (if it has one) and its first record with as many fields as there
 * are columns, for a reader whose range starts after them: it names the columns and infers their
 * types from them as a reader from the start of the file does.
 */
async function readCsvStart(handle: FileHandle, options: CsvOptions | undefined): Promise<CsvStart> {
  const splitter = new LineSplitter(0, false)
  const decoder = new CsvDecoder({ delimiter: options?.delimiter, header: false })
  const chunk = Buffer.allocUnsafe(HEADER_CHUNK_BYTES)
  const wantsHeader = options?.header !== false
  let header: string[] | undefined
  let position = 0
  for (;;) {
    while (splitter.next()) {
      if (splitter.line.length === 0 && !decoder.pending) continue
      const status = decoder.feed(splitter.line, splitter.crlf)
      if (status === CSV_NEED_MORE) continue
      if (wantsHeader && header === undefined) {
        header = decoder.lastFields()
        if (options?.infer === false) return { header, firstRecord: undefined }
        continue
      }
      const width = (options?.columns ?? header)?.length
      if (width === undefined || options?.infer === false) return { header, firstRecord: undefined }
      if (status === CSV_RECORD && decoder.lastFields().length === width) return { header, firstRecord: decoder.lastFields() }
    }
    if (splitter.done) return { header, firstRecord: undefined }
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position)
    if (bytesRead === 0) splitter.end()
    else splitter.push(chunk.subarray(0, bytesRead))
    position += bytesRead
  }
}

/**
 * Newlines before `end`, giving the line numbers of a range that starts mid-file. Synchronous
 * because it runs only on the rare path of reporting a bad record (position() leaves the line
 * out until then), which must happen inside the synchronous decode loop.
 */
function countNewlines(fd: number, end: number): number {
  const chunk = Buffer.allocUnsafe(DEFAULT_CHUNK_BYTES)
  let count = 0
  let position = 0
  while (position < end) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, end - position), position)
    if (n === 0) break
    const bytes = chunk.subarray(0, n)
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) count++
    position += n
  }
  return count
}

/** Checks that a position belongs to this reader's range of this file. */
function checkFilePosition(from: SourcePosition, path: string, startByte: number, endByte: number, size: number): { byteOffset: number; line: number | null } {
  const byteOffset = positionInteger('file', from, 'byteOffset')
  const line = positionIntegerOrNull('file', from, 'line')
  const end = positionIntegerOrNull('file', from, 'endByte') ?? Infinity
  if (end !== endByte) {
    throw badPosition('file', from, `it was taken for a byte range ending at ${end}, but this reader's range of ${path} ends at ${endByte} (did the parallelism or the file change?)`)
  }
  if (byteOffset < startByte) {
    throw badPosition('file', from, `byte ${byteOffset} is before this reader's range of ${path}, which starts at ${startByte} (did the parallelism change?)`)
  }
  if (byteOffset > size) {
    throw new SluiceError('SOURCE_IO', `cannot resume reading ${path} at byte ${byteOffset}: the file has only ${size} bytes (it changed since the checkpoint)`)
  }
  return { byteOffset, line }
}

function invalid(option: string, expected: string, got: unknown): never {
  throw new SluiceError('CONNECTOR_OPTION_INVALID', `fileSource option ${option} must be ${expected}, got ${String(got)}`)
}
