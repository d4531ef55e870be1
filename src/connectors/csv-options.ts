/** CSV options: what they mean, how they are checked, and how an undeclared column gets its type. */
import { SluiceError } from '../errors.ts'

/** Where messages send a user about column types. */
export const CSV_GUIDE = 'docs/GUIDE.md#csv-columns'
/** A value that makes an undeclared column a number: a plain decimal number without leading zeros. */
const UNAMBIGUOUS_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

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
 * interface View { user: string; ts: number; price: number; ok: boolean }
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

/** Checks CSV options up front so a bad option fails when the job is built, not mid-run. */
export function validateCsvOptions(options: CsvOptions | undefined): void {
  const delimiter = options?.delimiter ?? ','
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new SluiceError('CONNECTOR_OPTION_INVALID',
      `csv.delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`)
  }
  if (options?.infer !== undefined && typeof options.infer !== 'boolean') {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `csv.infer must be true or false, got ${JSON.stringify(options.infer)} (see ${CSV_GUIDE})`)
  }
  const types = options?.types
  if (types === undefined) return
  for (const [column, type] of Object.entries(types)) {
    if (type !== 'number' && type !== 'string' && type !== 'boolean') {
      throw new SluiceError('CONNECTOR_OPTION_INVALID',
        `csv.types.${column} must be 'number', 'string' or 'boolean', got ${JSON.stringify(type)} (see ${CSV_GUIDE})`)
    }
  }
  const named = options?.header !== false || options?.columns !== undefined
  if (!named) {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `csv.types needs column names: set csv.header: true or csv.columns (see ${CSV_GUIDE})`)
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

export function checkTypedColumns(types: Readonly<Record<string, CsvColumnType>> | undefined, names: readonly string[]): void {
  if (types === undefined) return
  for (const column of Object.keys(types)) {
    if (!names.includes(column)) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID',
        `csv.types names column '${column}', which is not among the columns (${names.join(', ')}); declare the types of columns by the names the header or csv.columns gives (see ${CSV_GUIDE})`)
    }
  }
}
