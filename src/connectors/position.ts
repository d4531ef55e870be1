/**
 * Checks checkpoint positions handed back to a source. A position comes from a stored snapshot,
 * so it is checked like input: one from another source, split or version fails loudly instead
 * of reading the wrong records.
 */
import { SluiceError } from '../errors.ts'
import type { SourcePosition } from './spi.ts'

/** The error for a position this source cannot resume from. */
export function badPosition(kind: string, from: SourcePosition, reason: string): SluiceError {
  return new SluiceError('CHECKPOINT_INCOMPATIBLE', `cannot resume the ${kind} source from position ${JSON.stringify(from)}: ${reason}`)
}

/** A whole-number field of a position, at least `min`. */
export function positionInteger(kind: string, from: SourcePosition, field: string, min = 0): number {
  const value = from[field]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw badPosition(kind, from, `${field} must be a whole number >= ${min}`)
  }
  return value
}

/** A field that is a whole number >= 0 or null (JSON's stand-in for "unknown" or Infinity). */
export function positionIntegerOrNull(kind: string, from: SourcePosition, field: string): number | null {
  return from[field] === null ? null : positionInteger(kind, from, field)
}
