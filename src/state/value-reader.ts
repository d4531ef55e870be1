/** Reads what a ValueWriter (value-codec.ts, which describes the byte layout) wrote. */
import { T_ARRAY, T_ASCII, T_FALSE, T_FLOAT64, T_INT32, T_NULL, T_PACKED, T_SHAPE, T_SHAPE_NEW, T_STRING, T_TRUE, T_UNDEFINED, unpackr } from './value-format.ts'

/** Buffer's own slicers (what toString calls after checking its arguments); present in Node 20–24. */
interface Slicers {
  latin1Slice(start: number, end: number): string
  utf8Slice(start: number, end: number): string
}
const slicers = Buffer.prototype as unknown as Partial<Slicers>
const FAST_SLICE = typeof slicers.latin1Slice === 'function' && typeof slicers.utf8Slice === 'function'

/** Reads what a ValueWriter wrote, from its start. */
export class ValueReader {
  pos: number
  private readonly buf: Buffer
  private readonly shapes: string[][] = []
  /** Per shape: has a property named "__proto__" (set with defineProperty, not as the prototype). */
  private readonly protoShapes: boolean[] = []

  constructor(bytes: Uint8Array, start = 0, readonly end = bytes.length) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.pos = start
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new RangeError(`value data cut short at byte ${this.pos} (needs ${n} more of ${this.end})`)
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++]
  }

  u16(): number {
    this.need(2)
    const x = this.buf.readUInt16LE(this.pos)
    this.pos += 2
    return x
  }

  u32(): number {
    this.need(4)
    const x = this.buf.readUInt32LE(this.pos)
    this.pos += 4
    return x
  }

  varuint(): number {
    let x = 0
    let shift = 0
    for (;;) {
      const b = this.u8()
      x += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return x
      shift += 7
      if (shift > 35) throw new RangeError(`bad length at byte ${this.pos}`)
    }
  }

  /** A length-prefixed string: UTF-8, or (`ascii`) ASCII read as Latin-1, which skips decoding. */
  private str(ascii = false): string {
    const n = this.varuint()
    this.need(n)
    const a = this.pos
    this.pos += n
    if (!FAST_SLICE) return this.buf.toString(ascii ? 'latin1' : 'utf8', a, a + n)
    const slicers = this.buf as unknown as Slicers
    return ascii ? slicers.latin1Slice(a, a + n) : slicers.utf8Slice(a, a + n)
  }

  value(): unknown {
    const t = this.u8()
    switch (t) {
      case T_INT32: {
        this.need(4)
        const v = this.buf.readInt32LE(this.pos)
        this.pos += 4
        return v
      }
      case T_FLOAT64: {
        this.need(8)
        const v = this.buf.readDoubleLE(this.pos)
        this.pos += 8
        return v
      }
      case T_ASCII:
        return this.str(true)
      case T_STRING:
        return this.str()
      case T_SHAPE: {
        const id = this.varuint()
        return this.object(this.shape(id), this.protoShapes[id])
      }
      case T_SHAPE_NEW: {
        const n = this.varuint()
        const names: string[] = new Array<string>(n)
        for (let i = 0; i < n; i++) names[i] = this.str()
        const proto = names.includes('__proto__')
        this.shapes.push(names)
        this.protoShapes.push(proto)
        return this.object(names, proto)
      }
      case T_ARRAY: {
        const n = this.varuint()
        if (n > this.end - this.pos) throw new RangeError(`array of ${n} at byte ${this.pos} is longer than the data`)
        const a = new Array<unknown>(n)
        for (let i = 0; i < n; i++) a[i] = this.value()
        return a
      }
      case T_NULL:
        return null
      case T_UNDEFINED:
        return undefined
      case T_TRUE:
        return true
      case T_FALSE:
        return false
      case T_PACKED: {
        const n = this.varuint()
        this.need(n)
        const v: unknown = unpackr.unpack(this.buf.subarray(this.pos, this.pos + n))
        this.pos += n
        return v
      }
      default:
        throw new RangeError(`unknown value tag ${t} at byte ${this.pos - 1}`)
    }
  }

  private shape(id: number): string[] {
    const s = this.shapes[id]
    if (s === undefined) throw new RangeError(`object shape ${id} used before it was defined (byte ${this.pos})`)
    return s
  }

  private object(names: readonly string[], proto: boolean): Record<string, unknown> {
    const o: Record<string, unknown> = {}
    if (proto) {
      for (let i = 0; i < names.length; i++) Object.defineProperty(o, names[i], { value: this.value(), enumerable: true, writable: true, configurable: true })
      return o
    }
    for (let i = 0; i < names.length; i++) o[names[i]] = this.value()
    return o
  }
}
