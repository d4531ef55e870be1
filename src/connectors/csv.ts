/**
 * CSV record decoding (RFC 4180) over lines, shared by the file and stdin sources. Lines arrive
 * already split (see lines.ts); a quoted field may span several of them, so the decoder keeps
 * the open field between calls and says when it needs the next line.
 */
import { SluiceError } from '../errors.ts'

export type CsvColumnType = 'number' | 'string' | 'boolean'

export interface CsvOptions {
  /** The first row names the fields (default true). */
  readonly header?: boolean
  /** One character (default ","). */
  readonly delimiter?: string
  /** Field names; with `header: true` they replace the header row's names. */
  readonly columns?: readonly string[]
  /** Converts the named columns; a value that does not convert marks the record malformed. */
  readonly types?: Readonly<Record<string, CsvColumnType>>
}

/** `feed` results. */
export const CSV_NEED_MORE = 0
export const CSV_RECORD = 1
export const CSV_HEADER = 2
export const CSV_MALFORMED = 3
export type CsvStatus = typeof CSV_NEED_MORE | typeof CSV_RECORD | typeof CSV_HEADER | typeof CSV_MALFORMED

const QUOTE = 34
const KIND_STRING = 0
const KIND_NUMBER = 1
const KIND_BOOLEAN = 2
const SHOWN_VALUE_CHARS = 40

/** Checks CSV options up front so a bad option fails when the job is built, not mid-run. */
export function validateCsvOptions(options: CsvOptions | undefined): void {
  const delimiter = options?.delimiter ?? ','
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new SluiceError('CONNECTOR_OPTION_INVALID',
      `csv.delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`)
  }
  const types = options?.types
  if (types === undefined) return
  for (const [column, type] of Object.entries(types)) {
    if (type !== 'number' && type !== 'string' && type !== 'boolean') {
      throw new SluiceError('CONNECTOR_OPTION_INVALID',
        `csv.types.${column} must be 'number', 'string' or 'boolean', got ${JSON.stringify(type)}`)
    }
  }
  const named = options?.header !== false || options?.columns !== undefined
  if (!named) {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', 'csv.types needs column names: set csv.header: true or csv.columns')
  }
  if (options?.columns !== undefined) checkTypedColumns(types, options.columns)
}

function checkTypedColumns(types: Readonly<Record<string, CsvColumnType>> | undefined, names: readonly string[]): void {
  if (types === undefined) return
  for (const column of Object.keys(types)) {
    if (!names.includes(column)) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID',
        `csv.types names column '${column}', which is not among the columns (${names.join(', ')})`)
    }
  }
}

function show(value: string): string {
  return value.length > SHOWN_VALUE_CHARS ? `${value.slice(0, SHOWN_VALUE_CHARS)}...` : value
}

/**
 * Turns lines into records: objects keyed by column name when names are known (header or
 * `columns`), otherwise arrays of strings. One instance per reader; not reentrant.
 */
export class CsvDecoder {
  /** The record after CSV_RECORD. */
  value: unknown = undefined
  /** Why, after CSV_MALFORMED. */
  reason = ''
  /** The text of the record just decoded (all its lines when a quoted field spans lines). */
  raw = ''
  /** True while a quoted field is open at the end of the last line fed. */
  pending = false

  private readonly delimiter: string
  private readonly delimiterCode: number
  private readonly types: Readonly<Record<string, CsvColumnType>> | undefined
  private names: readonly string[] | null
  private kinds: Uint8Array
  private expectHeader: boolean
  /** Scratch for the fields of the record being decoded; reused, never handed out. */
  private readonly fields: string[] = []
  private quoted = ''
  private quoteError = ''
  private lastLineCrlf = false

  constructor(options: CsvOptions | undefined) {
    validateCsvOptions(options)
    this.delimiter = options?.delimiter ?? ','
    this.delimiterCode = this.delimiter.charCodeAt(0)
    this.types = options?.types
    this.expectHeader = options?.header !== false
    this.names = null
    this.kinds = new Uint8Array(0)
    if (options?.columns !== undefined) this.useNames(options.columns)
  }

  /** Gives up the record being assembled (a line of it was malformed); the next line starts a new one. */
  abandon(): void {
    this.pending = false
    this.fields.length = 0
    this.quoteError = ''
  }

  /** A copy of the fields of the last line(s) fed, whatever the status. */
  lastFields(): string[] {
    return this.fields.slice()
  }

  /** Supplies the header row when a reader starts past it (a split of a file). */
  setHeader(fields: readonly string[]): void {
    this.expectHeader = false
    if (this.names === null) this.useNames(fields)
  }

  /** Decodes one line; `crlf` tells whether it ended in "\r\n", kept inside quoted fields. */
  feed(line: string, crlf: boolean): CsvStatus {
    if (this.pending) {
      this.raw += (this.lastLineCrlf ? '\r\n' : '\n') + line
    } else {
      this.raw = line
      this.fields.length = 0
      this.quoteError = ''
    }
    this.lastLineCrlf = crlf
    this.pending = !this.split(line, crlf)
    if (this.pending) return CSV_NEED_MORE
    if (this.expectHeader) {
      this.expectHeader = false
      if (this.names === null) this.useNames(this.fields.slice())
      if (this.quoteError === '') return CSV_HEADER
      this.reason = `header: ${this.quoteError}`
      return CSV_MALFORMED
    }
    if (this.quoteError !== '') {
      this.reason = this.quoteError
      return CSV_MALFORMED
    }
    return this.build()
  }

  /** At end of input: a quoted field still open is malformed. */
  end(): CsvStatus {
    if (!this.pending) return CSV_NEED_MORE
    this.pending = false
    this.quoted = ''
    this.reason = 'unterminated quoted field at end of input'
    return CSV_MALFORMED
  }

  private useNames(names: readonly string[]): void {
    checkTypedColumns(this.types, names)
    this.names = names
    this.kinds = new Uint8Array(names.length)
    const types = this.types
    if (types === undefined) return
    for (let i = 0; i < names.length; i++) {
      const type = Object.hasOwn(types, names[i]) ? types[names[i]] : 'string'
      this.kinds[i] = type === 'number' ? KIND_NUMBER : type === 'boolean' ? KIND_BOOLEAN : KIND_STRING
    }
  }

  /** Appends the line's fields; false when it ends inside a quoted field. */
  private split(line: string, crlf: boolean): boolean {
    const fields = this.fields
    const delimiter = this.delimiter
    const len = line.length
    let i = 0
    if (!this.pending && line.indexOf('"') === -1) {
      for (;;) {
        const next = line.indexOf(delimiter, i)
        if (next === -1) {
          fields.push(i === 0 ? line : line.slice(i))
          return true
        }
        fields.push(line.slice(i, next))
        i = next + 1
      }
    }
    let inQuotes = this.pending
    for (;;) {
      if (inQuotes) {
        let segment = i
        for (;;) {
          const q = line.indexOf('"', i)
          if (q === -1) {
            this.quoted += line.slice(segment) + (crlf ? '\r\n' : '\n')
            return false
          }
          if (line.charCodeAt(q + 1) === QUOTE) {
            this.quoted += line.slice(segment, q + 1)
            i = q + 2
            segment = i
            continue
          }
          this.quoted += line.slice(segment, q)
          i = q + 1
          break
        }
        inQuotes = false
        fields.push(this.quoted)
        this.quoted = ''
        if (i === len) return true
        if (line.charCodeAt(i) !== this.delimiterCode) {
          if (this.quoteError === '') {
            this.quoteError = `field ${fields.length}: unexpected ${JSON.stringify(line[i])} after closing quote`
          }
          const next = line.indexOf(delimiter, i)
          if (next === -1) return true
          i = next
        }
        i++
        continue
      }
      // A quote opens a quoted field only as its first character; elsewhere it is literal.
      if (line.charCodeAt(i) === QUOTE) {
        inQuotes = true
        i++
        continue
      }
      const next = line.indexOf(delimiter, i)
      if (next === -1) {
        fields.push(line.slice(i))
        return true
      }
      fields.push(line.slice(i, next))
      i = next + 1
    }
  }

  private build(): CsvStatus {
    const fields = this.fields
    const names = this.names
    if (names === null) {
      this.value = fields.slice()
      return CSV_RECORD
    }
    if (fields.length !== names.length) {
      this.reason = `expected ${names.length} fields, got ${fields.length}`
      return CSV_MALFORMED
    }
    const kinds = this.kinds
    const record: Record<string, unknown> = {}
    for (let i = 0; i < names.length; i++) {
      const text = fields[i]
      const kind = kinds[i]
      if (kind === KIND_STRING) {
        record[names[i]] = text
      } else if (kind === KIND_NUMBER) {
        const n = Number(text)
        // Number('') and Number('  ') are 0; an empty cell is not a number.
        if (n !== n || (n === 0 && text.trim() === '')) {
          this.reason = `column ${names[i]}: '${show(text)}' is not a number`
          return CSV_MALFORMED
        }
        record[names[i]] = n
      } else {
        const b = parseBoolean(text)
        if (b === undefined) {
          this.reason = `column ${names[i]}: '${show(text)}' is not a boolean (true/false/1/0)`
          return CSV_MALFORMED
        }
        record[names[i]] = b
      }
    }
    this.value = record
    return CSV_RECORD
  }
}

function parseBoolean(text: string): boolean | undefined {
  switch (text.trim().toLowerCase()) {
    case 'true': case '1': return true
    case 'false': case '0': return false
    default: return undefined
  }
}
