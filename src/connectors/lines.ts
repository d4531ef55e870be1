/**
 * Line-oriented record decoding shared by the file and stdin sources, and line encoding shared by
 * the stdout and file sinks. Bytes go in as they arrive (any chunking); records come out with the
 * line number and byte offset of each, so a bad one can be reported precisely.
 */
import { describeCause, SluiceError } from '../errors.ts'
import { CSV_HEADER, CSV_MALFORMED, CSV_NEED_MORE, CsvDecoder, type CsvOptions } from './csv.ts'
import type { SourceContext } from './spi.ts'

export type LineFormat = 'jsonl' | 'csv' | 'lines'

const NEWLINE = 10
const CARRIAGE_RETURN = 13
const MIN_BUFFER_BYTES = 64 * 1024

/**
 * Decodes bytes [start, end) of a buffer as UTF-8. Buffer#utf8Slice is what Buffer#toString
 * calls after checking its arguments; calling it directly saves ~8% of JSON Lines decoding.
 * It is undocumented, so fall back to toString where it is missing.
 */
const decodeUtf8: (buffer: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (buffer, start, end) => (buffer as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)
    : (buffer, start, end) => buffer.toString('utf8', start, end)

/**
 * Splits bytes into lines, decoding each as UTF-8. Lines are cut at "\n" bytes, which never occur
 * inside a multi-byte UTF-8 sequence, so a character split across chunks is decoded whole. A line
 * is only decoded once its newline (or the end of input) has arrived.
 */
export class LineSplitter {
  /** The line returned by the last `next()`, without its "\n" or "\r\n". */
  line = ''
  /** Absolute byte offset where that line starts. */
  lineStart = 0
  /** Absolute byte offset just after its line break. */
  lineEnd = 0
  /** Whether it ended in "\r\n". */
  crlf = false
  /** Lines returned so far. */
  lines = 0
  /** Absolute offset of the first line returned, or -1 before that. */
  firstLineStart = -1

  private buffer: Buffer = Buffer.alloc(0)
  /** Absolute offset of buffer[0]. */
  private base: number
  private cursor = 0
  /** buffer[cursor, complete) holds whole lines only; buffer[complete, filled) is a partial line. */
  private complete = 0
  private filled = 0
  private ended = false
  private skipping: boolean

  /**
   * @param startByte absolute offset of the first byte that will be pushed
   * @param skipFirstLine the bytes up to the first "\n" finish a line that started earlier
   */
  constructor(startByte: number, skipFirstLine: boolean) {
    this.base = startByte
    this.skipping = skipFirstLine
  }

  /** Appends bytes; they are copied, so the caller may reuse its buffer. */
  push(bytes: Uint8Array): void {
    const n = bytes.length
    if (n === 0 || this.ended) return
    const keep = this.filled - this.cursor
    if (this.cursor > 0 || this.filled + n > this.buffer.length) {
      const target = keep + n > this.buffer.length
        ? Buffer.allocUnsafe(Math.max(keep + n, this.buffer.length * 2, MIN_BUFFER_BYTES))
        : this.buffer
      this.buffer.copy(target, 0, this.cursor, this.filled)
      this.buffer = target
      this.base += this.cursor
      this.complete -= this.cursor
      this.filled = keep
      this.cursor = 0
    }
    this.buffer.set(bytes, this.filled)
    // Only the new bytes can hold a newline the tail lacks; searching just them keeps a very
    // long line linear.
    const nl = this.buffer.subarray(this.filled, this.filled + n).lastIndexOf(NEWLINE)
    if (nl !== -1) this.complete = this.filled + nl + 1
    this.filled += n
  }

  /** No more bytes will come; a final line without a newline becomes available. */
  end(): void {
    this.ended = true
  }

  /** True once the input has ended and every line has been returned. */
  get done(): boolean {
    return this.ended && this.cursor >= this.filled
  }

  /** Moves to the next whole line; false when none is available yet (or ever, once `done`). */
  next(): boolean {
    if (this.skipping && !this.skipPartialLine()) return false
    const buffer = this.buffer
    let start = this.cursor
    let end: number
    if (start < this.complete) {
      end = buffer.indexOf(NEWLINE, start)
      this.cursor = end + 1
    } else if (this.ended && start < this.filled) {
      end = this.filled
      this.cursor = end
    } else {
      return false
    }
    const lineStart = this.base + start
    this.lineStart = lineStart
    this.lineEnd = this.base + this.cursor
    if (lineStart === 0 && end - start >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) {
      start += 3 // a UTF-8 byte-order mark is not content
    }
    if (end > start && buffer[end - 1] === CARRIAGE_RETURN) {
      end--
      this.crlf = true
    } else {
      this.crlf = false
    }
    this.line = end > start ? decodeUtf8(buffer, start, end) : ''
    this.lines++
    if (this.firstLineStart < 0) this.firstLineStart = lineStart
    return true
  }

  private skipPartialLine(): boolean {
    if (this.cursor < this.complete) {
      this.cursor = this.buffer.indexOf(NEWLINE, this.cursor) + 1
    } else if (this.ended) {
      this.cursor = this.filled
    } else {
      return false
    }
    this.skipping = false
    return true
  }
}

export interface LineRecordOptions<T> {
  /** Names the input in positions: "events.jsonl line 12 (byte 3301)". */
  readonly name: string
  readonly format: LineFormat
  readonly parse: ((value: unknown) => T) | undefined
  readonly csv: CsvOptions | undefined
  /** Absolute offset of the first byte that will be pushed. */
  readonly startByte: number
  /** The first bytes finish a line that started before `startByte` (a split of a file). */
  readonly skipFirstLine: boolean
  /** Lines starting at or after this offset are left to the next split. */
  readonly stopByte: number
  /**
   * Lines before the first line read: 0 from the start of the input, or a function computing it
   * from that line's offset, called only when a line number is first needed.
   */
  readonly lineBase: number | ((firstLineStart: number) => number)
  /** The header row, when reading a CSV split that starts after it. */
  readonly csvHeader?: readonly string[]
  /**
   * Where this reader logically starts, for `resumePoint` before anything is consumed: it reads
   * the lines starting at or after this offset. Default `startByte`.
   */
  readonly rangeStart?: number
}

/** Where to resume reading: see `LineRecordReader.resumePoint`. */
export interface LineResumePoint {
  /** Read the lines starting at or after this absolute offset. */
  readonly byteOffset: number
  /** Lines before the first of those (the next record's line is line + 1); null if not counted. */
  readonly line: number | null
}

/**
 * Decodes lines into records in the given format, reporting every line it cannot decode to
 * `ctx.reportBadRecord` with its position. Empty lines are skipped.
 */
export class LineRecordReader<T> {
  /** Absolute offset after the last line consumed. */
  byteOffset: number
  /** Lines consumed, counted from the first line read. */
  linesRead = 0
  /** True once no more records will come. */
  finished = false

  private readonly splitter: LineSplitter
  private readonly csv: CsvDecoder | null
  private lineBase: number
  private readonly resolveLineBase: ((firstLineStart: number) => number) | null
  /** Where the CSV record being assembled began (its first line). */
  private recordLine = 0
  private recordByte = 0

  constructor(private readonly ctx: SourceContext, private readonly options: LineRecordOptions<T>) {
    this.splitter = new LineSplitter(options.startByte, options.skipFirstLine)
    this.byteOffset = options.startByte
    this.csv = options.format === 'csv' ? new CsvDecoder(options.csv) : null
    if (this.csv !== null && options.csvHeader !== undefined) this.csv.setHeader(options.csvHeader)
    if (typeof options.lineBase === 'number') {
      this.lineBase = options.lineBase
      this.resolveLineBase = null
    } else {
      this.lineBase = NaN
      this.resolveLineBase = options.lineBase
    }
  }

  push(bytes: Uint8Array): void {
    this.splitter.push(bytes)
  }

  end(): void {
    this.splitter.end()
  }

  /**
   * Pushes up to `max` records onto `out` and returns how many. Fewer (even 0) means the bytes
   * pushed so far are used up, or the input is `finished`.
   */
  decode(out: T[], max: number): number {
    if (this.finished) return 0
    return this.csv !== null ? this.decodeCsv(this.csv, out, max) : this.decodeLines(out, max)
  }

  /**
   * Where a reader must start to produce exactly the records after those returned so far: just
   * after the last line consumed, or, while a CSV record spanning lines is still incomplete,
   * at its first line (those lines are consumed, but the record has not been returned).
   */
  resumePoint(): LineResumePoint {
    const pending = this.csv !== null && this.csv.pending
    const linesBefore = pending ? this.recordLine - 1 : this.linesRead
    const byteOffset = linesBefore === 0 ? (this.options.rangeStart ?? this.options.startByte) : pending ? this.recordByte : this.byteOffset
    return { byteOffset, line: Number.isNaN(this.lineBase) ? null : this.lineBase + linesBefore }
  }

  /** "events.jsonl byte 88120 (line 1532)": just after the last line consumed. */
  position(): string {
    const base = Number.isNaN(this.lineBase) ? '' : ` (line ${this.lineBase + this.linesRead})`
    return `${this.options.name} byte ${this.byteOffset}${base}`
  }

  private decodeLines(out: T[], max: number): number {
    const splitter = this.splitter
    const parse = this.options.parse
    const json = this.options.format === 'jsonl'
    const stopByte = this.options.stopByte
    let n = 0
    while (n < max) {
      if (!splitter.next()) {
        if (splitter.done) this.finished = true
        break
      }
      if (splitter.lineStart >= stopByte) {
        this.finished = true
        break
      }
      this.byteOffset = splitter.lineEnd
      this.linesRead = splitter.lines
      const line = splitter.line
      if (line.length === 0) continue
      let value: unknown = line
      if (json) {
        try {
          value = JSON.parse(line)
        } catch (e) {
          if (line.trim().length > 0) this.reportBad(line, `invalid JSON: ${describeCause(e)}`, splitter.lines, splitter.lineStart)
          continue
        }
      }
      if (parse !== undefined) {
        try {
          value = parse(value)
        } catch (e) {
          this.reportBad(line, describeCause(e), splitter.lines, splitter.lineStart)
          continue
        }
      }
      out.push(value as T)
      n++
    }
    return n
  }

  private decodeCsv(csv: CsvDecoder, out: T[], max: number): number {
    const splitter = this.splitter
    const parse = this.options.parse
    let n = 0
    while (n < max) {
      if (!splitter.next()) {
        if (splitter.done) {
          this.finished = true
          if (csv.end() === CSV_MALFORMED) this.reportBad(csv.raw, csv.reason, this.recordLine, this.recordByte)
        }
        break
      }
      // A line inside an open quoted field belongs to a record that started in this split.
      if (!csv.pending) {
        if (splitter.lineStart >= this.options.stopByte) {
          this.finished = true
          break
        }
        if (splitter.line.length === 0) {
          this.consume()
          continue
        }
        this.recordLine = splitter.lines
        this.recordByte = splitter.lineStart
      }
      this.consume()
      const status = csv.feed(splitter.line, splitter.crlf)
      if (status === CSV_NEED_MORE || status === CSV_HEADER) continue
      if (status === CSV_MALFORMED) {
        this.reportBad(csv.raw, csv.reason, this.recordLine, this.recordByte)
        continue
      }
      let value = csv.value
      if (parse !== undefined) {
        try {
          value = parse(value)
        } catch (e) {
          this.reportBad(csv.raw, describeCause(e), this.recordLine, this.recordByte)
          continue
        }
      }
      out.push(value as T)
      n++
    }
    return n
  }

  private consume(): void {
    this.byteOffset = this.splitter.lineEnd
    this.linesRead = this.splitter.lines
  }

  private reportBad(raw: string, reason: string, lineIndex: number, byte: number): void {
    if (Number.isNaN(this.lineBase) && this.resolveLineBase !== null) {
      this.lineBase = this.resolveLineBase(this.splitter.firstLineStart)
    }
    this.ctx.reportBadRecord(raw, reason, `${this.options.name} line ${this.lineBase + lineIndex} (byte ${byte})`)
  }
}

/** Checks a source's `format` option. */
export function checkLineFormat(format: string, allowed: readonly LineFormat[]): LineFormat {
  if ((allowed as readonly string[]).includes(format)) return format as LineFormat
  throw new SluiceError('JOB_INVALID_OPTION', `format must be one of ${allowed.map((f) => `'${f}'`).join(', ')}, got ${JSON.stringify(format)}`)
}
