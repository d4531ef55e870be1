/**
 * A compact binary encoding of plain data for state snapshots, built for large keyed state: values
 * are written straight into a chunked buffer (no intermediate arrays, no re-growing copies) and
 * read back without a per-value dispatch through a general decoder.
 *
 * Fast paths: undefined, null, booleans, numbers (int32 in 4 bytes, others as float64, so -0, NaN
 * and ±Infinity survive), strings (UTF-8), arrays, and objects — plain objects and class instances
 * alike, as their own enumerable properties (decoded as plain objects). An object's property
 * names are written once per shape: the first object of a shape defines it, later ones refer to
 * it by number. Anything else (Map, Set, Date, RegExp, Error, bigint, typed arrays, ArrayBuffer)
 * is embedded as MessagePack (msgpackr's no-eval build: decoding never turns data into code).
 * Functions and symbols are refused.
 *
 * Byte layout of a value: one tag byte, then
 *   T_INT32 int32 LE · T_FLOAT64 float64 LE · T_STRING varuint byte length, UTF-8 ·
 *   T_ASCII the same, for a string of ASCII characters only ·
 *   T_ARRAY varuint n, n values · T_SHAPE_NEW varuint n, n × (varuint length, UTF-8 name), then the
 *   n values · T_SHAPE varuint shape number, its values · T_PACKED varuint length, MessagePack.
 * Shapes are numbered in order of definition within one ValueWriter/ValueReader pair, so a
 * stream must be read from its start (snapshot.ts reads an operator's entries in order).
 */
import { SluiceError } from '../errors.ts'
import type { BufferPool } from './buffer-pool.ts'
import { isPackedKind, packr, T_ARRAY, T_ASCII, T_FALSE, T_FLOAT64, T_INT32, T_NULL, T_PACKED, T_SHAPE, T_SHAPE_NEW, T_STRING, T_TRUE, T_UNDEFINED } from './value-format.ts'

export { BufferPool, SNAPSHOT_CHUNK_BYTES, snapshotBuffers } from './buffer-pool.ts'
export { ValueReader } from './value-reader.ts'

/** Buffers start at `initialBytes` and double up to this. */
const MAX_CHUNK = 16 << 20

/** A shape-transition node: property name → the node of the names so far plus it. */
interface ShapeNode {
  id: number
  readonly next: Map<string, ShapeNode>
}

/**
 * Appends values to a list of buffers (from `pool` when given). Write with the methods, then take
 * `chunks()`, or `byteLength` and `copyTo` for one contiguous copy.
 */
export class ValueWriter {
  private readonly done: Buffer[] = []
  private doneBytes = 0
  private buf: Buffer
  /** Write position in `buf`. */
  pos = 0
  private readonly shapes: ShapeNode = { id: -1, next: new Map() }
  private shapeCount = 0

  constructor(
    initialBytes = 64 << 10,
    private readonly pool: BufferPool | null = null,
  ) {
    this.buf = pool === null ? Buffer.allocUnsafe(initialBytes) : pool.take(initialBytes)
  }

  get byteLength(): number {
    return this.doneBytes + this.pos
  }

  /** Makes room for `n` more bytes in the current buffer (a new one when full). */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    if (this.pos > 0) {
      this.done.push(this.buf.subarray(0, this.pos))
      this.doneBytes += this.pos
    }
    const size = Math.max(Math.min(this.buf.length * 2, MAX_CHUNK), n)
    this.buf = this.pool === null ? Buffer.allocUnsafe(size) : this.pool.take(size)
    this.pos = 0
  }

  /**
   * Reserves 4 bytes for a length written later with `patchU32`. The slot never moves: the value
   * written after it may go to a new buffer, but the slot stays in this one.
   */
  reserveU32(): { buf: Buffer; at: number; start: number } {
    this.ensure(4)
    const slot = { buf: this.buf, at: this.pos, start: this.byteLength + 4 }
    this.pos += 4
    return slot
  }

  /** Writes the bytes written since the slot (below 2^31) into it, with `flag` as bit 31. */
  patchU32(slot: { buf: Buffer; at: number; start: number }, flag: boolean): void {
    const n = this.byteLength - slot.start
    if (n >= 0x80000000) throw new RangeError(`one entry of ${n} bytes is too large (at most 2 GiB)`)
    slot.buf.writeUInt32LE(flag ? n + 0x80000000 : n, slot.at)
  }

  /** Object shapes defined so far. */
  get shapesDefined(): number {
    return this.shapeCount
  }

  u8(x: number): void {
    this.ensure(1)
    this.buf[this.pos++] = x
  }

  u16(x: number): void {
    this.ensure(2)
    this.buf.writeUInt16LE(x, this.pos)
    this.pos += 2
  }

  varuint(x: number): void {
    this.ensure(5)
    const b = this.buf
    let p = this.pos
    while (x >= 0x80) {
      b[p++] = (x & 0x7f) | 0x80
      x >>>= 7
    }
    b[p++] = x
    this.pos = p
  }

  private str(s: string): void {
    const max = s.length * 3
    this.ensure(max + 5)
    if (s.length < 0x80) {
      // One length byte is enough for up to 127 bytes; write the bytes after it and fix up.
      const n = this.buf.write(s, this.pos + 1, 'utf8')
      if (n < 0x80) {
        this.buf[this.pos] = n
        this.pos += 1 + n
        return
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8')
    this.varuint(bytes)
    this.pos += this.buf.write(s, this.pos, 'utf8')
  }

  /** A string value: tag, length, bytes (T_ASCII when every character is ASCII). */
  private string(s: string): void {
    this.ensure(s.length * 3 + 6)
    const b = this.buf
    const at = this.pos
    if (s.length < 0x80) {
      const n = b.write(s, at + 2, 'utf8')
      if (n < 0x80) {
        // UTF-8 of a non-ASCII character takes 2+ bytes: as many bytes as characters means ASCII.
        b[at] = n === s.length ? T_ASCII : T_STRING
        b[at + 1] = n
        this.pos = at + 2 + n
        return
      }
    }
    const n = Buffer.byteLength(s, 'utf8')
    b[at] = n === s.length ? T_ASCII : T_STRING
    this.pos = at + 1
    this.varuint(n)
    this.pos += this.buf.write(s, this.pos, 'utf8')
  }

  value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        if ((v | 0) === v && !Object.is(v, -0)) {
          this.ensure(5)
          this.buf[this.pos] = T_INT32
          this.buf.writeInt32LE(v, this.pos + 1)
          this.pos += 5
        } else {
          this.ensure(9)
          this.buf[this.pos] = T_FLOAT64
          this.buf.writeDoubleLE(v, this.pos + 1)
          this.pos += 9
        }
        return
      case 'string':
        this.string(v)
        return
      case 'boolean':
        this.u8(v ? T_TRUE : T_FALSE)
        return
      case 'undefined':
        this.u8(T_UNDEFINED)
        return
      case 'object':
        if (v === null) this.u8(T_NULL)
        else if (Array.isArray(v)) {
          this.u8(T_ARRAY)
          this.varuint(v.length)
          for (let i = 0; i < v.length; i++) this.value(v[i])
        } else if (isPackedKind(v)) this.packed(v)
        else this.object(v as Record<string, unknown>)
        return
      case 'bigint':
        this.packed(v)
        return
      default:
        throw new SluiceError('STATE_NOT_PLAIN_DATA', `a ${typeof v} cannot be stored in a snapshot; keep state to plain data`)
    }
  }

  private object(o: Record<string, unknown>): void {
    let node = this.shapes
    // for…in walks own and inherited enumerable names; state objects have no inherited ones,
    // and Object.keys would allocate an array per object.
    for (const k in o) {
      if (!Object.prototype.hasOwnProperty.call(o, k)) continue
      let next = node.next.get(k)
      if (next === undefined) {
        next = { id: -1, next: new Map() }
        node.next.set(k, next)
      }
      node = next
    }
    if (node.id >= 0) {
      this.u8(T_SHAPE)
      this.varuint(node.id)
    } else {
      node.id = this.shapeCount++
      const names: string[] = []
      for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) names.push(k)
      this.u8(T_SHAPE_NEW)
      this.varuint(names.length)
      for (const k of names) this.str(k)
    }
    for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) this.value(o[k])
  }

  private packed(v: unknown): void {
    const b = packr.pack(v)
    this.ensure(5 + b.length)
    this.buf[this.pos++] = T_PACKED
    this.varuint(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** What was written, as the buffers it fills (views: write nothing more after taking them). */
  chunks(): Uint8Array[] {
    const out: Uint8Array[] = [...this.done]
    if (this.pos > 0) out.push(this.buf.subarray(0, this.pos))
    return out
  }

  /** Copies everything written into `out` at `offset`. */
  copyTo(out: Uint8Array, offset: number): void {
    let o = offset
    for (const b of this.done) {
      out.set(b, o)
      o += b.length
    }
    out.set(this.buf.subarray(0, this.pos), o)
  }
}
