import { Packr, Unpackr, isNativeAccelerationEnabled } from 'msgpackr'
console.log('native', isNativeAccelerationEnabled)
const p = new Packr({ useRecords: true })
const u = new Unpackr({ useRecords: true })
const rt = (v) => { const b = p.pack(v); const r = u.unpack(b); return r }
const cases = {
  undef: [{ a: undefined, b: 1 }],
  ninf: [{ a: -Infinity, b: Infinity, c: NaN, d: -0, e: 2**53, f: 1.5, g: -1 }],
  nested: [{ a: { b: { c: [1, 'x', null] } } }],
  arr: [[1, 2, [3]]],
  date: [{ d: new Date(1700000000123) }],
  map: [{ m: new Map([[1, 'a'], ['k', { z: 1 }]]) }],
  set: [{ s: new Set([1, 2]) }],
  big: [{ b: 12n }],
  bigneg: [{ b: -(2n**63n) }],
  u8: [{ u: new Uint8Array([1, 2]) }],
  f64: [{ u: new Float64Array([1, 2]) }],
  lone: ['\ud800', 'a\udc00b', 'x'.repeat(100) + '\ud800', '😀', '中文'],
  sparse: [[1, , 3]],
  objundefProto: [Object.create(null)],
  dupStruct: [{ a: 1, b: 2 }, { b: 2, a: 1 }, { a: 1, b: 2 }],
  int64: [{ x: 2**63 }],
  regex: [/ab/g],
  err: [new Error('boom')],
}
for (const [k, v] of Object.entries(cases)) {
  try { const r = rt(v); console.log(k, r, JSON.stringify(r)) } catch (e) { console.log(k, 'ERR', e.message) }
}
// self-describing: decode with a fresh unpackr
const p2 = new Packr({ useRecords: true })
const b1 = p2.pack([{ a: 1 }]); const b2 = p2.pack([{ a: 2 }])
console.log('fresh decode b2', new Unpackr({ useRecords: true }).unpack(b2), b2)
console.log(p2.structures, p2.pack([{a:1,b:2}]))
console.log(new Unpackr({useRecords:true}).unpack(p2.pack([{a:1,b:2},{a:3,b:4}])))
