import { Packr, Unpackr } from 'msgpackr'
import { isDeepStrictEqual, inspect } from 'node:util'
const opts = { useRecords: true, moreTypes: true, copyBuffers: true }
const p = new Packr(opts)
const u = new Unpackr(opts)
const rt = (v) => u.unpack(p.pack(v))
class Pt { constructor() { this.x = 1 } }
const cases = {
  undef: [{ a: undefined, b: 1 }],
  ninf: [{ a: -Infinity, b: Infinity, c: NaN, d: -0, e: 2**53, f: 1.5, g: -1 }],
  date: [{ d: new Date(1700000000123), inv: new Date(NaN) }],
  map: [{ m: new Map([[1, 'a'], ['k', { z: 1 }]]) }],
  set: [{ s: new Set([1, 2]) }],
  big: [{ b: 12n, c: -(2n**63n), d: 2n**64n - 1n, e: 2n**100n }],
  u8: [{ u: new Uint8Array([1, 2]) }],
  f64: [{ u: new Float64Array([1, 2.5]) }],
  i32: [{ u: new Int32Array([1, -2]) }],
  ab: [new ArrayBuffer(4)],
  lone: ['\ud800', 'a\udc00b', 'x'.repeat(100) + '\ud800', '😀', '中文'],
  sparse: [[1, , 3]],
  regex: [/ab/g],
  err: [new Error('boom')],
  cls: [new Pt()],
  sym: [{ s: Symbol('x') }],
  fn: [{ f: () => 1 }],
  numkeys: [{ 1: 'a', b: 2 }],
  emptyobj: [{}],
  nestedNull: [{ event_type: 2, person: null, auction: null, bid: { auction: 1, channel: 'a' } }],
}
for (const [k, v] of Object.entries(cases)) {
  try { const r = rt(v); console.log(k, isDeepStrictEqual(r, v) ? 'EQUAL' : 'DIFF', inspect(r, { depth: 5 })) } catch (e) { console.log(k, 'ERR', e.message) }
}
// many shapes
const shapes = []
for (let i = 0; i < 300; i++) shapes.push({ ['k' + i]: i, z: i })
const b = p.pack(shapes)
console.log('300 shapes', isDeepStrictEqual(new Unpackr(opts).unpack(b), shapes))
const b2 = p.pack(shapes)
console.log('300 shapes again fresh', isDeepStrictEqual(new Unpackr(opts).unpack(b2), shapes))
// key order
console.log(Object.keys(rt([{ b: 1, a: 2 }])[0]))
// unpack from a Uint8Array subarray at odd offset of a SharedArrayBuffer
const sab = new SharedArrayBuffer(1024); const view = new Uint8Array(sab, 3, 500)
const enc = p.pack([{ a: 'hello', u: new Uint8Array([9]) }]); view.set(enc)
const dec = u.unpack(view.subarray(0, enc.length)); view.fill(0)
console.log('sab decode', dec)
