import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { NexmarkGenerator } from '../../../nexmark/generator.ts'
import type { NexmarkEvent } from '../../../nexmark/model.ts'
import type { Batch } from '../../../operators/types.ts'
import { CodecError } from './codec-error.ts'
import { Random, randomNumber, randomString, randomTimes } from './codec-test-support.ts'
import { GenericCodec } from './generic.ts'
import { CODEC_GENERIC, CODEC_INFERRED, HEADER_BYTES, readHeader } from './header.ts'

function roundTrip<T>(batch: Batch<T>, codec = new GenericCodec<T>()): Batch<T> {
  // A fresh decoder: nothing but the bytes crosses.
  return new GenericCodec<T>().decode(codec.encode(batch).slice())
}

function one<T>(record: T): T {
  return roundTrip({ records: [record], times: [0] }).records[0]
}

/** Round-trips `value` through msgpackr for sure: a nested array keeps the batch off the flat path. */
function viaMsgpack<T>(value: T): T {
  const bytes = new GenericCodec<unknown>().encode({ records: [{ value, nested: [] }], times: [0] }).slice()
  expect(readHeader(bytes).codecId).toBe(CODEC_GENERIC)
  return (new GenericCodec<{ value: T }>().decode(bytes).records[0]).value
}

/** Random JSON-like values without -0 and lone surrogates (the two things that do not round-trip). */
function randomPlain(rnd: Random, depth: number): unknown {
  switch (rnd.int(depth > 3 ? 6 : 9)) {
    case 0: return null
    case 1: return rnd.chance(0.5)
    case 2: { const x = randomNumber(rnd); return Object.is(x, -0) ? 0 : x }
    case 3: return randomString(rnd, 30, false)
    case 4: return rnd.int(1000)
    case 5: return undefined
    case 6: return Array.from({ length: rnd.int(5) }, () => randomPlain(rnd, depth + 1))
    default: {
      const o: Record<string, unknown> = {}
      for (let i = 0, n = rnd.int(6); i < n; i++) o[`${randomString(rnd, 6, false)}${i}`] = randomPlain(rnd, depth + 1)
      return o
    }
  }
}

/** Equality that also checks property order at every level. */
function expectSameShape(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'object' && expected !== null && !Array.isArray(expected) && Object.getPrototypeOf(expected) === Object.prototype) {
    expect(Object.keys(actual as object), path).toStrictEqual(Object.keys(expected))
    for (const k of Object.keys(expected)) expectSameShape((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`)
    return
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true)
    expect((actual as unknown[]).length, path).toBe(expected.length)
    expected.forEach((x, i) => expectSameShape((actual as unknown[])[i], x, `${path}[${i}]`))
    return
  }
  if (!Object.is(actual, expected)) expect(actual, path).toStrictEqual(expected)
}

describe('GenericCodec round trip', () => {
  it('random nested plain data (property), batches through one encoder', () => {
    const codec = new GenericCodec<unknown>()
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = new Random(seed)
      const n = rnd.pick([0, 1, 2, 10, 100])
      const records = Array.from({ length: n }, () => randomPlain(rnd, 0))
      const times = randomTimes(rnd, n)
      const out = roundTrip({ records, times }, codec)
      expect(out.times, `seed ${seed}`).toStrictEqual(times)
      expectSameShape(out.records, records, `seed ${seed}`)
    }
  })

  it('Nexmark events from the generator, in batches of 1024', () => {
    const g = new NexmarkGenerator({ seed: 3 }, 0, 4096)
    const codec = new GenericCodec<NexmarkEvent>()
    for (;;) {
      const records: NexmarkEvent[] = []
      if (g.next(records, 1024) === 0) break
      const times = records.map((e) => (e.bid ?? e.auction ?? e.person)!.dateTime)
      const out = roundTrip({ records, times }, codec)
      expect(out.times).toStrictEqual(times)
      expectSameShape(out.records, records)
    }
  })

  it('a hand-written Nexmark-like bid event keeps nulls and property order', () => {
    const e = { event_type: 2, person: null, auction: null, bid: { auction: 1000, bidder: 1001, price: 9.5, channel: 'Google', url: 'https://x', dateTime: 1767225600000, extra: '' } }
    expectSameShape(one(e), e)
  })

  it('empty batch, batch of one, batch of 100 000, untimed batches', () => {
    expect(roundTrip({ records: [], times: [] })).toStrictEqual({ records: [], times: [] })
    expect(roundTrip({ records: [{ a: 1 }], times: [-Infinity] })).toStrictEqual({ records: [{ a: 1 }], times: [-Infinity] })
    const big = Array.from({ length: 100_000 }, (_, i) => ({ id: i, name: `n${i % 100}`, tags: [i % 3] }))
    const times = big.map((_, i) => i)
    expect(roundTrip({ records: big, times })).toStrictEqual({ records: big, times })
    const untimed = new GenericCodec<number>().encode({ records: [1, 2, 3], times: [-Infinity, -Infinity, -Infinity, 9] })
    expect(untimed.byteLength).toBeLessThan(HEADER_BYTES + 24)
  })

  it('what round-trips: undefined, NaN, ±Infinity, Date, Map, Set, RegExp, Error, bigint, typed arrays, huge and unicode strings', () => {
    const r = {
      u: undefined, nan: NaN, inf: Infinity, ninf: -Infinity, big: 2 ** 60, neg: -123456.789,
      date: new Date(1_767_225_600_123), invalid: new Date(NaN),
      map: new Map<unknown, unknown>([[1, 'a'], ['k', { z: [1] }]]), set: new Set([1, 'x']),
      re: /a+b/gi, small: 12n, huge: 2n ** 100n, negBig: -(2n ** 63n),
      u8: new Uint8Array([1, 2, 3]), f64: new Float64Array([1.5, -0, NaN]), i32: new Int32Array([-1, 7]),
      text: `中文 😀 e\u0301 \u0000 \ufffd`, mb: 'x'.repeat(1_000_000), cjk: '中'.repeat(300_000),
    }
    const out = one(r)
    expect(out).toStrictEqual(r)
    expect(Object.keys(out)).toStrictEqual(Object.keys(r))
    const err = one({ e: new Error('boom') }).e
    expect(err).toBeInstanceOf(Error)
    expect(err.message).toBe('boom')
  })

  it('what does not round-trip through msgpackr: -0, lone surrogates, class prototypes, array holes', () => {
    expect(Object.is(viaMsgpack(-0), 0)).toBe(true)
    expect(viaMsgpack('a\ud800b')).toMatch(/^a\ufffd+b$/)
    class Point { constructor(readonly x: number, readonly y: number) {} }
    const p = one(new Point(1, 2))
    expect(p).not.toBeInstanceOf(Point)
    expect({ ...p }).toStrictEqual({ x: 1, y: 2 })
    // eslint-disable-next-line no-sparse-arrays
    const holes = one([1, , 3])
    expect(1 in holes).toBe(true)
    expect(holes[1]).toBeUndefined()
  })

  it('is self-describing: a worker thread decodes with a plain Unpackr and no shared state', async () => {
    const records = [
      { event_type: 2, person: null, auction: null, bid: { auction: 1, channel: 'web' } },
      { event_type: 0, person: { id: 5, name: 'ann' }, auction: null, bid: null },
      { other: 'shape', n: [1, 2] },
    ]
    const bytes = new GenericCodec<unknown>().encode({ records, times: [1, 2, 3] }).slice()
    const msgpackr = createRequire(import.meta.url).resolve('msgpackr')
    const worker = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads')
      const { Unpackr } = require(${JSON.stringify(msgpackr)})
      const b = workerData
      const dv = new DataView(b.buffer, b.byteOffset)
      const n = dv.getUint32(4, true), payload = dv.getUint32(12, true)
      const start = 16 + ((b[3] & 2) ? 0 : 8 * n)
      const records = new Unpackr({ useRecords: true, moreTypes: true }).unpack(b.subarray(start, start + payload))
      parentPort.postMessage(JSON.stringify(records))
    `, { eval: true, workerData: bytes })
    const got = await new Promise<string>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    await worker.terminate()
    expect(JSON.parse(got)).toStrictEqual(records)
  })

  it('decodes from an unaligned SharedArrayBuffer view', () => {
    const batch = { records: [{ a: 'x' }, { a: 'y' }], times: [1, 2] }
    const bytes = new GenericCodec<{ a: string }>().encode(batch)
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength + 8), 3, bytes.byteLength)
    shared.set(bytes)
    expect(new GenericCodec<{ a: string }>().decode(shared)).toStrictEqual(batch)
  })

  it('decoded binary does not point into the encoded bytes', () => {
    const bytes = new GenericCodec<{ u: Uint8Array }>().encode({ records: [{ u: new Uint8Array([1, 2, 3, 4]) }], times: [0] }).slice()
    const out = new GenericCodec<{ u: Uint8Array }>().decode(bytes)
    bytes.fill(0)
    expect([...out.records[0].u]).toStrictEqual([1, 2, 3, 4])
  })
})

describe('GenericCodec flat records (inferred schema)', () => {
  const flat = (i: number): Record<string, unknown> => ({ auction: i, channel: `c${i % 3}`, ok: i % 2 === 0, price: i * 1.5 })

  it('encodes flat records of one shape as columnar with the schema inline, exactly', () => {
    const records = [{ a: -0, s: 'x\ud800', b: true, n: NaN }, { a: 1, s: '😀', b: false, n: -Infinity }]
    const bytes = new GenericCodec<unknown>().encode({ records, times: [1, 2] }).slice()
    expect(readHeader(bytes).codecId).toBe(CODEC_INFERRED)
    const out = new GenericCodec<Record<string, unknown>>().decode(bytes)
    expect(out).toStrictEqual({ records, times: [1, 2] })
    expect(Object.is(out.records[0].a, -0)).toBe(true)
    expect(out.records[0].s).toBe('x\ud800')
  })

  it.each([
    ['an extra property', { auction: 9, channel: 'c', ok: true, price: 1, more: 1 }],
    ['a missing property', { auction: 9, channel: 'c', ok: true }],
    ['another order', { channel: 'c', auction: 9, ok: true, price: 1 }],
    ['another type', { auction: '9', channel: 'c', ok: true, price: 1 }],
    ['a null', { auction: 9, channel: null, ok: true, price: 1 }],
    ['undefined', { auction: 9, channel: 'c', ok: undefined, price: 1 }],
    ['a nested object', { auction: 9, channel: 'c', ok: true, price: { v: 1 } }],
  ])('falls back to msgpackr, losing nothing, when a later record has %s', (_, odd) => {
    const codec = new GenericCodec<unknown>()
    const records = [flat(0), flat(1), odd, flat(3)]
    const bytes = codec.encode({ records, times: [0, 1, 2, 3] }).slice()
    expect(readHeader(bytes).codecId).toBe(CODEC_GENERIC)
    const out = new GenericCodec<unknown>().decode(bytes)
    expectSameShape(out.records, records.map((r) => ({ ...(r as object) })))
  })

  it('a later class instance with the same own properties decodes as a plain object, as through msgpackr', () => {
    class Bid { auction = 9; channel = 'c'; ok = true; price = 1 }
    const out = roundTrip<unknown>({ records: [flat(0), new Bid()], times: [0, 0] })
    expect(out.records[1]).toStrictEqual({ auction: 9, channel: 'c', ok: true, price: 1 })
    expect(roundTrip<unknown>({ records: [new Bid()], times: [0] }).records[0]).toStrictEqual({ auction: 9, channel: 'c', ok: true, price: 1 })
  })

  it('goes back to the flat path a few batches after a fallback, and handles shapes changing between batches', () => {
    const codec = new GenericCodec<unknown>()
    const decoder = new GenericCodec<unknown>()
    const ids: number[] = []
    const other = (i: number): Record<string, unknown> => ({ id: i, name: `n${i}`, '1': i })
    for (let b = 0; b < 40; b++) {
      const records = b === 2 ? [flat(0), { x: 1 }] : b % 3 === 0 ? [other(b), other(b + 1)] : [flat(b), flat(b + 1)]
      const bytes = codec.encode({ records, times: [b, b] }).slice()
      ids.push(readHeader(bytes).codecId)
      const out = decoder.decode(bytes)
      expectSameShape(out.records, records)
    }
    expect(ids[2]).toBe(CODEC_GENERIC)
    expect(ids.slice(3, 19).every((id) => id === CODEC_GENERIC)).toBe(true)
    expect(ids.slice(19).every((id) => id === CODEC_INFERRED)).toBe(true)
  })

  it('random flat shapes (property)', () => {
    const codec = new GenericCodec<unknown>()
    const decoder = new GenericCodec<unknown>()
    const names = ['a', 'b', 'price', '名前', '2', 'x y', 'constructor', 'toString']
    for (let seed = 1; seed <= 100; seed++) {
      const rnd = new Random(seed)
      const keys = names.filter(() => rnd.chance(0.5))
      if (keys.length === 0) keys.push('k')
      const kinds = keys.map(() => rnd.int(3))
      const records = Array.from({ length: rnd.pick([1, 5, 300]) }, () => {
        const r: Record<string, unknown> = {}
        keys.forEach((k, i) => { r[k] = kinds[i] === 0 ? randomNumber(rnd) : kinds[i] === 1 ? randomString(rnd) : rnd.chance(0.5) })
        return r
      })
      const times = randomTimes(rnd, records.length)
      const bytes = codec.encode({ records, times }).slice()
      expect(readHeader(bytes).codecId, `seed ${seed}`).toBe(CODEC_INFERRED)
      const out = decoder.decode(bytes)
      expect(out.times).toStrictEqual(times)
      expectSameShape(out.records, records, `seed ${seed}`)
    }
  })

  it('can be turned off', () => {
    const bytes = new GenericCodec<unknown>({ inferFlatRecords: false }).encode({ records: [flat(1)], times: [0] }).slice()
    expect(readHeader(bytes).codecId).toBe(CODEC_GENERIC)
    expect(new GenericCodec<unknown>().decode(bytes).records).toStrictEqual([flat(1)])
  })

  it('rejects a corrupt inline schema', () => {
    const bytes = new GenericCodec<unknown>().encode({ records: [{ a: 1 }], times: [0] }).slice()
    const badType = bytes.slice(); badType[HEADER_BYTES + 8 + 4] = 9
    expect(() => new GenericCodec<unknown>().decode(badType)).toThrow(/bad inline schema/)
    const badLength = bytes.slice(); new DataView(badLength.buffer).setUint32(12, 3, true)
    expect(() => new GenericCodec<unknown>().decode(badLength)).toThrow(/inline schema section/)
  })
})

describe('GenericCodec errors', () => {
  it('names the record and property of a function or symbol', () => {
    const codec = new GenericCodec<Record<string, unknown>>()
    for (const [bad, what] of [[() => 1, /a function cannot cross threads/], [Symbol('s'), /symbol/]] as const) {
      let thrown: unknown
      try {
        codec.encode({ records: [{ ok: 1 }, { ok: 2, bad }], times: [0, 0] })
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(CodecError)
      const e = thrown as CodecError
      expect(e.code).toBe('RECORD_FAILED')
      expect(e.recordIndex).toBe(1)
      expect(e.field).toBe('bad')
      expect(e.message).toMatch(/cannot encode record 1, property "bad"/)
      expect(e.message).toMatch(what)
    }
    // The codec still works afterwards.
    expect(roundTrip({ records: [{ ok: 3 }], times: [0] }, codec).records).toStrictEqual([{ ok: 3 }])
  })

  it('rejects bytes that are not a generic batch', () => {
    const codec = new GenericCodec<unknown>()
    const bytes = codec.encode({ records: [1, 2], times: [0, 0] }).slice()
    const columnar = bytes.slice(); columnar[2] = 1
    expect(() => codec.decode(columnar)).toThrow(/not the generic codec/)
    const wrongCount = bytes.slice(); new DataView(wrongCount.buffer).setUint32(4, 3, true)
    expect(() => codec.decode(wrongCount)).toThrow(CodecError)
    const garbage = bytes.slice(); garbage.fill(0xc1, HEADER_BYTES + 16)
    expect(() => codec.decode(garbage)).toThrow(/not a valid encoded batch/)
  })
})
