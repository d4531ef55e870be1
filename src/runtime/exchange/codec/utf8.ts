/**
 * UTF-8 for the string dictionaries of the columnar codec.
 *
 * Strings are written as UTF-8, except that a lone surrogate (a UTF-16 code unit that is not half
 * of a pair, which JavaScript strings may hold) is written as its 3-byte WTF-8 form instead of
 * being replaced by U+FFFD as TextEncoder and Buffer do: a job must give the same results at
 * parallelism 1 (no codec) and 2. A column holding such a string is flagged, and its strings are
 * then decoded by the exact (slower) path here.
 *
 * Speed (measured on this machine, ns per string): a JS loop beats Buffer#utf8Write for short
 * ASCII strings (~15-20 vs ~50) and loses for long ones (~190 vs ~60 at 70 chars); native
 * latin1Slice/utf8Slice cost ~45 ns a call, a fromCharCode of ≤ 8 bytes ~15-25 ns.
 */

/** Column flag: some string has a character outside ASCII. */
export const STRINGS_NON_ASCII = 1
/** Column flag: some string holds a lone surrogate, written as WTF-8. */
export const STRINGS_WTF8 = 2

/** Below this length a JS loop writes faster than the native call. */
const SHORT_WRITE = 24

/** Node's Buffer methods that skip the argument handling of write()/toString(). */
export interface NodeBytes {
  utf8Write(s: string, offset: number, length: number): number
  utf8Slice(start: number, end: number): string
  latin1Slice(start: number, end: number): string
}

export function nodeBytes(buffer: ArrayBufferLike, byteOffset: number, byteLength: number): NodeBytes {
  return Buffer.from(buffer as ArrayBuffer, byteOffset, byteLength) as unknown as NodeBytes
}

/** Where writeUtf8 writes; `flags` collects STRINGS_* bits. */
export interface Utf8Target {
  u8: Uint8Array
  bytes: NodeBytes
  flags: number
}

const isWellFormed = (String.prototype as unknown as { isWellFormed?: () => boolean }).isWellFormed

/**
 * Writes `s` at `pos` and returns the position after it. The caller guarantees room for
 * 3 × s.length bytes (the most UTF-8 needs per UTF-16 code unit).
 */
export function writeUtf8(t: Utf8Target, pos: number, s: string): number {
  const len = s.length
  if (len < SHORT_WRITE) {
    const u8 = t.u8
    for (let j = 0; j < len; j++) {
      const c = s.charCodeAt(j)
      if (c >= 0x80) return writeExact(t, pos, s, j)
      u8[pos++] = c
    }
    return pos
  }
  if (isWellFormed !== undefined && !isWellFormed.call(s)) return writeExact(t, pos, s, 0)
  const written = t.bytes.utf8Write(s, pos, len * 3)
  if (written !== len) t.flags |= STRINGS_NON_ASCII
  return pos + written
}

/** UTF-8 from code unit `from` on, with lone surrogates as WTF-8. */
function writeExact(t: Utf8Target, pos: number, s: string, from: number): number {
  const u8 = t.u8
  const len = s.length
  let flags = t.flags
  for (let j = from; j < len; j++) {
    const c = s.charCodeAt(j)
    if (c < 0x80) {
      u8[pos++] = c
      continue
    }
    flags |= STRINGS_NON_ASCII
    if (c < 0x800) {
      u8[pos++] = 0xc0 | (c >> 6)
      u8[pos++] = 0x80 | (c & 0x3f)
      continue
    }
    if (c >= 0xd800 && c <= 0xdbff && j + 1 < len) {
      const d = s.charCodeAt(j + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        u8[pos++] = 0xf0 | (cp >> 18)
        u8[pos++] = 0x80 | ((cp >> 12) & 0x3f)
        u8[pos++] = 0x80 | ((cp >> 6) & 0x3f)
        u8[pos++] = 0x80 | (cp & 0x3f)
        j++
        continue
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) flags |= STRINGS_WTF8
    u8[pos++] = 0xe0 | (c >> 12)
    u8[pos++] = 0x80 | ((c >> 6) & 0x3f)
    u8[pos++] = 0x80 | (c & 0x3f)
  }
  t.flags = flags
  return pos
}

const fcc = String.fromCharCode

/** Reads bytes [s, e) written by writeUtf8, for a column with the given STRINGS_* flags. */
export function readUtf8(u8: Uint8Array, bytes: NodeBytes, s: number, e: number, flags: number): string {
  if (flags === 0) {
    switch (e - s) {
      case 0: return ''
      case 1: return fcc(u8[s])
      case 2: return fcc(u8[s], u8[s + 1])
      case 3: return fcc(u8[s], u8[s + 1], u8[s + 2])
      case 4: return fcc(u8[s], u8[s + 1], u8[s + 2], u8[s + 3])
      case 5: return fcc(u8[s], u8[s + 1], u8[s + 2], u8[s + 3], u8[s + 4])
      case 6: return fcc(u8[s], u8[s + 1], u8[s + 2], u8[s + 3], u8[s + 4], u8[s + 5])
      case 7: return fcc(u8[s], u8[s + 1], u8[s + 2], u8[s + 3], u8[s + 4], u8[s + 5], u8[s + 6])
      case 8: return fcc(u8[s], u8[s + 1], u8[s + 2], u8[s + 3], u8[s + 4], u8[s + 5], u8[s + 6], u8[s + 7])
      default: return bytes.latin1Slice(s, e)
    }
  }
  if ((flags & STRINGS_WTF8) === 0) return bytes.utf8Slice(s, e)
  return readExact(u8, s, e)
}

const CHUNK = 4096

/** Decodes UTF-8 with WTF-8 surrogates, code unit by code unit (only for flagged columns). */
function readExact(u8: Uint8Array, s: number, e: number): string {
  const units = new Uint16Array(Math.min(CHUNK + 1, e - s))
  let out = ''
  let k = 0
  let i = s
  while (i < e) {
    const b = u8[i]
    if (b < 0x80) {
      units[k++] = b
      i += 1
    } else if (b < 0xe0) {
      units[k++] = ((b & 0x1f) << 6) | (u8[i + 1] & 0x3f)
      i += 2
    } else if (b < 0xf0) {
      units[k++] = ((b & 0x0f) << 12) | ((u8[i + 1] & 0x3f) << 6) | (u8[i + 2] & 0x3f)
      i += 3
    } else {
      const cp = ((b & 0x07) << 18) | ((u8[i + 1] & 0x3f) << 12) | ((u8[i + 2] & 0x3f) << 6) | (u8[i + 3] & 0x3f)
      units[k++] = 0xd800 + ((cp - 0x10000) >> 10)
      units[k++] = 0xdc00 + ((cp - 0x10000) & 0x3ff)
      i += 4
    }
    if (k >= CHUNK) {
      out += fcc.apply(null, units.subarray(0, k) as unknown as number[])
      k = 0
    }
  }
  return k === 0 ? out : out + fcc.apply(null, units.subarray(0, k) as unknown as number[])
}
