/**
 * Line-oriented record decoding shared by the file and stdin sources. Bytes go in as they arrive
 * (any chunking); records come out with the line number and byte offset of each, so a bad one can
 * be reported precisely, with the line as it was read.
 */
import { isUtf8 } from 'node:buffer'
import { describeCause, SluiceError } from '../errors.ts'
import { CSV_HEADER, CSV_MALFORMED, CSV_NEED_MORE, CsvDecoder, type CsvOptions, type CsvStart } from './csv.ts'
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, MAX_MAX_LINE_BYTES, OVERLONG_HEAD_BYTES } from './line-splitter.ts'
import type { SourceContext } from './spi.ts'

export { DEFAULT_MAX_LINE_BYTES, LineSplitter } from './line-splitter.ts'

export type LineFormat = 'jsonl' | 'csv' | 'lines'

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
  /**
   * When reading a CSV split that starts past them: the header row (if the file has one) and
   * the file's first record, which column types are inferred from (see CsvDecoder.setStart).
   */
  readonly csvStart?: CsvStart
  /**
   * Where this reader logically starts, for `resumePoint` before anything is consumed: it reads
   * the lines starting at or after this offset. Default `startByte`.
   */
  readonly rangeStart?: number
  /** Longer lines are reported to the error policy, never held whole. Default DEFAULT_MAX_LINE_BYTES. */
  readonly maxLineBytes?: number
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
  /**
   * Of each record the last `decode` pushed: the byte offset of its (first) line, for
   * `positionOf` and `rawOf` (a reused typed array: one store a record, no allocation). Its line
   * number is counted only when asked, from where the decode began (`batchByte`, after
   * `batchLines` lines); a CSV record, which may begin before that, keeps its line in `recordLines`.
   */
  private recordStarts = new Float64Array(0)
  private recordLines = new Float64Array(0)
  private batchByte = 0
  private batchLines = 0

  constructor(private readonly ctx: SourceContext, private readonly options: LineRecordOptions<T>) {
    this.splitter = new LineSplitter(options.startByte, options.skipFirstLine, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES)
    this.byteOffset = options.startByte
    this.csv = options.format === 'csv' ? new CsvDecoder(options.csv) : null
    if (this.csv !== null && options.csvStart !== undefined) this.csv.setStart(options.csvStart.header, options.csvStart.firstRecord)
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
    if (this.recordStarts.length < max) {
      this.recordStarts = new Float64Array(max)
      if (this.csv !== null) this.recordLines = new Float64Array(max)
    }
    this.batchByte = this.byteOffset
    this.batchLines = this.linesRead
    return this.csv !== null ? this.decodeCsv(this.csv, out, max) : this.decodeLines(out, max)
  }

  /** "events.jsonl line 1003 (byte 88120)": where record `i` of the last `decode` came from. */
  positionOf(i: number): string {
    const start = this.recordStarts[i]
    if (this.csv !== null) return this.describe(this.recordLines[i], start)
    // The decode's lines are still in the buffer (nothing is pushed before the next read).
    const from = this.batchLines === 0 ? this.splitter.firstLineStart : this.batchByte
    const before = this.splitter.newlinesBetween(from, start)
    return before < 0 ? `${this.options.name} byte ${start}` : this.describe(this.batchLines + 1 + before, start)
  }

  /**
   * The line record `i` of the last `decode` came from, as read: a string, or its bytes when
   * they are not valid UTF-8; undefined once the buffer no longer holds it (after more bytes
   * were pushed) or for CSV, whose records may span lines.
   */
  rawOf(i: number): string | Uint8Array | undefined {
    if (this.csv !== null) return undefined
    const bytes = this.splitter.bytesAt(this.recordStarts[i])
    return bytes === null ? undefined : rawLine(bytes)
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
    const starts = this.recordStarts
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
      if (splitter.overlong || splitter.invalidUtf8) {
        this.reportLine(splitter)
        continue
      }
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
      starts[n] = splitter.lineStart
      out.push(value as T)
      n++
    }
    return n
  }

  /** A line too long, or not valid UTF-8: malformed, whatever the format. */
  private reportLine(splitter: LineSplitter): void {
    const max = splitter.maxLineBytes
    if (splitter.overlong) {
      this.reportBad(`${splitter.line}…`, `the line is ${splitter.lineBytes} bytes, longer than maxLineBytes (${max}); only its first ${Math.min(max, OVERLONG_HEAD_BYTES)} bytes were kept (raise maxLineBytes, or --max-line-bytes, if such lines are valid)`, splitter.lines, splitter.lineStart)
    } else {
      const bytes = splitter.bytesAt(splitter.lineStart) as Buffer
      this.reportBad(Buffer.from(bytes), 'the line is not valid UTF-8', splitter.lines, splitter.lineStart)
    }
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
      if (splitter.overlong || splitter.invalidUtf8) {
        // A record with such a line is malformed as a whole, also when it began lines earlier.
        if (csv.pending) csv.abandon()
        this.reportLine(splitter)
        continue
      }
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
      this.recordStarts[n] = this.recordByte
      this.recordLines[n] = this.recordLine
      out.push(value as T)
      n++
    }
    return n
  }

  private consume(): void {
    this.byteOffset = this.splitter.lineEnd
    this.linesRead = this.splitter.lines
  }

  private reportBad(raw: string | Uint8Array, reason: string, lineIndex: number, byte: number): void {
    this.ctx.reportBadRecord(raw, reason, this.describe(lineIndex, byte))
  }

  private describe(lineIndex: number, byte: number): string {
    if (Number.isNaN(this.lineBase) && this.resolveLineBase !== null) {
      this.lineBase = this.resolveLineBase(this.splitter.firstLineStart)
    }
    return `${this.options.name} line ${this.lineBase + lineIndex} (byte ${byte})`
  }
}

/** A line as read: its text, or its bytes (a copy) when they are not valid UTF-8. */
function rawLine(bytes: Buffer): string | Uint8Array {
  return isUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes)
}

/** Checks a source's `maxLineBytes` option; returns it, or the default when absent. */
export function checkMaxLineBytes(factory: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_LINE_BYTES
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_MAX_LINE_BYTES) {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `${factory} option maxLineBytes must be a whole number from 1 to ${MAX_MAX_LINE_BYTES} (the longest string JavaScript holds), got ${String(value)}`)
  }
  return value
}

/** Checks a source's `format` option. */
export function checkLineFormat(format: string, allowed: readonly LineFormat[]): LineFormat {
  if ((allowed as readonly string[]).includes(format)) return format as LineFormat
  throw new SluiceError('CONNECTOR_OPTION_INVALID', `format must be one of ${allowed.map((f) => `'${f}'`).join(', ')}, got ${JSON.stringify(format)}`)
}
