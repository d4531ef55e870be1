/**
 * The growable encode buffer a codec reuses for every batch, with typed views of all of it. Views
 * of the whole buffer (indexed by byte offset >> 3 or >> 2) cost nothing per batch; every section
 * of a batch starts 8-byte aligned, so each view can address it.
 */
import { nodeBytes, type NodeBytes, type Utf8Target } from './utf8.ts'

const INITIAL_BYTES = 64 * 1024
/** After a batch needed more than this, the next encode starts again from INITIAL_BYTES. */
const MAX_RETAINED_BYTES = 16 * 1024 * 1024

export class Scratch implements Utf8Target {
  u8: Uint8Array
  u32: Uint32Array
  i32: Int32Array
  f64: Float64Array
  bytes: NodeBytes
  /** STRINGS_* bits of the string column being written (see utf8.ts). */
  flags = 0

  /** Empty until the first reserve: a codec that only decodes never allocates it. */
  constructor() {
    const buffer = new ArrayBuffer(0)
    this.u8 = new Uint8Array(buffer)
    this.u32 = new Uint32Array(buffer)
    this.i32 = new Int32Array(buffer)
    this.f64 = new Float64Array(buffer)
    this.bytes = nodeBytes(buffer, 0, 0)
  }

  /** Called at the start of each encode: lets go of a buffer grown by one huge batch. */
  startBatch(): void {
    if (this.u8.byteLength > MAX_RETAINED_BYTES) this.replace(INITIAL_BYTES, 0)
  }

  /** Makes room up to byte `end`, keeping bytes [0, used). Views change when it grows. */
  reserve(end: number, used: number): void {
    if (end <= this.u8.byteLength) return
    this.replace(Math.max(end, this.u8.byteLength * 2, INITIAL_BYTES), used)
  }

  /** Zeroes bytes [from, to): padding and bitmaps, so equal batches encode to equal bytes. */
  zero(from: number, to: number): void {
    if (to > from) this.u8.fill(0, from, to)
  }

  private replace(size: number, used: number): void {
    const bytes = (size + 7) & ~7
    const buffer = new ArrayBuffer(bytes)
    const u8 = new Uint8Array(buffer)
    if (used > 0) u8.set(this.u8.subarray(0, used))
    this.u8 = u8
    this.u32 = new Uint32Array(buffer)
    this.i32 = new Int32Array(buffer)
    this.f64 = new Float64Array(buffer)
    this.bytes = nodeBytes(buffer, 0, bytes)
  }
}

/**
 * `bytes` itself when it starts 8-byte aligned in its buffer (so columns can be viewed in place),
 * else an aligned copy. A ring that keeps batches 8-byte aligned never pays for the copy.
 */
export function alignedView(bytes: Uint8Array, byteLength: number): Uint8Array {
  return (bytes.byteOffset & 7) === 0 ? bytes : bytes.slice(0, byteLength)
}
