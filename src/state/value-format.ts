/**
 * What ValueWriter and ValueReader (value-codec.ts, which describes the byte layout) share: the tag
 * byte of each kind of value, and the MessagePack settings for the values the fast paths do not take.
 */
import { createRequire } from 'node:module'
import type * as Msgpackr from 'msgpackr'
import { SluiceError } from '../errors.ts'

export const T_UNDEFINED = 0
export const T_NULL = 1
export const T_FALSE = 2
export const T_TRUE = 3
export const T_INT32 = 4
export const T_FLOAT64 = 5
export const T_STRING = 6
export const T_ARRAY = 7
export const T_SHAPE_NEW = 8
export const T_SHAPE = 9
export const T_PACKED = 10
/** A string of ASCII characters only (read back as Latin-1, which skips UTF-8 decoding). */
export const T_ASCII = 11

const requireCjs = createRequire(import.meta.url)
const { Packr, Unpackr } = requireCjs('msgpackr/index-no-eval') as typeof Msgpackr

const PACK_OPTIONS: Msgpackr.Options = {
  // Records keep plain objects inside a Map or Set plain objects (not Maps).
  useRecords: true,
  mapsAsObjects: false,
  moreTypes: true,
  copyBuffers: true,
  writeFunction: () => {
    throw new SluiceError('STATE_NOT_PLAIN_DATA', 'a function cannot be stored in a snapshot; keep state to plain data')
  },
}
export const packr = new Packr(PACK_OPTIONS)
export const unpackr = new Unpackr(PACK_OPTIONS)

/** Values that do not take the fast paths (see the module comment). */
export function isPackedKind(v: object): boolean {
  return v instanceof Map || v instanceof Set || v instanceof Date || v instanceof RegExp || v instanceof Error
    || ArrayBuffer.isView(v) || v instanceof ArrayBuffer
}
