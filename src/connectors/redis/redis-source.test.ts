import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import type { BrokerMessage } from '../broker.ts'
import { readAll, readSource, sourceContract, TestSourceContext } from '../source-contract.ts'
import type { SourcePosition } from '../spi.ts'
import { redisStreamSource, redisStreamSourceFromUri } from './redis-source.ts'

const URL = SERVICES.redis.uri
const admin = createClient({ url: URL })
const keys: string[] = []

function newKey(prefix = 'sluice_src'): string {
  const key = uniqueName(prefix)
  keys.push(key)
  return key
}

/** XADD each entry (field/value pairs) with the given ids, '*' for auto; an empty list still creates the stream. */
async function fill(key: string, entries: readonly (readonly string[])[], ids?: readonly string[]): Promise<void> {
  if (entries.length === 0) {
    await admin.sendCommand(['XADD', key, '*', 'value', 'null'])
    await admin.sendCommand(['XTRIM', key, 'MAXLEN', '0'])
    return
  }
  await Promise.all(entries.map((fields, i) => admin.sendCommand(['XADD', key, ids?.[i] ?? '*', ...fields])))
}

beforeAll(async () => {
  await requireService('redis')
  await admin.connect()
})

afterAll(async () => {
  if (!admin.isOpen) return
  for (let i = 0; i < keys.length; i += 500) await admin.sendCommand(['DEL', ...keys.slice(i, i + 500)])
  await admin.sendCommand(['ACL', 'DELUSER', 'sluice_test_reader'])
  admin.destroy()
})

const sample = Array.from({ length: 240 }, (_, i) => ({ i, name: `record ${i}`, tags: i % 3 === 0 ? ['a'] : [] }))

sourceContract('redisStreamSource, one key', async (records) => {
  const key = newKey()
  await fill(key, records.map((r) => ['value', JSON.stringify(r)]))
  return redisStreamSource({ url: URL, key, bounded: true })
}, sample)

// Keys take turns of 10 entries: records 0-9 go to the first key, 10-19 to the second, 20-29
// to the third, 30-39 to the first again…, so the turns read them back in sample order.
sourceContract('redisStreamSource, three keys taking turns', async (records) => {
  const three = [newKey(), newKey(), newKey()]
  for (let k = 0; k < 3; k++) await fill(three[k], records.filter((_, i) => Math.floor(i / 10) % 3 === k).map((r) => ['value', JSON.stringify(r)]))
  return redisStreamSource({ url: URL, key: three, bounded: true, turnRecords: 10 })
}, [...sample, ...sample.slice(0, 7)].map((r, i) => ({ ...r, i })), { parallelism: [2, 3] })

describe('redisStreamSource', () => {
  it('gives key i to subtask i % parallelism and refuses a position taken by another subtask', async () => {
    const four = [newKey(), newKey(), newKey(), newKey()]
    for (let k = 0; k < 4; k++) await fill(four[k], [['value', JSON.stringify(`from ${k}`)]])
    const source = redisStreamSource<string>({ url: URL, key: four, bounded: true })
    expect(await readSource(source, new TestSourceContext('fail', undefined, 's', 0, 2))).toEqual(['from 0', 'from 2'])
    expect(await readSource(source, new TestSourceContext('fail', undefined, 's', 1, 2))).toEqual(['from 1', 'from 3'])
    const reader = await source.open(new TestSourceContext('fail', undefined, 's', 0, 2))
    const position = reader.snapshotPosition!()
    await reader.close?.()
    expect(position.keys).toEqual([four[0], four[2]])
    await expect(source.open(new TestSourceContext('fail', undefined, 's', 1, 2), position)).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('subtask 1 of 2') })
    await expect(source.open(new TestSourceContext('fail', undefined, 's', 0, 2), { ...position, ids: ['0-0', '007-1'] })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE' })
  })

  it('returns one key per read and names it, the keys taking turns, for per-partition watermarks', async () => {
    const [a, b] = [newKey(), newKey()]
    await fill(a, Array.from({ length: 25 }, (_, i) => ['value', JSON.stringify(`a${i}`)]))
    await fill(b, Array.from({ length: 12 }, (_, i) => ['value', JSON.stringify(`b${i}`)]))
    const reader = await redisStreamSource<string>({ url: URL, key: [a, b], bounded: true, turnRecords: 10 }).open(new TestSourceContext('fail'))
    expect(reader.partitionCount!()).toBe(2)
    const reads: string[] = []
    for (;;) {
      const out: string[] = []
      const n = await reader.read(out, 7)
      if (n === -1) break
      if (n === 0) continue
      const partition = reader.lastPartition!()
      expect(out.every((v) => v[0] === 'ab'[partition]), `read ${JSON.stringify(out)} is all from key ${partition}`).toBe(true)
      reads.push(out.join(' '))
      if (partition === 1 && out.includes('b11')) expect(reader.partitionEnded!(1)).toBe(true)
    }
    expect(reader.partitionEnded!(0)).toBe(true)
    const turn = (key: string, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${key}${from + i}`)
    expect(reads.join(' ').split(' ')).toEqual([...turn('a', 0, 10), ...turn('b', 0, 10), ...turn('a', 10, 20), ...turn('b', 10, 12), ...turn('a', 20, 25)])
    await reader.close!()
  })

  it('bounded: stops at the last entry there at open, and a resumed reader at that same end', async () => {
    const key = newKey()
    await fill(key, [1, 2, 3].map((i) => ['value', String(i)]))
    const source = redisStreamSource<number>({ url: URL, key, bounded: true })
    const reader = await source.open(new TestSourceContext('fail'))
    const out: number[] = []
    expect(await reader.read(out, 2)).toBe(2)
    const position = JSON.parse(JSON.stringify(reader.snapshotPosition!())) as SourcePosition
    await fill(key, [4, 5].map((i) => ['value', String(i)]))
    expect(await readAll(reader)).toEqual([3])
    await reader.close?.()
    const resumed = await source.open(new TestSourceContext('fail'), position)
    expect(await readAll(resumed), 'the end fixed when the first reader opened').toEqual([3])
    await resumed.close?.()
    expect(await readSource(source), 'a new start sees the new end').toEqual([1, 2, 3, 4, 5])
  })

  it('unbounded: waits on a key that does not exist yet and reads entries as they arrive', async () => {
    const key = newKey()
    const reader = await redisStreamSource<number>({ url: URL, key, blockMs: 20 }).open(new TestSourceContext('fail'))
    const out: number[] = []
    expect(await reader.read(out, 10)).toBe(0)
    await fill(key, [['value', '1'], ['value', '2']])
    await until(async () => (await reader.read(out, 10), out.length >= 2 ? true : undefined), 'two entries read')
    await fill(key, [['value', '3']])
    await until(async () => (await reader.read(out, 10), out.length >= 3 ? true : undefined), 'the third entry read')
    expect(out).toEqual([1, 2, 3])
    expect(reader.connection!().state).toBe('connected')
    await reader.close?.()
  })

  it('reports entries that do not decode with their key and id, and goes on under skip', async () => {
    const key = newKey()
    await fill(key, [['value', '{"ok":1}'], ['value', '{not json'], ['other', 'x'], ['value', '{"ok":2}']], ['5-1', '5-2', '6-0', '7-0'])
    const ctx = new TestSourceContext('skip')
    expect(await readSource(redisStreamSource({ url: URL, key, bounded: true }), ctx)).toEqual([{ ok: 1 }, { ok: 2 }])
    expect(ctx.badRecords).toEqual([
      { raw: '{not json', reason: expect.stringContaining('not JSON'), position: `key ${key} id 5-2` },
      { raw: ['other', 'x'], reason: 'the entry has no field "value"', position: `key ${key} id 6-0` },
    ])
    await expect(readSource(redisStreamSource({ url: URL, key, bounded: true }), new TestSourceContext('fail')))
      .rejects.toMatchObject({ code: 'SOURCE_MALFORMED_RECORD', message: expect.stringContaining(`key ${key} id 5-2`) })
  })

  it('hands the record function the key, headers, partition, id and timestamp', async () => {
    const key = newKey()
    await fill(key, [['value', '"hello"', 'key', 'k1', 'trace', 't-9'], ['value', '"bye"']], ['1700000000123-4', '1700000000124-0'])
    const messages = await readSource(redisStreamSource<BrokerMessage>({ url: URL, key, bounded: true, format: 'json', record: (m) => m }))
    expect(messages).toEqual([
      { value: 'hello', key: 'k1', headers: { trace: 't-9' }, partition: key, offset: '1700000000123-4', timestamp: 1700000000123 },
      { value: 'bye', key: null, headers: {}, partition: key, offset: '1700000000124-0', timestamp: 1700000000124 },
    ])
  })

  it('tells where each record of the last read came from, and its raw payload', async () => {
    const key = newKey()
    await fill(key, [['value', '1'], ['value', 'oops'], ['h', 'x', 'value', ' 2']], ['3-0', '3-1', '4-0'])
    const reader = await redisStreamSource<number>({ url: URL, key, bounded: true }).open(new TestSourceContext('skip'))
    const out: number[] = []
    expect(await reader.read(out, 10)).toBe(2)
    expect([reader.positionOf!(0), reader.positionOf!(1)]).toEqual([`key ${key} id 3-0`, `key ${key} id 4-0`])
    expect([reader.rawOf!(0), reader.rawOf!(1)]).toEqual(['1', ' 2'])
    expect(reader.position()).toBe(`key ${key} id 4-0`)
    await reader.close!()
  })

  it('reads a custom field as string or as the exact bytes', async () => {
    const key = newKey()
    await admin.sendCommand(['XADD', key, '*', 'body', Buffer.from([0xff, 0x00, 0x41])])
    await admin.sendCommand(['XADD', key, '*', 'body', 'plain text'])
    const bytes = await readSource(redisStreamSource<Uint8Array>({ url: URL, key, bounded: true, field: 'body', format: 'bytes' }))
    expect(bytes.map((b) => [...b])).toEqual([[0xff, 0x00, 0x41], [...Buffer.from('plain text')]])
    const strings = await readSource(redisStreamSource<string>({ url: URL, key, bounded: true, field: 'body', format: 'string' }))
    expect(strings[1]).toBe('plain text')
  })

  it('shows each key read position and lag, refreshed from the server at most every second', async () => {
    const [a, b] = [newKey(), newKey()]
    await fill(a, Array.from({ length: 10 }, (_, i) => ['value', String(i)]))
    await fill(b, [['value', '0']])
    let now = 0
    const ctx = new TestSourceContext('fail', { now: () => now })
    const reader = await redisStreamSource<number>({ url: URL, key: [a, b] }).open(ctx)
    expect(reader.progress!()).toEqual([{ partition: a, position: 'id 0-0', lag: 10 }, { partition: b, position: 'id 0-0', lag: 1 }])
    const out: number[] = []
    await until(async () => (await reader.read(out, 100), out.length === 11 ? true : undefined), 'all entries read')
    expect(reader.progress!().map((p) => p.lag)).toEqual([0, 0])
    await fill(a, [['value', '10'], ['value', '11']])
    expect(reader.progress!()[0].lag, 'no refresh within a second').toBe(0)
    now = 1_000
    await until(async () => (await reader.read([], 1), reader.progress!()[0].lag === 1 ? true : undefined), 'the lag refreshed')
    expect(reader.progress!()[0].position).not.toBe('id 0-0')
    await reader.close?.()
  })

  it('fails clearly on a bounded read of a missing key, and on a key that is not a stream', async () => {
    const missing = newKey()
    await expect(redisStreamSource({ url: URL, key: missing, bounded: true }).open(new TestSourceContext()))
      .rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining(`no stream "${missing}"`) })
    const text = newKey()
    await admin.set(text, 'not a stream')
    await expect(redisStreamSource({ url: URL, key: text }).open(new TestSourceContext()))
      .rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining('not a stream') })
  })

  it('fails fast with CONNECTOR_UNREACHABLE naming the URL when nothing listens', async () => {
    await expect(redisStreamSource({ url: 'redis://127.0.0.1:1', key: 'k' }).open(new TestSourceContext()))
      .rejects.toMatchObject({ code: 'CONNECTOR_UNREACHABLE', message: expect.stringContaining('redis://127.0.0.1:1') })
  })

  it('fails with CONNECTOR_AUTH on a wrong password, without printing it', async () => {
    await admin.sendCommand(['ACL', 'SETUSER', 'sluice_test_reader', 'on', '>right-secret', '~*', '+@all'])
    const error = await Promise.resolve(redisStreamSourceFromUri('redis://sluice_test_reader:wrong-secret@127.0.0.1:6379/k').open(new TestSourceContext())).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CONNECTOR_AUTH', message: expect.stringContaining('sluice_test_reader:***@127.0.0.1') })
    expect(String((error as Error).message)).not.toContain('wrong-secret')
  })

  it('is built from a URI with several keys and its options', async () => {
    const [a, b] = [newKey(), newKey()]
    await fill(a, [['body', '"a"']], ['1-1'])
    await fill(b, [['body', '"b"']], ['2-1'])
    const source = redisStreamSourceFromUri<string>(`redis://127.0.0.1:6379/${a},${b}?bounded=true&format=string&field=body&db=0`)
    expect(source.bounded).toBe(true)
    expect(await readSource(source)).toEqual(['"a"', '"b"'])
    expect(() => redisStreamSourceFromUri('redis://127.0.0.1:6379/k?group=g')).toThrow(/CONNECTOR_URI_INVALID.*unknown parameter "group"/)
    expect(() => redisStreamSourceFromUri('redis://127.0.0.1:6379/')).toThrow(/CONNECTOR_URI_INVALID.*stream key/)
    expect(() => redisStreamSourceFromUri('redis://127.0.0.1:6379/a,,b')).toThrow(/CONNECTOR_URI_INVALID/)
    expect(() => redisStreamSourceFromUri('redis://127.0.0.1:6379/k?format=xml')).toThrow(/CONNECTOR_URI_INVALID.*format/)
  })
})
