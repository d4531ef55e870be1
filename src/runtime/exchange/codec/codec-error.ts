/**
 * Errors of the batch codecs. A record that does not fit its schema (or cannot be encoded at all)
 * is a user error naming the record, the field and the value; bytes that are not a valid batch
 * are an internal error (the ring or the codec has a bug).
 */
import { SluiceError, type ErrorCode } from '../../../errors.ts'

/**
 * Thrown by `encode` for a record that cannot be encoded (code RECORD_FAILED, with `recordIndex`
 * into the batch and the `field` when known) and by `decode` for bytes that are not a batch this
 * codec can read (code INTERNAL, `recordIndex` -1).
 *
 * @example
 * try { codec.encode(batch) } catch (e) {
 *   if (e instanceof CodecError && e.recordIndex >= 0) deadLetter(batch.records[e.recordIndex], e.message)
 * }
 */
export class CodecError extends SluiceError {
  /** Index of the offending record in the batch, or -1 when the error is not about one record. */
  readonly recordIndex: number
  /** The schema field at fault, or null. */
  readonly field: string | null

  constructor(code: ErrorCode, message: string, recordIndex: number, field: string | null, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'CodecError'
    this.recordIndex = recordIndex
    this.field = field
  }
}

/** A record that does not fit: `record 17, field "price": expected a number, got "12" (string)`. */
export function recordError(recordIndex: number, field: string | null, expected: string, value: unknown, cause?: unknown): CodecError {
  const where = field === null ? `record ${recordIndex}` : `record ${recordIndex}, field "${field}"`
  return new CodecError('RECORD_FAILED', `cannot encode ${where}: expected ${expected}, got ${describeValue(value)}`,
    recordIndex, field, cause === undefined ? undefined : { cause })
}

/** Bytes that are not a valid batch. */
export function corruptBatch(message: string): CodecError {
  return new CodecError('INTERNAL', `not a valid encoded batch: ${message}`, -1, null)
}

const MAX_SHOWN = 60

/** A short, unambiguous description of a value for error messages. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'string': {
      const shown = v.length > MAX_SHOWN ? `${JSON.stringify(v.slice(0, MAX_SHOWN))}… (${v.length} chars)` : JSON.stringify(v)
      return `${shown} (string)`
    }
    case 'number': return `${Object.is(v, -0) ? '-0' : String(v)} (number)`
    case 'bigint': return `${String(v)}n (bigint)`
    case 'boolean': return `${String(v)} (boolean)`
    case 'undefined': return 'undefined (missing)'
    case 'symbol': return `${String(v)} (symbol)`
    case 'function': return 'a function'
    default: {
      if (v === null) return 'null'
      if (Array.isArray(v)) return `an array of ${v.length}`
      const name = (v as object).constructor?.name
      return name !== undefined && name !== 'Object' ? `a ${name}` : 'an object'
    }
  }
}
