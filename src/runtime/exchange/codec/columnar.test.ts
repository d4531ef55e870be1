import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import type { Batch } from '../../../operators/types.ts'
import { CodecError } from './codec-error.ts'
import { ColumnarCodec } from './columnar.ts'
import { Random, expectedRecord, randomRecords, randomSchema, randomString, randomTimes } from './codec-test-support.ts'
import { HEADER_BYTES } from './header.ts'
import { recordSchema, type RecordSchema } from '../../../graph/schema.ts'

type Row = Record<string, unknown>

/**
 * Deep equality that also checks property order and tells -0 from 0. Values are compared with
 * Object.is rather than toStrictEqual, whose type check reads `.constructor`: a field named
 * "constructor" holding NaN would never compare equal.
 */
function expectSameBatch(actual: Batch<unknown>, records: readonly Row[], times: readonly number[], schema: RecordSchema<unknown>, seed: number): void {
  const ctx = `seed ${seed}`
  expect(actual.records.length, ctx).toBe(records.length)
  expect(actual.times, ctx).toStrictEqual(times.slice(0, records.length))
  const names = schema.fields.map((f) => f.name)
  for (let i = 0; i < records.length; i++) {
    const got = actual.records[i] as Row
    // expect() only on a mismatch: a 100 000-record batch would spend seconds in matchers.
    const keys = Object.keys(got)
    if (keys.length !== names.length || keys.some((k, j) => k !== names[j])) expect(keys, `${ctx}, record ${i}`).toStrictEqual(names)
    if (Object.getPrototypeOf(got) !== Object.prototype) expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
    const want = expectedRecord(schema, records[i])
    for (const name of names) {
      if (!Object.is(got[name], want[name])) expect(got[name], `${ctx}, record ${i}, field "${name}"`).toBe(want[name])
    }
  }
}

function roundTrip<T>(codec: ColumnarCodec<T>, batch: Batch<T>): Batch<T> {
  // A copy in a fresh buffer, as the ring would hand it over; the scratch view is reused.
  return codec.decode(codec.encode(batch).slice())
}

describe('ColumnarCodec round trip (property)', () => {
  it('random schemas and records, many batches through one codec', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = new Random(seed)
      const schema = randomSchema(rnd)
      const codec = new ColumnarCodec(schema)
      for (let b = 0; b < 6; b++) {
        const n = rnd.pick([0, 1, 2, 7, 8, 9, 63, 64, 65, 200, 1024])
        const records = randomRecords(rnd, schema, n)
        const times = randomTimes(rnd, n)
        expectSameBatch(roundTrip(codec, { records, times }), records, times, schema, seed)
      }
    }
  })

  it('an encoder and a separate decoder (no shared state)', () => {
    for (let seed = 200; seed < 230; seed++) {
      const rnd = new Random(seed)
      const schema = randomSchema(rnd)
      const encoder = new ColumnarCodec(schema)
      const records = randomRecords(rnd, schema, 300)
      const times = randomTimes(rnd, 300)
      const decoded = new ColumnarCodec(schema).decode(encoder.encode({ records, times }).slice())
      expectSameBatch(decoded, records, times, schema, seed)
    }
  })

  it('switches string columns between dictionary, direct and per-string modes without losing data', () => {
    const schema = recordSchema({ s: 'string', t: { type: 'string', nullable: true } })
    const codec = new ColumnarCodec(schema)
    const rnd = new Random(7)
    for (let b = 0; b < 80; b++) {
      const phase = Math.floor(b / 20)
      const records = Array.from({ length: 256 }, (_, i) => ({
        s: phase === 0 ? `unique-${b}-${i}` : phase === 1 ? `rep-${i % 3}` : phase === 2 ? randomString(rnd, 30) : `ok-${i}`,
        t: i % 5 === 0 ? null : phase === 2 && i % 7 === 0 ? '中文 \ud800' : `t${i % 50}`,
      }))
      const times = randomTimes(rnd, 256)
      expectSameBatch(roundTrip(codec, { records, times }), records, times, schema, b)
    }
  })
})

describe('ColumnarCodec edge cases', () => {
  const all = recordSchema({
    n: 'number', i: 'int', s: 'string', b: 'boolean',
    nn: { type: 'number', nullable: true }, ni: { type: 'int', nullable: true },
    ns: { type: 'string', nullable: true }, nb: { type: 'boolean', nullable: true },
  })

  it('an empty batch is just the header', () => {
    const codec = new ColumnarCodec(recordSchema({ a: 'number' }))
    const bytes = codec.encode({ records: [], times: [] })
    expect(bytes.byteLength).toBe(HEADER_BYTES)
    expect(codec.decode(bytes)).toStrictEqual({ records: [], times: [] })
    const codec2 = new ColumnarCodec(all)
    expect(codec2.decode(codec2.encode({ records: [], times: [] }).slice())).toStrictEqual({ records: [], times: [] })
  })

  it('a batch of one', () => {
    const codec = new ColumnarCodec(all)
    const r = { n: -0, i: -2147483648, s: '', b: false, nn: null, ni: 2147483647, ns: null, nb: true }
    expect(roundTrip(codec, { records: [r], times: [5] })).toStrictEqual({ records: [r], times: [5] })
  })

  it('a batch of 100 000', () => {
    const codec = new ColumnarCodec(all)
    const rnd = new Random(99)
    const records = randomRecords(rnd, all as unknown as RecordSchema<Row>, 100_000)
    const times = randomTimes(rnd, 100_000)
    expectSameBatch(roundTrip(codec, { records: records as never[], times }), records, times, all, 99)
  })

  it('special numbers keep their bits: -0, NaN, ±Infinity, extremes', () => {
    const codec = new ColumnarCodec(recordSchema({ x: 'number' }))
    const xs = [-0, 0, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, 2 ** 53 + 2, 0.1 + 0.2]
    const out = roundTrip(codec, { records: xs.map((x) => ({ x })), times: xs.map(() => 1) })
    expect(out.records.map((r) => r.x)).toStrictEqual(xs)
    expect(Object.is(out.records[0].x, -0)).toBe(true)
  })

  it('int fields store -0 as 0 (int32 has no -0)', () => {
    const codec = new ColumnarCodec(recordSchema({ i: 'int' }))
    const out = roundTrip(codec, { records: [{ i: -0 }], times: [0] })
    expect(Object.is(out.records[0].i, 0)).toBe(true)
  })

  it('times: -Infinity everywhere drops the times column; mixed times round-trip; longer times arrays are cut', () => {
    const codec = new ColumnarCodec(recordSchema({ a: 'number' }))
    const records = [{ a: 1 }, { a: 2 }]
    const untimed = codec.encode({ records, times: [-Infinity, -Infinity, -Infinity, 5] }).slice()
    expect(untimed.byteLength).toBe(HEADER_BYTES + 16)
    expect(codec.decode(untimed).times).toStrictEqual([-Infinity, -Infinity])
    const mixed = [-Infinity, Infinity, NaN, -0]
    const four = [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }]
    expect(roundTrip(codec, { records: four, times: mixed }).times).toStrictEqual(mixed)
  })

  it('unicode: emoji, CJK, combining marks, NUL, U+FFFD, and lone surrogates all round-trip exactly', () => {
    const codec = new ColumnarCodec(recordSchema({ s: 'string' }))
    const strings = ['😀', '👍🏽 ok', '中文字符', 'e\u0301', '\u0000a\u0000', '\ufffd', '\ud800', 'x\udc00y', '\udc00\ud800',
      `${'a'.repeat(30)}\ud83d`, `${'é'.repeat(40)}\udfff${'😀'.repeat(10)}`, '\u{10ffff}', 'plain ascii', '']
    const records = strings.map((s) => ({ s }))
    const out = roundTrip(codec, { records, times: strings.map(() => 0) })
    expect(out.records.map((r) => r.s)).toStrictEqual(strings)
  })

  it('huge strings (1 MB ASCII, 1 MB of CJK, emoji with a lone surrogate)', () => {
    const codec = new ColumnarCodec(recordSchema({ s: 'string', t: 'string' }))
    const ascii = 'abcdefghij'.repeat(100_000)
    const cjk = '中'.repeat(1_000_000)
    const emoji = `${'😀'.repeat(300_000)}\ud800`
    const records = [{ s: ascii, t: cjk }, { s: emoji, t: ascii }, { s: ascii, t: 'x' }]
    const out = roundTrip(codec, { records, times: [1, 2, 3] })
    expect(out.records[0].s === ascii && out.records[0].t === cjk && out.records[1].s === emoji && out.records[2].s === ascii).toBe(true)
    // The dictionary wrote the repeated megabyte once.
    expect(codec.encode({ records, times: [1, 2, 3] }).byteLength).toBeLessThan(ascii.length + 3 * cjk.length + 4 * emoji.length + 1000)
    // After a huge batch, small batches still encode correctly (the scratch buffer shrinks back).
    expect(roundTrip(codec, { records: [{ s: 'a', t: 'b' }], times: [0] }).records).toStrictEqual([{ s: 'a', t: 'b' }])
  })

  it('repeated strings cost 4 bytes per record', () => {
    const codec = new ColumnarCodec(recordSchema({ channel: 'string' }))
    const channels = ['Google', 'Facebook', 'Baidu', 'Apple']
    const size = (n: number): number => codec.encode({ records: Array.from({ length: n }, (_, i) => ({ channel: channels[i % 4] })), times: new Array(n).fill(-Infinity) }).byteLength
    expect(size(2000) - size(1000)).toBe(4000)
  })

  it('decoded records have the schema property order, not the input order, and drop other properties', () => {
    const codec = new ColumnarCodec(recordSchema({ a: 'number', b: 'string' }))
    const out = roundTrip(codec, { records: [{ extra: 1, b: 'x', a: 2 }] as never[], times: [0] })
    expect(Object.keys(out.records[0])).toStrictEqual(['a', 'b'])
    expect(out.records[0]).toStrictEqual({ a: 2, b: 'x' })
  })

  it('decoded records share one hidden class (V8 natives, in a child process)', () => {
    const script = `
      import { ColumnarCodec } from './src/runtime/exchange/codec/columnar.ts'
      import { recordSchema } from './src/graph/schema.ts'
      const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)')
      const codec = new ColumnarCodec(recordSchema({ a: 'number', s: { type: 'string', nullable: true }, b: 'boolean', i: { type: 'int', nullable: true } }))
      const records = [{ a: 1, s: null, b: true, i: 3 }, { b: false, a: 2.5, s: 'x', i: null, extra: 1 }, { a: NaN, s: 'y', b: true }]
      const out = codec.decode(codec.encode({ records, times: [0, 0, 0] })).records
      process.stdout.write(JSON.stringify([sameMap(out[0], out[1]), sameMap(out[1], out[2])]))
    `
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx/esm', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../../../', import.meta.url)) })
    expect(run.stderr).toBe('')
    expect(JSON.parse(run.stdout)).toStrictEqual([true, true])
  })

  it('nullable fields accept null and undefined (absent) and decode both as null', () => {
    const codec = new ColumnarCodec(all)
    const r = { n: 1, i: 2, s: 's', b: true }
    expect(roundTrip(codec, { records: [r] as never[], times: [0] }).records[0]).toStrictEqual({ ...r, nn: null, ni: null, ns: null, nb: null })
  })

  it('equal batches encode to equal bytes, whatever was encoded before (padding is zeroed)', () => {
    const codec = new ColumnarCodec(all)
    const small = { records: [{ n: 1, i: 1, s: 'a', b: true, nn: 2, ni: null, ns: 'q', nb: false }], times: [3] }
    const first = codec.encode(small).slice()
    const rnd = new Random(3)
    codec.encode({ records: randomRecords(rnd, all as unknown as RecordSchema<Row>, 5000) as never[], times: randomTimes(rnd, 5000) })
    expect(codec.encode(small)).toStrictEqual(first)
  })

  it('decoded batches share no memory with the bytes', () => {
    const codec = new ColumnarCodec(recordSchema({ a: 'number', s: 'string' }))
    const bytes = codec.encode({ records: [{ a: 1, s: 'hello world, long enough' }], times: [7] }).slice()
    const out = codec.decode(bytes)
    bytes.fill(0, HEADER_BYTES)
    expect(out).toStrictEqual({ records: [{ a: 1, s: 'hello world, long enough' }], times: [7] })
  })

  it('decodes from a SharedArrayBuffer, aligned or not', () => {
    const codec = new ColumnarCodec(recordSchema({ a: 'int', s: 'string' }))
    const batch = { records: [{ a: 1, s: 'x' }, { a: 2, s: 'yé' }], times: [1, 2] }
    const bytes = codec.encode(batch)
    for (const offset of [0, 8, 3]) {
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength + 16), offset, bytes.byteLength)
      shared.set(bytes)
      expect(codec.decode(shared)).toStrictEqual(batch)
    }
  })
})

describe('ColumnarCodec errors', () => {
  const schema = recordSchema({ auction: 'number', channel: 'string', qty: 'int', ok: 'boolean', note: { type: 'string', nullable: true } })
  const good = { auction: 1, channel: 'web', qty: 3, ok: true, note: null }

  function encodeError(bad: unknown, at = 2): CodecError {
    const codec = new ColumnarCodec(schema)
    const records = [good, good, good, good]
    records[at] = bad as typeof good
    try {
      codec.encode({ records, times: [0, 0, 0, 0] })
    } catch (e) {
      expect(e).toBeInstanceOf(CodecError)
      return e as CodecError
    }
    throw new Error('expected a CodecError')
  }

  it.each([
    [{ ...good, auction: '12' }, 'auction', 'record 2, field "auction": expected a number, got "12" (string)'],
    [{ ...good, channel: 5 }, 'channel', 'record 2, field "channel": expected a string, got 5 (number)'],
    [{ ...good, channel: undefined }, 'channel', 'field "channel": expected a string, got undefined (missing)'],
    [{ auction: 1, qty: 3, ok: true, note: null }, 'channel', 'field "channel": expected a string, got undefined (missing)'],
    [{ ...good, channel: null }, 'channel', 'expected a string, got null'],
    [{ ...good, qty: 1.5 }, 'qty', 'field "qty": expected an integer in [-2147483648, 2147483647], got 1.5 (number)'],
    [{ ...good, qty: 2 ** 31 }, 'qty', 'got 2147483648 (number)'],
    [{ ...good, qty: NaN }, 'qty', 'got NaN (number)'],
    [{ ...good, ok: 1 }, 'ok', 'field "ok": expected a boolean, got 1 (number)'],
    [{ ...good, note: 42 }, 'note', 'field "note": expected a string or null, got 42 (number)'],
    [{ ...good, auction: 10n }, 'auction', 'got 10n (bigint)'],
    [{ ...good, channel: 'x'.repeat(500) }, null, ''],
  ])('names the record, field and value: %#', (bad, field, message) => {
    if (field === null) {
      // A long string is fine; this row checks the batch encodes.
      expect(new ColumnarCodec(schema).encode({ records: [bad as typeof good], times: [0] }).byteLength).toBeGreaterThan(500)
      return
    }
    const e = encodeError(bad)
    expect(e.code).toBe('RECORD_FAILED')
    expect(e.recordIndex).toBe(2)
    expect(e.field).toBe(field)
    expect(e.message).toContain(message)
  })

  it('rejects records that are not objects', () => {
    for (const bad of [null, undefined, 7, 'str']) {
      const e = encodeError(bad, 1)
      expect(e.recordIndex).toBe(1)
      expect(e.field).toBeNull()
      expect(e.message).toContain('cannot encode record 1: expected an object with the schema\'s fields')
    }
  })

  it('truncates long values in messages', () => {
    const e = encodeError({ ...good, qty: 'y'.repeat(10_000) })
    expect(e.message.length).toBeLessThan(400)
    expect(e.message).toContain('(10000 chars)')
  })

  it('rejects a batch with fewer times than records', () => {
    expect(() => new ColumnarCodec(schema).encode({ records: [good, good], times: [1] })).toThrow(/2 records but only 1 times/)
  })

  it('an encode error leaves the codec usable', () => {
    const codec = new ColumnarCodec(schema)
    expect(() => codec.encode({ records: [good, { ...good, channel: 1 } as never], times: [0, 0] })).toThrow(CodecError)
    expect(roundTrip(codec, { records: [good], times: [0] }).records).toStrictEqual([good])
  })

  it('rejects bytes that are not a batch of this schema', () => {
    const codec = new ColumnarCodec(schema)
    const bytes = codec.encode({ records: [good, good], times: [1, 2] }).slice()
    const expectCorrupt = (b: Uint8Array, message: RegExp): void => {
      let thrown: unknown
      try { codec.decode(b) } catch (e) { thrown = e }
      expect(thrown).toBeInstanceOf(CodecError)
      expect((thrown as CodecError).code).toBe('INTERNAL')
      expect((thrown as CodecError).message).toMatch(message)
    }
    expectCorrupt(bytes.subarray(0, 10), /shorter than the 16-byte header/)
    expectCorrupt(bytes.subarray(0, bytes.byteLength - 8), /header says \d+ bytes/)
    const magic = bytes.slice(); magic[0] = 0
    expectCorrupt(magic, /bad magic/)
    const version = bytes.slice(); version[1] = 9
    expectCorrupt(version, /format version 9/)
    const other = new ColumnarCodec(recordSchema({ auction: 'number' })).encode({ records: [{ auction: 1 }], times: [0] }).slice()
    expectCorrupt(other, /another schema/)
    const generic = bytes.slice(); generic[2] = 2
    expectCorrupt(generic, /not the columnar codec/)
    const count = bytes.slice(); new DataView(count.buffer).setUint32(4, 1000, true)
    expectCorrupt(count, /do not fit|runs past/)
  })
})
