const N = 1 << 16
function mk(len) { const a = []; for (let i = 0; i < N; i++) { let s = ''; for (let j = 0; j < len; j++) s += String.fromCharCode(97 + ((i * 7 + j * 13) % 26)); a.push(s) } return a }
const te = new TextEncoder(), td = new TextDecoder()
const ab = new ArrayBuffer(1 << 24); const u8 = new Uint8Array(ab); const buf = Buffer.from(ab)
function manualEnc(strs) { let p = 0; for (let i = 0; i < strs.length; i++) { const s = strs[i]; for (let j = 0; j < s.length; j++) { const c = s.charCodeAt(j); if (c < 0x80) u8[p++] = c; else { p += te.encodeInto(s.slice(j), u8.subarray(p)).written; break } } } return p }
function intoEnc(strs) { let p = 0; for (let i = 0; i < strs.length; i++) p += te.encodeInto(strs[i], u8.subarray(p)).written; return p }
function bufEnc(strs) { let p = 0; for (let i = 0; i < strs.length; i++) p += buf.utf8Write(strs[i], p); return p }
function bufEncLatin(strs) { let p = 0; for (let i = 0; i < strs.length; i++) p += buf.latin1Write(strs[i], p); return p }
const offs = new Uint32Array(N + 1)
function fill(strs) { let p = 0; offs[0] = 0; for (let i = 0; i < strs.length; i++) { p += buf.utf8Write(strs[i], p); offs[i + 1] = p } }
const out = new Array(N)
function manualDec() { for (let i = 0; i < N; i++) { const s = offs[i], e = offs[i + 1]; let r = ''; for (let j = s; j < e; j++) { const b = u8[j]; if (b >= 0x80) { r = buf.utf8Slice(s, e); break } r += String.fromCharCode(b) } out[i] = r } }
function fcc() { for (let i = 0; i < N; i++) { const s = offs[i], e = offs[i + 1]; out[i] = String.fromCharCode.apply(null, u8.subarray(s, e)) } }
function tdDec() { for (let i = 0; i < N; i++) out[i] = td.decode(u8.subarray(offs[i], offs[i + 1])) }
function utf8Slice() { for (let i = 0; i < N; i++) out[i] = buf.utf8Slice(offs[i], offs[i + 1]) }
function latin1Slice() { for (let i = 0; i < N; i++) out[i] = buf.latin1Slice(offs[i], offs[i + 1]) }
function asciiSlice() { for (let i = 0; i < N; i++) out[i] = buf.asciiSlice(offs[i], offs[i + 1]) }
function toStr() { for (let i = 0; i < N; i++) out[i] = buf.toString('utf8', offs[i], offs[i + 1]) }
function time(name, f, arg) { for (let w = 0; w < 5; w++) f(arg); const t0 = performance.now(); const R = 20; for (let r = 0; r < R; r++) f(arg); const ns = (performance.now() - t0) * 1e6 / (R * N); console.log(name.padEnd(14), ns.toFixed(1), 'ns/str') }
for (const len of [4, 10, 24, 70, 300]) {
  const strs = mk(len)
  console.log('--- len', len)
  time('manualEnc', manualEnc, strs); time('encodeInto', intoEnc, strs); time('utf8Write', bufEnc, strs); time('latin1Write', bufEncLatin, strs)
  fill(strs)
  time('manualDec', manualDec); time('fcc.apply', fcc); time('TextDecoder', tdDec); time('utf8Slice', utf8Slice); time('latin1Slice', latin1Slice); time('asciiSlice', asciiSlice); time('toString', toStr)
}
