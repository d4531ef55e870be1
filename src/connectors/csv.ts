/**
 * CSV record decoding (RFC 4180) over lines, shared by the file and stdin sources. Lines arrive
 * already split (see lines.ts); a quoted field may span several of them, so the decoder keeps
 * the open field between calls and says when it needs the next line.
 */
import { checkTypedColumns, CSV_GUIDE as GUIDE, inferColumnType, validateCsvOptions, type CsvColumnType, type CsvOptions } from './csv-options.ts'

export { inferColumnType, validateCsvOptions, type CsvColumnType, type CsvOptions } from './csv-options.ts'

/** The start of a CSV file, for a reader that begins past it (see CsvDecoder.setStart). */
export interface CsvStart {
  readonly header: readonly string[] | undefined
  readonly firstRecord: readonly string[] | undefined
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
/** Undeclared, type not yet inferred (until the first record). */
const KIND_INFER = 3
/** Inferred from the first record: later values must be written as plain numbers / true or false. */
const KIND_INFERRED_NUMBER = 4
const KIND_INFERRED_BOOLEAN = 5
const SHOWN_VALUE_CHARS = 40
/** A plain decimal number, as a value of an inferred number column must be written. */
const NUMBER_FORM = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/

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
  private readonly infer: boolean
  private names: readonly string[] | null
  private kinds: Uint8Array
  /** Some column still waits for the first record to give it a type. */
  private inferring = false
  /** Of each column whose type was inferred, the value it was inferred from (for messages). */
  private inferredFrom: string[] = []
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
    this.infer = options?.infer !== false
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

  /**
   * Supplies the header row (undefined: the file has none) and the file's first record (the one
   * column types are inferred from) when a reader starts past them: a split of a file, or a
   * resumed reader. Every reader of a file then converts its columns alike.
   */
  setStart(header: readonly string[] | undefined, firstRecord: readonly string[] | undefined): void {
    this.expectHeader = false
    if (this.names === null && header !== undefined) this.useNames(header)
    if (this.inferring && firstRecord !== undefined && this.names !== null && firstRecord.length === this.names.length) this.inferKinds(firstRecord)
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
    for (let i = 0; i < names.length; i++) {
      const declared = types !== undefined && Object.hasOwn(types, names[i])
      if (!declared) {
        this.kinds[i] = this.infer ? KIND_INFER : KIND_STRING
        if (this.infer) this.inferring = true
        continue
      }
      const type = types[names[i]]
      this.kinds[i] = type === 'number' ? KIND_NUMBER : type === 'boolean' ? KIND_BOOLEAN : KIND_STRING
    }
  }

  private inferKinds(fields: readonly string[]): void {
    this.inferring = false
    const kinds = this.kinds
    for (let i = 0; i < kinds.length; i++) {
      if (kinds[i] !== KIND_INFER) continue
      const type = inferColumnType(fields[i])
      kinds[i] = type === 'number' ? KIND_INFERRED_NUMBER : type === 'boolean' ? KIND_INFERRED_BOOLEAN : KIND_STRING
      this.inferredFrom[i] = fields[i]
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
    if (this.inferring) this.inferKinds(fields)
    const kinds = this.kinds
    const record: Record<string, unknown> = {}
    for (let i = 0; i < names.length; i++) {
      const text = fields[i]
      switch (kinds[i]) {
        case KIND_STRING:
          record[names[i]] = text
          break
        case KIND_NUMBER: {
          const n = Number(text)
          // Number('') and Number('  ') are 0; an empty cell is not a number.
          if (n !== n || (n === 0 && text.trim() === '')) return this.notDeclared(i, 'number')
          record[names[i]] = n
          break
        }
        case KIND_BOOLEAN: {
          const b = parseBoolean(text)
          if (b === undefined) return this.notDeclared(i, 'boolean')
          record[names[i]] = b
          break
        }
        case KIND_INFERRED_NUMBER:
          if (!NUMBER_FORM.test(text)) return this.notInferred(i, 'number')
          record[names[i]] = Number(text)
          break
        default: {
          const lower = text.toLowerCase()
          if (lower !== 'true' && lower !== 'false') return this.notInferred(i, 'boolean')
          record[names[i]] = lower === 'true'
        }
      }
    }
    this.value = record
    return CSV_RECORD
  }

  /** A value that does not convert to its column's declared type. */
  private notDeclared(i: number, type: 'number' | 'boolean'): CsvStatus {
    const column = (this.names as readonly string[])[i]
    const what = type === 'number' ? 'a number' : 'a boolean (true/false/1/0)'
    this.reason = `column ${column}: '${show(this.fields[i])}' is not ${what}, the type csv.types declares for it; fix the input, or declare the column's type as it is written (csv: { types: { ${column}: 'string' } }, see ${GUIDE})`
    return CSV_MALFORMED
  }

  /** A value that does not fit the type its column took from the first record. */
  private notInferred(i: number, type: 'number' | 'boolean'): CsvStatus {
    const column = (this.names as readonly string[])[i]
    const what = type === 'number' ? 'a number' : 'a boolean (true/false)'
    this.reason = `column ${column}: '${show(this.fields[i])}' is not ${what}, the type inferred from the column's first value ('${show(this.inferredFrom[i])}'); declare the column's type: csv: { types: { ${column}: 'string' } } (or 'number', 'boolean'; see ${GUIDE})`
    return CSV_MALFORMED
  }
}

function parseBoolean(text: string): boolean | undefined {
  switch (text.trim().toLowerCase()) {
    case 'true': case '1': return true
    case 'false': case '0': return false
    default: return undefined
  }
}
