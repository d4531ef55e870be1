/**
 * Splits bytes into lines for the line-based sources, with a bound on a line's length: a line
 * longer than `maxLineBytes` is never held whole. Its first bytes are kept, the rest is counted
 * and dropped as it arrives, and it comes out of `next()` marked `overlong`, with its exact byte
 * offsets, so positions and checkpoints stay right across it.
 */
import { constants, isUtf8 } from 'node:buffer'

const NEWLINE = 10
const CARRIAGE_RETURN = 13
const MIN_BUFFER_BYTES = 64 * 1024

/**
 * Default longest line, 16 MiB. Far above any sane record (Kafka's default message limit is
 * 1 MB), so valid input never meets it; low enough that one reader's worst case stays small next
 * to the heap, JSON.parse of such a line takes tens of ms (no long stall), and the line decodes
 * into a string well under V8's limit (~512 MiB), past which lines failed the job even under skip.
 */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024

/** The longest `maxLineBytes` allowed: a line must decode into one string. */
export const MAX_MAX_LINE_BYTES = constants.MAX_STRING_LENGTH

/** Bytes kept of an over-long line, for its error message and dead letter. */
export const OVERLONG_HEAD_BYTES = 1024

/**
 * Decodes bytes [start, end) of a buffer as UTF-8. Buffer#utf8Slice is what Buffer#toString
 * calls after checking its arguments; calling it directly saves ~8% of JSON Lines decoding.
 * It is undocumented, so fall back to toString where it is missing.
 */
export const decodeUtf8: (buffer: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (buffer, start, end) => (buffer as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)
    : (buffer, start, end) => buffer.toString('utf8', start, end)

/**
 * Splits bytes into lines, decoding each as UTF-8. Lines are cut at "\n" bytes, which never occur
 * inside a multi-byte UTF-8 sequence, so a character split across chunks is decoded whole. A line
 * is only decoded once its newline (or the end of input) has arrived.
 */
export class LineSplitter {
  /** The line returned by the last `next()`, without its "\n" or "\r\n" (an over-long line: its head). */
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
  /** The line is longer than maxLineBytes: `line` holds only its first bytes (OVERLONG_HEAD_BYTES at most). */
  overlong = false
  /** The line's bytes were not valid UTF-8 (`line` has U+FFFD in their place). */
  invalidUtf8 = false
  /** Length of the line in bytes, without its line break (for an over-long line, all of it). */
  lineBytes = 0

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
   * Every whole line in the buffer is known to be valid UTF-8: the bytes of each push are checked
   * up to its last newline in one call (~5 ns a line), so only lines of a chunk that failed need
   * a look of their own.
   */
  private utf8Valid = true
  /** Dropping the rest of an over-long line until its newline: its start, or -1. */
  private dropStart = -1
  /** Its first bytes. */
  private dropHead: Buffer = Buffer.alloc(0)
  /** An over-long line whose end has arrived, waiting to be returned: its end offset, or -1. */
  private droppedEnd = -1
  /** Its length without the line break. */
  private droppedBytes = 0

  /**
   * @param startByte absolute offset of the first byte that will be pushed
   * @param skipFirstLine the bytes up to the first "\n" finish a line that started earlier
   * @param maxLineBytes lines longer than this (without the line break) come out `overlong`
   */
  constructor(startByte: number, skipFirstLine: boolean, readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    this.base = startByte
    this.skipping = skipFirstLine
  }

  /** Bytes the splitter holds on to (its buffer), for tests and memory accounting. */
  get bufferedBytes(): number {
    return this.buffer.length + this.dropHead.length
  }

  /** Appends bytes; they are copied, so the caller may reuse its buffer. */
  push(input: Uint8Array): void {
    let bytes = input
    if (bytes.length === 0 || this.ended) return
    if (this.dropStart >= 0) {
      const nl = bytes.indexOf(NEWLINE)
      if (nl === -1) {
        this.base += bytes.length
        return
      }
      this.base += nl + 1
      this.endDrop(true)
      bytes = bytes.subarray(nl + 1)
      if (bytes.length === 0) return
    }
    const n = bytes.length
    const keep = this.filled - this.cursor
    // Only with no whole line waiting (readers drain before they push) can the partial line be
    // the only thing in the buffer, and be dropped from it.
    if (this.cursor >= this.complete && keep + n > this.maxLineBytes && bytes.indexOf(NEWLINE) === -1) {
      this.startDrop(bytes)
      return
    }
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
    if (nl !== -1) {
      // The new whole lines run from the old `complete` (a line start) to a newline: whole characters.
      const complete = this.filled + nl + 1
      const valid = isUtf8(this.buffer.subarray(this.complete, complete))
      this.utf8Valid = (this.cursor < this.complete ? this.utf8Valid : true) && valid
      this.complete = complete
    }
    this.filled += n
  }

  /** No more bytes will come; a final line without a newline becomes available. */
  end(): void {
    this.ended = true
    if (this.dropStart >= 0) this.endDrop(false)
    // The last line, without a newline, becomes whole.
    const tail = Math.max(this.cursor, this.complete)
    if (tail < this.filled) this.utf8Valid = (this.cursor < this.complete ? this.utf8Valid : true) && isUtf8(this.buffer.subarray(tail, this.filled))
  }

  /** True once the input has ended and every line has been returned. */
  get done(): boolean {
    return this.ended && this.cursor >= this.filled && this.droppedEnd < 0
  }

  /** Moves to the next whole line; false when none is available yet (or ever, once `done`). */
  next(): boolean {
    if (this.skipping && !this.skipPartialLine()) return false
    // Everything in the buffer came after a dropped line (the buffer was emptied when it began).
    if (this.droppedEnd >= 0) return this.nextDropped()
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
    this.lines++
    if (this.firstLineStart < 0) this.firstLineStart = lineStart
    this.lineBytes = end - start
    if (end - start > this.maxLineBytes) {
      this.setOverlong(buffer.subarray(start, start + Math.min(OVERLONG_HEAD_BYTES, this.maxLineBytes)))
      return true
    }
    this.overlong = false
    const line = end > start ? decodeUtf8(buffer, start, end) : ''
    this.line = line
    // In a chunk that was not all valid, U+FFFD is what invalid bytes decode to; only lines
    // holding one are checked byte by byte (a real U+FFFD in the input is valid).
    this.invalidUtf8 = !this.utf8Valid && line.indexOf('\uFFFD') !== -1 && !isUtf8(buffer.subarray(start, end))
    return true
  }

  /**
   * The bytes of the line that starts at absolute offset `start`, without its line break, while
   * the buffer still holds them (until the next push); null otherwise.
   */
  bytesAt(start: number): Buffer | null {
    let i = start - this.base
    if (i < 0 || i >= this.filled) return null
    let end = this.buffer.indexOf(NEWLINE, i)
    if (end === -1 || end > this.filled) end = this.filled
    if (end > i && this.buffer[end - 1] === CARRIAGE_RETURN) end--
    if (start === 0 && end - i >= 3 && this.buffer[i] === 0xef && this.buffer[i + 1] === 0xbb && this.buffer[i + 2] === 0xbf) i += 3
    return this.buffer.subarray(i, end)
  }

  /** Newlines in the buffer between absolute offsets [from, to), or -1 when it no longer holds them. */
  newlinesBetween(from: number, to: number): number {
    const a = from - this.base
    const b = to - this.base
    if (a < 0 || b > this.filled) return -1
    let count = 0
    for (let i = this.buffer.indexOf(NEWLINE, a); i !== -1 && i < b; i = this.buffer.indexOf(NEWLINE, i + 1)) count++
    return count
  }

  /** The partial line and `bytes` exceed the maximum: keep the head, forget the rest. */
  private startDrop(bytes: Uint8Array): void {
    const partial = this.buffer.subarray(this.cursor, this.filled)
    const headBytes = Math.min(OVERLONG_HEAD_BYTES, this.maxLineBytes)
    const head = Buffer.allocUnsafe(Math.min(headBytes, partial.length + bytes.length))
    const fromPartial = Math.min(partial.length, head.length)
    partial.copy(head, 0, 0, fromPartial)
    if (fromPartial < head.length) head.set(bytes.subarray(0, head.length - fromPartial), fromPartial)
    this.dropStart = this.base + this.cursor
    this.dropHead = head
    this.base += this.filled + bytes.length
    this.cursor = 0
    this.complete = 0
    this.filled = 0
    // The long line was all that mattered in it; a big buffer would only hold memory.
    if (this.buffer.length > MIN_BUFFER_BYTES) this.buffer = Buffer.alloc(0)
  }

  /** The dropped line ended at `base`: just after its newline (`newline`), or at the end of input. */
  private endDrop(newline: boolean): void {
    this.droppedEnd = this.base
    this.droppedBytes = this.base - this.dropStart - (newline ? 1 : 0)
    if (this.skipping) {
      // It was the partial first line of a range: not ours, nothing to report.
      this.skipping = false
      this.droppedEnd = -1
      this.dropStart = -1
      this.dropHead = Buffer.alloc(0)
    }
  }

  private nextDropped(): boolean {
    this.lineStart = this.dropStart
    this.lineEnd = this.droppedEnd
    this.crlf = false
    this.lines++
    this.lineBytes = this.droppedBytes
    if (this.firstLineStart < 0) this.firstLineStart = this.dropStart
    this.setOverlong(this.dropHead)
    this.dropStart = -1
    this.droppedEnd = -1
    this.dropHead = Buffer.alloc(0)
    return true
  }

  private setOverlong(head: Buffer): void {
    this.overlong = true
    let end = head.length
    // Cut before a character the head splits (continuation bytes are 0b10xxxxxx).
    if (end > 0 && head[end - 1] >= 0x80) {
      let i = end - 1
      while (i > 0 && (head[i] & 0xc0) === 0x80) i--
      const lead = head[i]
      const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1
      if (i + size > end) end = i
    }
    this.line = decodeUtf8(head, 0, end)
    this.invalidUtf8 = false
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
