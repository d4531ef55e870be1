import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../time/clock.ts'
import { asLookupTable, lookupBatchFunction, resolveLookupOptions, type LookupJoinOptions, type LookupStats, type LookupTable } from './lookup.ts'
import { NO_OUTPUT } from './no-output.ts'
import { failRecord, RecordFailure } from './record-failure.ts'
import type { CallContext } from './options.ts'

interface Order { id: number; user: string }
interface User { name: string; tier: number }

const call: CallContext = { signal: new AbortController().signal, attempt: 1 }

/** An in-memory table that records the keys of each get. */
function memoryTable(rows: Record<string, User>): LookupTable<string, User> & { asked: string[][]; rows: Record<string, User> } {
  const asked: string[][] = []
  return {
    name: 'users',
    asked,
    rows,
    get: async (keys) => {
      asked.push([...keys])
      return keys.map((k) => rows[k])
    },
  }
}

const order = (id: number, user: string): Order => ({ id, user })
const stats = (): LookupStats => ({ cacheHits: 0, cacheMisses: 0, cacheEntries: 0 })

function build<O = { record: Order; value: User | undefined }>(table: LookupTable<string, User>, options: LookupJoinOptions<Order, User, O> | undefined, clock = new ManualClock(0), s = stats()) {
  return lookupBatchFunction<Order, string, User, O>('enrich', (o) => o.user, table, resolveLookupOptions('enrich', options), { now: () => clock.now(), stats: s })
}

const ann = { name: 'Ann', tier: 1 }
const bob = { name: 'Bob', tier: 2 }

describe('lookupBatchFunction', () => {
  it('joins each record with its value, asking the table once per distinct key, in first-seen order', async () => {
    const table = memoryTable({ ann, bob })
    const s = stats()
    const fn = build(table, undefined, new ManualClock(0), s)
    const out = await fn([order(1, 'ann'), order(2, 'bob'), order(3, 'ann'), order(4, 'zed'), order(5, 'bob')], call)
    expect(out).toEqual([
      { record: order(1, 'ann'), value: ann }, { record: order(2, 'bob'), value: bob }, { record: order(3, 'ann'), value: ann },
      { record: order(4, 'zed'), value: undefined }, { record: order(5, 'bob'), value: bob },
    ])
    expect(table.asked).toEqual([['ann', 'bob', 'zed']])
    expect(s).toEqual({ cacheHits: 0, cacheMisses: 3, cacheEntries: 3 })
  })

  it('serves cached keys from the cache, misses included, and asks only for the others', async () => {
    const table = memoryTable({ ann, bob })
    const s = stats()
    const fn = build(table, { cache: { maxEntries: 100 } }, new ManualClock(0), s)
    await fn([order(1, 'ann'), order(2, 'zed')], call)
    const out = await fn([order(3, 'ann'), order(4, 'zed'), order(5, 'bob'), order(6, 'bob')], call)
    expect(out.map((o) => o !== NO_OUTPUT && !(o instanceof RecordFailure) && o.value)).toEqual([ann, undefined, bob, bob])
    expect(table.asked).toEqual([['ann', 'zed'], ['bob']])
    expect(s).toEqual({ cacheHits: 2, cacheMisses: 3, cacheEntries: 3 })
  })

  it('does not ask the table when every key is cached', async () => {
    const table = memoryTable({ ann })
    const fn = build(table, undefined)
    await fn([order(1, 'ann')], call)
    await fn([order(2, 'ann'), order(3, 'ann')], call)
    expect(table.asked).toEqual([['ann']])
  })

  it('asks again for a key whose entry outlived ttlMs, and sees the new value', async () => {
    const table = memoryTable({ ann })
    const clock = new ManualClock(0)
    const fn = build(table, { cache: { maxEntries: 100, ttlMs: 1_000 } }, clock)
    await fn([order(1, 'ann'), order(2, 'bob')], call)
    table.rows.ann = { name: 'Ann B.', tier: 3 }
    table.rows.bob = bob
    clock.advance(999)
    expect((await fn([order(3, 'ann'), order(4, 'bob')], call)).map((o) => o !== NO_OUTPUT && !(o instanceof RecordFailure) && o.value)).toEqual([ann, undefined])
    clock.advance(1)
    expect((await fn([order(5, 'ann'), order(6, 'bob')], call)).map((o) => o !== NO_OUTPUT && !(o instanceof RecordFailure) && o.value)).toEqual([{ name: 'Ann B.', tier: 3 }, bob])
    expect(table.asked).toEqual([['ann', 'bob'], ['ann', 'bob']])
  })

  it('with cacheMisses false asks again for a key not found, and with cache false asks for every batch (still deduplicated)', async () => {
    const noMisses = memoryTable({ ann })
    const fn = build(noMisses, { cache: { maxEntries: 10, cacheMisses: false } })
    await fn([order(1, 'ann'), order(2, 'zed')], call)
    await fn([order(3, 'ann'), order(4, 'zed')], call)
    expect(noMisses.asked).toEqual([['ann', 'zed'], ['zed']])

    const uncached = memoryTable({ ann })
    const s = stats()
    const plain = build(uncached, { cache: false }, new ManualClock(0), s)
    await plain([order(1, 'ann'), order(2, 'ann')], call)
    await plain([order(3, 'ann')], call)
    expect(uncached.asked).toEqual([['ann'], ['ann']])
    expect(s).toEqual({ cacheHits: 0, cacheMisses: 0, cacheEntries: 0 })
  })

  it('evicts the least recently used key beyond maxEntries', async () => {
    const table = memoryTable({ ann, bob })
    const s = stats()
    const fn = build(table, { cache: { maxEntries: 2 } }, new ManualClock(0), s)
    await fn([order(1, 'ann'), order(2, 'bob')], call)
    await fn([order(3, 'ann'), order(4, 'zed')], call)
    await fn([order(5, 'bob')], call)
    expect(table.asked).toEqual([['ann', 'bob'], ['zed'], ['bob']])
    expect(s.cacheEntries).toBe(2)
  })

  it("with onMissing 'drop' yields NO_OUTPUT for a record whose key is not found, and join builds the others", async () => {
    const table = memoryTable({ ann })
    const fn = build<string>(table, { onMissing: 'drop', join: (o, u) => `${o.id}:${u?.name}` })
    expect(await fn([order(1, 'ann'), order(2, 'zed'), order(3, 'ann')], call)).toEqual(['1:Ann', NO_OUTPUT, '3:Ann'])
  })

  it("calls join with undefined for a missing key under onMissing 'emit', and keeps null as a value", async () => {
    const table: LookupTable<string, User | null> = { get: async (keys) => keys.map((k) => (k === 'nil' ? null : undefined)) }
    const fn = lookupBatchFunction<Order, string, User | null, string>('enrich', (o) => o.user, table, resolveLookupOptions('enrich', { onMissing: 'drop', join: (o, u) => `${o.id}:${String(u)}` }), { now: () => 0 })
    expect(await fn([order(1, 'nil'), order(2, 'zed')], call)).toEqual(['1:null', NO_OUTPUT])
    const emit = lookupBatchFunction<Order, string, User | null, string>('enrich', (o) => o.user, table, resolveLookupOptions('enrich', { join: (o, u) => `${o.id}:${String(u)}` }), { now: () => 0 })
    expect(await emit([order(2, 'zed')], call)).toEqual(['2:undefined'])
  })

  it('fails with ASYNC_RESULT_INVALID when the table answers a wrong number of values, or no array, and caches nothing', async () => {
    const short: LookupTable<string, User> = { name: 'postgres table users', get: async (keys) => keys.slice(1).map(() => ann) }
    const fn = lookupBatchFunction<Order, string, User, unknown>('enrich', (o) => o.user, short, resolveLookupOptions('enrich', undefined), { now: () => 0 })
    await expect(fn([order(1, 'ann'), order(2, 'bob'), order(3, 'ann')], call)).rejects.toMatchObject({
      code: 'ASYNC_RESULT_INVALID',
      message: expect.stringContaining('lookupJoin "enrich": postgres table users was asked for 2 keys and answered 1 value'),
    })
    const notArray = { get: async () => ({ ann }) } as unknown as LookupTable<string, User>
    const fn2 = lookupBatchFunction<Order, string, User, unknown>('enrich', (o) => o.user, notArray, resolveLookupOptions('enrich', undefined), { now: () => 0 })
    await expect(fn2([order(1, 'ann')], call)).rejects.toMatchObject({ code: 'ASYNC_RESULT_INVALID', message: expect.stringContaining('the lookup table was asked for 1 key and answered {"ann":{"name":"Ann","tier":1}} (object), not an array') })
    const s = stats()
    let answer: unknown = undefined
    const flaky = { get: async (keys: readonly string[]) => answer ?? keys.map(() => bob) } as unknown as LookupTable<string, User>
    const fn3 = lookupBatchFunction<Order, string, User, unknown>('enrich', (o) => o.user, flaky, resolveLookupOptions('enrich', undefined), { now: () => 0, stats: s })
    answer = 'nope'
    await expect(fn3([order(1, 'bob')], call)).rejects.toMatchObject({ code: 'ASYNC_RESULT_INVALID', message: expect.stringContaining('answered "nope" (string), not an array') })
    answer = undefined
    expect(await fn3([order(1, 'bob')], call)).toEqual([{ record: order(1, 'bob'), value: bob }])
    expect(s).toEqual({ cacheHits: 0, cacheMisses: 2, cacheEntries: 1 })
  })

  it('fails only the record whose key selector throws: the others are looked up and joined', async () => {
    const table = memoryTable({ ann, bob })
    const fn = lookupBatchFunction<Order, string, User, unknown>('enrich', (o) => {
      if (o.id === 2) throw new Error('no user on order 2')
      return o.user
    }, table, resolveLookupOptions('enrich', undefined), { now: () => 0 })
    const out = await fn([order(1, 'ann'), order(2, 'ann'), order(3, 'bob')], call)
    expect(out[0]).toEqual({ record: order(1, 'ann'), value: ann })
    expect(out[2]).toEqual({ record: order(3, 'bob'), value: bob })
    const bad = out[1] as RecordFailure
    expect(bad).toBeInstanceOf(RecordFailure)
    expect(bad.cause).toMatchObject({ code: 'RECORD_FAILED' })
    expect((bad.cause as Error).message).toContain('lookupJoin "enrich": the key selector threw on this record: no user on order 2')
    expect(table.asked).toEqual([['ann', 'bob']])
  })

  it('fails only the record whose join throws', async () => {
    const fn = build(memoryTable({ ann, bob }), {
      join: (o, u) => {
        if (u === undefined) throw new TypeError(`no user ${o.user}`)
        return `${o.id}:${u.name}`
      },
    })
    const out = await fn([order(1, 'ann'), order(2, 'zed'), order(3, 'bob')], call)
    expect([out[0], out[2]]).toEqual(['1:Ann', '3:Bob'])
    expect((out[1] as RecordFailure).cause).toMatchObject({ code: 'RECORD_FAILED' })
    expect(((out[1] as RecordFailure).cause as Error).message).toMatch(/lookupJoin "enrich": join threw on this record: .*no user zed/)
  })

  it("fails every record of a key the table answers failRecord for, and does not cache that answer", async () => {
    const asked: string[][] = []
    const refused = new Error('key zed is not a user id')
    const table: LookupTable<string, User> = {
      get: async (keys) => {
        asked.push([...keys])
        return keys.map((k) => (k === 'zed' ? failRecord(refused) : k === 'ann' ? ann : undefined))
      },
    }
    const s = stats()
    const fn = build(table, undefined, new ManualClock(0), s)
    const out = await fn([order(1, 'zed'), order(2, 'ann'), order(3, 'zed')], call)
    expect(out[1]).toEqual({ record: order(2, 'ann'), value: ann })
    expect(out[0]).toBeInstanceOf(RecordFailure)
    expect((out[0] as RecordFailure).cause).toBe(refused)
    expect(out[2]).toBe(out[0])
    await fn([order(4, 'zed'), order(5, 'ann')], call)
    expect(asked).toEqual([['zed', 'ann'], ['zed']])
    expect(s.cacheEntries).toBe(1)
  })

  it('passes a rejection of the table through', async () => {
    const broken: LookupTable<string, User> = { get: async () => Promise.reject(new Error('connection reset')) }
    const fn = lookupBatchFunction<Order, string, User, unknown>('enrich', (o) => o.user, broken, resolveLookupOptions('enrich', undefined), { now: () => 0 })
    await expect(fn([order(1, 'ann')], call)).rejects.toThrow('connection reset')
  })

  it('compares object keys by their JSON, numbers and strings by value (1 and "1" differ)', async () => {
    const asked: unknown[][] = []
    const table: LookupTable<unknown, string> = { get: async (keys) => (asked.push([...keys]), keys.map((k) => JSON.stringify(k))) }
    const fn = lookupBatchFunction<{ k: unknown }, unknown, string, string | undefined>('enrich', (r) => r.k, table, resolveLookupOptions('enrich', { join: (_r, v) => v }), { now: () => 0 })
    const out = await fn([{ k: { region: 'eu', id: 1 } }, { k: { region: 'eu', id: 1 } }, { k: 1 }, { k: '1' }, { k: 1 }], call)
    expect(out).toEqual(['{"region":"eu","id":1}', '{"region":"eu","id":1}', '1', '"1"', '1'])
    expect(asked).toEqual([[{ region: 'eu', id: 1 }, 1, '1']])
    await fn([{ k: { region: 'eu', id: 1 } }], call)
    expect(asked).toHaveLength(1)
  })

  it('wraps a single-key function into a table calling it per distinct key, concurrently, with the call context', async () => {
    const started: string[] = []
    const release: (() => void)[] = []
    const seen: CallContext[] = []
    const fn = lookupBatchFunction<Order, string, User, unknown>('enrich', (o) => o.user, (key: string, c: CallContext) => {
      started.push(key)
      seen.push(c)
      return new Promise<User | undefined>((resolve) => release.push(() => resolve(key === 'ann' ? ann : undefined)))
    }, resolveLookupOptions('enrich', undefined), { now: () => 0 })
    const pending = fn([order(1, 'ann'), order(2, 'bob'), order(3, 'ann')], call)
    await Promise.resolve()
    expect(started).toEqual(['ann', 'bob'])
    expect(seen.every((c) => c === call)).toBe(true)
    for (const r of release) r()
    expect(await pending).toEqual([{ record: order(1, 'ann'), value: ann }, { record: order(2, 'bob'), value: undefined }, { record: order(3, 'ann'), value: ann }])
  })
})

describe('asLookupTable', () => {
  it('names a wrapped function and refuses what is neither table nor function', () => {
    async function userById(): Promise<User | undefined> {
      return undefined
    }
    expect(asLookupTable(userById).name).toBe('lookup function userById')
    const table = memoryTable({})
    expect(asLookupTable(table)).toBe(table)
    expect(() => asLookupTable({} as never)).toThrow(/JOB_ARGUMENT_INVALID.*a table \(an object with get\(keys, call\)\) or a function/)
    expect(() => asLookupTable(null as never)).toThrow(/got null/)
  })
})

describe('resolveLookupOptions', () => {
  it('defaults to a cache of 10 000 entries for a minute, the { record, value } join and emit', () => {
    expect(resolveLookupOptions('e', undefined)).toEqual({ cache: { maxEntries: 10_000, ttlMs: 60_000, cacheMisses: true }, join: null, onMissing: 'emit' })
    expect(resolveLookupOptions('e', { cache: false }).cache).toBeNull()
    expect(resolveLookupOptions('e', { cache: { maxEntries: 5 } }).cache).toEqual({ maxEntries: 5, ttlMs: undefined, cacheMisses: true })
  })

  it('refuses bad cache options with ASYNC_OPTIONS_INVALID naming the option, the value and the range', () => {
    const bad = (options: unknown): unknown => () => resolveLookupOptions('enrich', options as LookupJoinOptions<unknown, unknown, unknown>)
    expect(bad({ cache: { maxEntries: 0 } })).toThrow('ASYNC_OPTIONS_INVALID: lookupJoin "enrich": cache.maxEntries must be a whole number from 1 to 10000000, got 0')
    expect(bad({ cache: { maxEntries: 2.5 } })).toThrow(/cache.maxEntries .* got 2.5/)
    expect(bad({ cache: {} })).toThrow(/cache.maxEntries .* got undefined/)
    expect(bad({ cache: { maxEntries: 10, ttlMs: 0 } })).toThrow('cache.ttlMs must be a number from 1 to 2147483647, got 0')
    expect(bad({ cache: { maxEntries: 10, ttlMs: '5s' } })).toThrow('cache.ttlMs must be a number from 1 to 2147483647, got "5s"')
    expect(bad({ cache: { maxEntries: 10, cacheMisses: 'yes' } })).toThrow('cache.cacheMisses must be true or false, got "yes"')
    expect(bad({ cache: true })).toThrow('cache must be an object { maxEntries, ttlMs? } or false, got true')
    expect(bad({ onMissing: 'skip' })).toThrow(`onMissing must be 'emit' or 'drop', got "skip"`)
    expect(bad({ join: 'x' })).toThrow('join must be a function (record, value) => output, got "x"')
    expect(bad(7)).toThrow('options must be an object, got 7')
  })
})
