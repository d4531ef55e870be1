import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import { sinkContract, testSinkContext, writeAll } from '../sink-contract.ts'
import { readSource } from '../source-contract.ts'
import type { SinkContext } from '../spi.ts'
import { redisStreamSink, redisStreamSinkFromUri } from './redis-sink.ts'
import { redisStreamSource, redisStreamSourceFromUri } from './redis-source.ts'

const URL = SERVICES.redis.uri
const admin = createClient({ url: URL })
const keys: string[] = []

function newKey(): string {
  const key = uniqueName('sluice_sink')
  keys.push(key)
  return key
}

/** The entries of a stream as field maps, in order. */
async function entries(key: string): Promise<Record<string, string>[]> {
  const reply = await admin.sendCommand<[string, string[]][]>(['XRANGE', key, '-', '+'])
  return reply.map(([, fields]) => Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]])))
}

beforeAll(async () => {
  await requireService('redis')
  await admin.connect()
})

afterAll(async () => {
  if (!admin.isOpen) return
  for (let i = 0; i < keys.length; i += 500) await admin.sendCommand(['DEL', ...keys.slice(i, i + 500)])
  admin.destroy()
})

const sample = Array.from({ length: 150 }, (_, i) => ({ i, word: `w${i}`, nested: { even: i % 2 === 0 } }))

sinkContract('redisStreamSink', () => {
  const key = newKey()
  return {
    sink: redisStreamSink<(typeof sample)[number]>({ url: URL, key }),
    written: async () => (await entries(key)).map((e) => JSON.parse(e.value) as unknown as (typeof sample)[number]),
  }
}, sample)

describe('redisStreamSink', () => {
  it('writes what the source reads back, with message key, headers and a sluice-id per entry', async () => {
    const key = newKey()
    const sink = redisStreamSink<{ id: string; n: number }>({ url: URL, key, messageKey: (r) => r.id, headers: (r) => ({ parity: r.n % 2 === 0 ? 'even' : 'odd' }) })
    const records = Array.from({ length: 25 }, (_, n) => ({ id: `k${n}`, n }))
    await writeAll(await sink.open({ ...testSinkContext, sinkId: 'out', subtaskIndex: 1, parallelism: 2 }), records, [10])
    const read = await readSource(redisStreamSource({ url: URL, key, bounded: true, record: (m) => m }))
    expect(read.map((m) => m.value)).toEqual(records)
    expect(read[3]).toMatchObject({ key: 'k3', headers: { parity: 'odd', 'sluice-id': 'out-1-3' }, partition: key })
  })

  it('numbers sluice-ids on from the checkpoint a recovered writer opens with, so replayed entries repeat their ids', async () => {
    const key = newKey()
    const sink = redisStreamSink<number>({ url: URL, key, format: 'json' })
    const writer = await sink.open(testSinkContext)
    await writer.write([0, 1, 2])
    const commit = JSON.parse(JSON.stringify(await writer.preCommit!(1))) as { written: number }
    expect(commit).toEqual({ written: 3 })
    await writer.commit!(commit)
    await writer.write([3, 4])
    await writer.flush!()
    await writer.abort!()
    const recovered = await sink.open(testSinkContext, commit)
    await recovered.write([3, 4, 5])
    await recovered.close!()
    const all = await entries(key)
    expect(all.map((e) => [e.value, e['sluice-id']])).toEqual([
      ['0', 'test-sink-0-0'], ['1', 'test-sink-0-1'], ['2', 'test-sink-0-2'],
      ['3', 'test-sink-0-3'], ['4', 'test-sink-0-4'],
      ['3', 'test-sink-0-3'], ['4', 'test-sink-0-4'], ['5', 'test-sink-0-5'],
    ])
    // A consumer that keeps the highest n per "<sink>-<subtask>" drops the replayed entries.
    const seen = new Map<string, number>()
    const kept = all.filter((e) => {
      const id = e['sluice-id']
      const cut = id.lastIndexOf('-')
      const n = Number(id.slice(cut + 1))
      if (n <= (seen.get(id.slice(0, cut)) ?? -1)) return false
      seen.set(id.slice(0, cut), n)
      return true
    })
    expect(kept.map((e) => e.value)).toEqual(['0', '1', '2', '3', '4', '5'])
  })

  it('chooses the stream per record, trims with maxLen, and can leave the id field out', async () => {
    const [even, odd] = [newKey(), newKey()]
    const sink = redisStreamSink<number>({ url: URL, key: (n) => (n % 2 === 0 ? even : odd), maxLen: 10, idField: null })
    await writeAll(await sink.open(testSinkContext), Array.from({ length: 1000 }, (_, n) => n), [100])
    const evens = await entries(even)
    expect(evens.length, 'MAXLEN ~ trims by whole nodes: about 10, never all').toBeLessThan(500)
    expect(evens.length).toBeGreaterThanOrEqual(10)
    expect(evens.at(-1)).toEqual({ value: '998' })
    expect((await entries(odd)).at(-1)).toEqual({ value: '999' })
  })

  it('writes exact bytes and strings', async () => {
    const key = newKey()
    await writeAll(await redisStreamSink<Uint8Array>({ url: URL, key, format: 'bytes', field: 'body' }).open(testSinkContext), [new Uint8Array([0xff, 0, 0x41])], [1])
    const read = await readSource(redisStreamSource<Uint8Array>({ url: URL, key, bounded: true, format: 'bytes', field: 'body' }))
    expect([...read[0]]).toEqual([0xff, 0, 0x41])
    const strings = newKey()
    await writeAll(await redisStreamSink<string>({ url: URL, key: strings, format: 'string' }).open(testSinkContext), ['a b', '{x'], [2])
    expect((await entries(strings)).map((e) => e.value)).toEqual(['a b', '{x'])
  })

  it('reports a record it cannot encode and writes the rest', async () => {
    const key = newKey()
    const bad: unknown[] = []
    const ctx: SinkContext = { ...testSinkContext, reportBadRecord: (record) => bad.push(record) }
    await writeAll(await redisStreamSink<unknown>({ url: URL, key }).open(ctx), [1, 2n, 3], [3])
    expect(bad).toEqual([2n])
    expect((await entries(key)).map((e) => e.value)).toEqual(['1', '3'])
    const writer = await redisStreamSink<unknown>({ url: URL, key }).open(testSinkContext)
    await expect(writer.write([5n])).rejects.toMatchObject({ code: 'SINK_RECORD_UNWRITABLE' })
    await writer.close!()
  })

  it('fails clearly writing to a key that is not a stream, and when nothing listens', async () => {
    const text = newKey()
    await admin.set(text, 'x')
    const writer = await redisStreamSink<number>({ url: URL, key: text }).open(testSinkContext)
    await writer.write([1])
    await expect(writer.preCommit!(1)).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining('not a stream') })
    await writer.abort!()
    await expect(redisStreamSinkFromUri('redis://127.0.0.1:1/k').open(testSinkContext))
      .rejects.toMatchObject({ code: 'CONNECTOR_UNREACHABLE', message: expect.stringContaining('redis://127.0.0.1:1') })
  })

  it('spreads records over KEY.0 … KEY.(n-1) by message key, or by ordinal without one, and reads them back by partitions', async () => {
    const base = newKey()
    keys.push(...[0, 1, 2].map((p) => `${base}.${p}`))
    const keyed = redisStreamSinkFromUri<{ user: string; n: number }>(`redis://127.0.0.1:6379/${base}?partitions=3`, { key: (r) => r.user })
    const records = Array.from({ length: 30 }, (_, n) => ({ user: `u${n % 5}`, n }))
    await writeAll(await keyed.open(testSinkContext), records, [30])
    const perUser = new Map<string, Set<number>>()
    for (let p = 0; p < 3; p++) {
      for (const e of await entries(`${base}.${p}`)) {
        const r = JSON.parse(e.value) as { user: string }
        expect(e.key).toBe(r.user)
        if (!perUser.has(r.user)) perUser.set(r.user, new Set())
        perUser.get(r.user)!.add(p)
      }
    }
    expect([...perUser.values()].every((ps) => ps.size === 1), 'each user in one partition').toBe(true)
    const back = await readSource(redisStreamSourceFromUri<{ n: number }>(`redis://127.0.0.1:6379/${base}?partitions=3&bounded=true`))
    expect(back.map((r) => r.n).sort((a, b) => a - b)).toEqual(records.map((r) => r.n))
    const plain = newKey()
    keys.push(`${plain}.0`, `${plain}.1`)
    await writeAll(await redisStreamSink<number>({ url: URL, key: plain, partitions: 2 }).open(testSinkContext), [0, 1, 2, 3, 4], [5])
    expect((await entries(`${plain}.0`)).map((e) => e.value)).toEqual(['0', '2', '4'])
    expect((await entries(`${plain}.1`)).map((e) => e.value)).toEqual(['1', '3'])
  })

  it('is built from a URI, which names one key', async () => {
    const key = newKey()
    const sink = redisStreamSinkFromUri<string>(`redis://127.0.0.1:6379/${key}?format=string&field=body&maxLen=100`)
    await writeAll(await sink.open(testSinkContext), ['x'], [1])
    expect(await entries(key)).toEqual([{ body: 'x', 'sluice-id': 'test-sink-0-0' }])
    expect(() => redisStreamSinkFromUri('redis://127.0.0.1:6379/a,b')).toThrow(/CONNECTOR_URI_INVALID.*one stream key/)
    expect(() => redisStreamSinkFromUri('redis://127.0.0.1:6379/a,b?partitions=2')).toThrow(/CONNECTOR_URI_INVALID.*one key with "partitions"/)
    expect(() => redisStreamSinkFromUri('redis://127.0.0.1:6379/a?bounded=true')).toThrow(/CONNECTOR_URI_INVALID.*unknown parameter "bounded"/)
    expect(() => redisStreamSink({ url: URL, key: 'k', maxLen: 0 })).toThrow(/CONNECTOR_OPTION_INVALID.*maxLen/)
  })
})
