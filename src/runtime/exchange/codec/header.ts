/**
 * The 16-byte header every encoded batch starts with, and the times column after it.
 *
 * ```
 * offset  size  field
 *  0      1     magic 0x53 ('S')
 *  1      1     format version (1)
 *  2      1     codec id: 1 columnar, 2 generic (msgpackr), 3 generic (columnar, inline schema)
 *  3      1     flags: bit 0 little-endian writer, bit 1 no times column (every time is NO_TIMESTAMP)
 *  4      4     record count (u32)
 *  8      4     total byte length of the batch, header included, a multiple of 8 (u32)
 * 12      4     codec 1: schema fingerprint; 2: MessagePack payload length; 3: schema section length
 * 16      8·n   times (f64), unless flag bit 1
 * ```
 * Multi-byte values are in the writer's byte order: batches cross threads of one process, never
 * machines, and typed-array views need native order. The endianness flag makes a mismatch an
 * error instead of garbage. Every section starts 8-byte aligned relative to the batch start, so a
 * decoder can view columns in place when the batch itself is 8-byte aligned.
 */
import { corruptBatch } from './codec-error.ts'

export const MAGIC = 0x53
export const FORMAT_VERSION = 1
export const HEADER_BYTES = 16
export const CODEC_COLUMNAR = 1
export const CODEC_GENERIC = 2
/** Written by the generic codec for batches of flat records of one shape (inferred-schema.ts). */
export const CODEC_INFERRED = 3

export const FLAG_LITTLE_ENDIAN = 1
export const FLAG_UNTIMED = 2

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const ENDIAN_FLAG = LITTLE_ENDIAN ? FLAG_LITTLE_ENDIAN : 0

/** Largest batch the u32 length field can describe. */
export const MAX_BATCH_BYTES = 0xffff_fff8

/** What a header says. */
export interface BatchHeader {
  codecId: number
  flags: number
  count: number
  byteLength: number
  /** Schema fingerprint (columnar) or payload length (generic). */
  extra: number
}

export function align8(n: number): number {
  return (n + 7) & ~7
}

/** Writes a header at offset 0 of `u8`/`u32` (views of the same 8-aligned buffer). */
export function writeHeader(u8: Uint8Array, u32: Uint32Array, codecId: number, untimed: boolean,
  count: number, byteLength: number, extra: number): void {
  u8[0] = MAGIC
  u8[1] = FORMAT_VERSION
  u8[2] = codecId
  u8[3] = ENDIAN_FLAG | (untimed ? FLAG_UNTIMED : 0)
  u32[1] = count
  u32[2] = byteLength
  u32[3] = extra >>> 0
}

/** Reads and checks a header; throws a CodecError (INTERNAL) for anything that is not a batch. */
export function readHeader(bytes: Uint8Array): BatchHeader {
  if (bytes.byteLength < HEADER_BYTES) throw corruptBatch(`${bytes.byteLength} bytes is shorter than the ${HEADER_BYTES}-byte header`)
  if (bytes[0] !== MAGIC) throw corruptBatch(`bad magic byte 0x${bytes[0].toString(16)}`)
  if (bytes[1] !== FORMAT_VERSION) throw corruptBatch(`format version ${bytes[1]}, this build reads version ${FORMAT_VERSION}`)
  const flags = bytes[3]
  if ((flags & FLAG_LITTLE_ENDIAN) !== ENDIAN_FLAG) throw corruptBatch('written with the other byte order')
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES)
  const count = dv.getUint32(4, LITTLE_ENDIAN)
  const byteLength = dv.getUint32(8, LITTLE_ENDIAN)
  if (byteLength > bytes.byteLength) throw corruptBatch(`header says ${byteLength} bytes, only ${bytes.byteLength} given`)
  const timesBytes = (flags & FLAG_UNTIMED) !== 0 ? 0 : count * 8
  if (HEADER_BYTES + timesBytes > byteLength) throw corruptBatch(`${count} records do not fit in ${byteLength} bytes`)
  return { codecId: bytes[2], flags, count, byteLength, extra: dv.getUint32(12, LITTLE_ENDIAN) }
}

/**
 * Writes the times column (unless every time is NO_TIMESTAMP) and returns whether the batch is
 * untimed. `times` may be longer than `n` (untimed sources share one long array).
 */
export function writeTimes(f64: Float64Array, times: readonly number[], n: number): boolean {
  let untimed = true
  for (let i = 0; i < n; i++) {
    if (times[i] !== Number.NEGATIVE_INFINITY) {
      untimed = false
      break
    }
  }
  if (untimed) return true
  const base = HEADER_BYTES >> 3
  for (let i = 0; i < n; i++) f64[base + i] = times[i]
  return false
}

/** The times of a batch as a fresh array (the encoded bytes may be overwritten right after decode). */
export function readTimes(bytes: Uint8Array, header: BatchHeader): number[] {
  const n = header.count
  const times = new Array<number>(n)
  if ((header.flags & FLAG_UNTIMED) !== 0) return times.fill(Number.NEGATIVE_INFINITY)
  const f64 = new Float64Array(bytes.buffer, bytes.byteOffset + HEADER_BYTES, n)
  for (let i = 0; i < n; i++) times[i] = f64[i]
  return times
}

/** Bytes after the header and times column: where a codec's own sections begin. */
export function bodyOffset(header: BatchHeader): number {
  return HEADER_BYTES + ((header.flags & FLAG_UNTIMED) !== 0 ? 0 : header.count * 8)
}
