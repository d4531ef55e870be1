import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort, requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import type { LookupTable } from '../../operators/async/lookup.ts'
import { RecordFailure } from '../record-failure.ts'
import { redisLookup, type RedisLookup, type RedisLookupKey } from './lookup.ts'

const URL = SERVICES.redis.uri
const admin = createClient({ url: URL })
const prefixes: string[] = []
const opened: RedisLookup<RedisLookupKey, unknown>[] = []

beforeAll(async () => {
  await requireService('redis')
  await admin.connect()
})

afterAll(async () => {
  for (const t of opened) await t.close()
  if (!admin.isOpen) return
  for (const prefix of prefixes) {
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(keys)
  }
  admin.destroy()
})

function newPrefix(): string {
  const prefix = `${uniqueName('sluice_lookup')}:`
  prefixes.push(prefix)
  return prefix
}

async function open<K extends RedisLookupKey, V>(t: RedisLookup<K, V>): Promise<RedisLookup<K, V>> {
  await t.open()
  opened.push(t as unknown as RedisLookup<RedisLookupKey, unknown>)
  return t
}

interface Profile { name: string; score: number }

describe('redisLookup', () => {
  it("type 'string': each key's string, undefined where there is none, in order, a key asked twice answered twice", async () => {
    const prefix = newPrefix()
    await admin.mSet({ [`${prefix}1`]: 'one', [`${prefix}2`]: 'two', [`${prefix}x`]: '' })
    const t = await open(redisLookup({ url: URL, type: 'string', keyPrefix: prefix }))
    expect(await t.get([2, 'x', 3, 1, 2])).toEqual(['two', '', undefined, 'one', 'two'])
    expect(await t.get([])).toEqual([])
    expect(t.name).toBe(`redis keys ${prefix}* at ${URL}`)
  })

  it("type 'json': each value parsed, and is a LookupTable", async () => {
    const prefix = newPrefix()
    await admin.mSet({ [`${prefix}ann`]: JSON.stringify({ name: 'Ann', score: 3 }), [`${prefix}nul`]: 'null' })
    const t: LookupTable<string, Profile | null> = await open(redisLookup<Profile | null, string>({ url: URL, type: 'json', keyPrefix: prefix }))
    expect(await t.get(['ann', 'bob', 'nul'], { signal: new AbortController().signal, attempt: 1 })).toEqual([{ name: 'Ann', score: 3 }, undefined, null])
  })

  it("type 'json': a value that is not JSON fails only its key, with ASYNC_RESULT_INVALID naming the key; the others are answered", async () => {
    const prefix = newPrefix()
    await admin.mSet({ [`${prefix}good`]: '{"name":"G","score":1}', [`${prefix}bad`]: '{name: oops', [`${prefix}worse`]: 'not json' })
    const t = await open(redisLookup<Profile>({ url: URL, type: 'json', keyPrefix: prefix }))
    const [good, bad, missing, worse] = await t.get(['good', 'bad', 'missing', 'worse'])
    expect([good, missing]).toEqual([{ name: 'G', score: 1 }, undefined])
    expect(bad).toBeInstanceOf(RecordFailure)
    expect((bad as RecordFailure).cause).toMatchObject({ code: 'ASYNC_RESULT_INVALID', message: expect.stringContaining(`key "${prefix}bad" holds "{name: oops", not JSON`) })
    expect(worse).toBeInstanceOf(RecordFailure)
    expect((worse as RecordFailure).cause).toMatchObject({ code: 'ASYNC_RESULT_INVALID', message: expect.stringContaining(`key "${prefix}worse" holds "not json", not JSON`) })
  })

  it("type 'hash': each hash's fields, an empty or missing hash undefined; a string where a hash belongs fails only its key, with CONNECTOR_NOT_FOUND naming it", async () => {
    const prefix = newPrefix()
    await admin.sendCommand(['HSET', `${prefix}7`, 'name', 'Seven', 'tier', 'gold', '__proto__', 'kept'])
    await admin.hSet(`${prefix}8`, { name: 'Eight' })
    await admin.set(`${prefix}str`, 'not a hash')
    const t = await open(redisLookup({ url: URL, type: 'hash', keyPrefix: prefix }))
    const [seven, missing, eight] = await t.get([7, 9, 8])
    expect(seven).toEqual(Object.fromEntries([['name', 'Seven'], ['tier', 'gold'], ['__proto__', 'kept']]))
    expect(Object.getPrototypeOf(seven)).toBe(Object.prototype)
    expect([missing, eight]).toEqual([undefined, { name: 'Eight' }])
    await admin.rPush(`${prefix}list`, ['a'])
    const [seven2, str, nine, list, eight2] = await t.get([7, 'str', 9, 'list', 8])
    expect([seven2, nine, eight2]).toEqual([seven, undefined, { name: 'Eight' }])
    for (const [key, v] of [['str', str], ['list', list]] as const) {
      expect(v).toBeInstanceOf(RecordFailure)
      expect((v as RecordFailure).cause).toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining(`HGETALL of key "${prefix}${key}": the key holds another type of value, not a hash`) })
    }
  })

  it("type 'hash': a command the login may not run (NOPERM) fails the whole call with CONNECTOR_AUTH", async () => {
    const prefix = newPrefix()
    await admin.hSet(`${prefix}1`, { name: 'One' })
    const user = uniqueName('sluice_lookup_user')
    await admin.sendCommand(['ACL', 'SETUSER', user, 'on', '>pw', '~*', '+@all', '-hgetall'])
    const t = redisLookup({ url: URL.replace('redis://', `redis://${user}:pw@`), type: 'hash', keyPrefix: prefix })
    try {
      await t.open()
      await expect(t.get([1, 2])).rejects.toMatchObject({ code: 'CONNECTOR_AUTH', message: expect.stringContaining('NOPERM') })
    } finally {
      // Closed first: deleting the user disconnects its clients.
      await t.close()
      await admin.sendCommand(['ACL', 'DELUSER', user])
    }
  })

  it('looks up many keys in one call', async () => {
    const prefix = newPrefix()
    const n = 5_000
    await admin.mSet(Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, String(i * i)])))
    const s = await open(redisLookup({ url: URL, type: 'string', keyPrefix: prefix }))
    const keys = Array.from({ length: 2 * n }, (_, i) => 2 * n - 1 - i)
    const values = await s.get(keys)
    keys.forEach((k, i) => expect(values[i]).toBe(k < n ? String(k * k) : undefined))
    const hprefix = newPrefix()
    const multi = admin.multi()
    for (let i = 0; i < 2_000; i++) multi.hSet(`${hprefix}${i}`, { i: String(i) })
    await multi.exec()
    const h = await open(redisLookup({ url: URL, type: 'hash', keyPrefix: hprefix }))
    const hk = Array.from({ length: 2_500 }, (_, i) => i)
    expect(await h.get(hk)).toEqual(hk.map((i) => (i < 2_000 ? { i: String(i) } : undefined)))
  })

  it('shares one connection between opens and closes it at the last close', async () => {
    const prefix = newPrefix()
    await admin.set(`${prefix}k`, 'v')
    const t = redisLookup({ url: URL, type: 'string', keyPrefix: prefix })
    await Promise.all([t.open(), t.open()])
    const clientName = `sluice-lookup-${prefix}`.replace(/[^\w.-]/g, '_')
    const clients = async (): Promise<number> => (await admin.sendCommand<string>(['CLIENT', 'LIST'])).split('\n').filter((l) => l.includes(` name=${clientName} `)).length
    expect(await clients()).toBe(1)
    await t.close()
    expect(await t.get(['k'])).toEqual(['v'])
    await t.close()
    await expect(t.get(['k'])).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('before open()') })
    // The server drops the client just after it hung up: wait for that, not for a time.
    for (let tries = 0; tries < 500 && (await clients()) > 0; tries++) await new Promise((r) => setTimeout(r, 10))
    expect(await clients()).toBe(0)
  })

  it('an address where nothing listens is CONNECTOR_UNREACHABLE at open, without the password, and a later open tries again', async () => {
    const port = await closedPort()
    const t = redisLookup({ url: `redis://user:hunter2secret@127.0.0.1:${port}`, type: 'string', connectTimeoutMs: 2_000 })
    const err = (await t.open().catch((e: unknown) => e)) as Error
    expect(err).toMatchObject({ code: 'CONNECTOR_UNREACHABLE', kind: 'external' })
    expect(err.message).toContain(`redis://user:***@127.0.0.1:${port}`)
    expect(err.message).not.toContain('hunter2secret')
    await expect(t.open()).rejects.toMatchObject({ code: 'CONNECTOR_UNREACHABLE' })
    await expect(t.get(['k'])).rejects.toMatchObject({ code: 'INTERNAL' })
  })

  it('refuses bad options with CONNECTOR_OPTION_INVALID', () => {
    expect(() => redisLookup({ url: 'http://h', type: 'string' })).toThrow(/CONNECTOR_OPTION_INVALID: redisLookup: url must be a redis:\/\/ URL/)
    expect(() => redisLookup({ url: 'redis://u:secret@h', type: 'list' as 'string' })).toThrow(`type must be 'string', 'json' or 'hash', got "list"`)
    expect(() => redisLookup({ url: URL, type: 'hash', keyPrefix: 3 as unknown as string })).toThrow(/keyPrefix must be a string/)
    expect(() => redisLookup({ url: URL, type: 'hash', connectTimeoutMs: 0 })).toThrow(/connectTimeoutMs must be/)
  })
})
