/**
 * CSV record decoding (RFC 4180) over lines, shared by the file and stdin sources. Lines arrive
 * already split (see lines.ts); a quoted field may span several of them, so the decoder keeps
 * the open field between calls and says when it needs the next line.
 */
import { SluiceError } from '../errors.ts'

export type CsvColumnType = 'number' | 'string' | 'boolean'

/**
 * How CSV text becomes records (see docs/GUIDE.md#csv-columns). A record is an object keyed by
 * column name when names are known (the header row, or `columns`), otherwise an array of strings.
 *
 * Column types: a column declared in `types` is converted to that type, and a value that does not
 * convert makes its record malformed (reported to the source's `onError` with the column, the
 * value and the line). A column not declared takes its type from the first record with the right
 * number of fields (`infer`, default true): a number when that value is written as a plain
 * decimal number (`1767225600000`, `-2.5`, `1e3`; not `007`, `+1`, `0x1f` or an empty cell), a
 * boolean for `true` / `false`, a string otherwise. A later value that does not fit an inferred
 * number or boolean column is malformed too, and the message says how to declare the column.
 *
 * @example
 * ```ts
 * // user,ts,price,ok
 * // ann,1767225600000,9.5,true
 * fileSource<View>('views.csv', { csv: { types: { user: 'string', ts: 'number', price: 'number', ok: 'boolean' } } })
 * // Every column a string, as read:
 * fileSource('views.csv', { csv: { infer: false } })
 * ```
 */
export interface CsvOptions {
  /** The first row names the fields (default true). */
  readonly header?: boolean
  /** One character (default ","). */
  readonly delimiter?: string
  /** Field names; with `header: true` they replace the header row's names. */
  readonly columns?: readonly string[]
  /**
   * Declared column types, by column name: `{ ts: 'number', ok: 'boolean', zip: 'string' }`.
   * A value that does not convert marks the record malformed. A number column takes what
   * `Number()` reads (surrounding spaces allowed, not an empty cell); a boolean column true,
   * false, 1 or 0 (any case).
   */
  readonly types?: Readonly<Record<string, CsvColumnType>>
  /**
   * Infer the type of each column not in `types` from the first record (default true; see
   * above). False: undeclared columns are strings, as read. Records without column names
   * (`header: false` and no `columns`) are arrays of strings either way.
   */
  readonly infer?: boolean
}

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
/** Where messages send a user about column types. */
const GUIDE = 'docs/GUIDE.md#csv-columns'
/** A plain decimal number, as a value of an inferred number column must be written. */
const NUMBER_FORM = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/
/** A value that makes an undeclared column a number: a plain decimal number without leading zeros. */
const UNAMBIGUOUS_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

/** Checks CSV options up front so a bad option fails when the job is built, not mid-run. */
export function validateCsvOptions(options: CsvOptions | undefined): void {
  const delimiter = options?.delimiter ?? ','
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new SluiceError('CONNECTOR_OPTION_INVALID',
      `csv.delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`)
  }
  if (options?.infer !== undefined && typeof options.infer !== 'boolean') {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `csv.infer must be true or false, got ${JSON.stringify(options.infer)} (see ${GUIDE})`)
  }
  const types = options?.types
  if (types === undefined) return
  for (const [column, type] of Object.entries(types)) {
    if (type !== 'number' && type !== 'string' && type !== 'boolean') {
      throw new SluiceError('CONNECTOR_OPTION_INVALID',
        `csv.types.${column} must be 'number', 'string' or 'boolean', got ${JSON.stringify(type)} (see ${GUIDE})`)
    }
  }
  const named = options?.header !== false || options?.columns !== undefined
  if (!named) {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `csv.types needs column names: set csv.header: true or csv.columns (see ${GUIDE})`)
  }
  if (options?.columns !== undefined) checkTypedColumns(types, options.columns)
}

/**
 * The type an undeclared column takes from its first value: only a value that can be read one
 * way (a plain decimal number that stays exact, true/false) makes it other than a string.
 */
export function inferColumnType(value: string): CsvColumnType {
  if (UNAMBIGUOUS_NUMBER.test(value)) {
    const n = Number(value)
    // Digits beyond what a double holds exactly (a 20-digit id) would change when read: a string.
    const exact = Number.isFinite(n) && (!/^-?\d+$/.test(value) || Number.isSafeInteger(n))
    return exact ? 'number' : 'string'
  }
  const lower = value.toLowerCase()
  return lower === 'true' || lower === 'false' ? 'boolean' : 'string'
}

function checkTypedColumns(types: Readonly<Record<string, CsvColumnType>> | undefined, names: readonly string[]): void {
  if (types === undefined) return
  for (const column of Object.keys(types)) {
    if (!names.includes(column)) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID',
        `csv.types names column '${column}', which is not among the columns (${names.join(', ')}); declare the types of columns by the names the header or csv.columns gives (see ${GUIDE})`)
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
