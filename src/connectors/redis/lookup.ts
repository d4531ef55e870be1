/**
 * Redis as a lookup join's table: the value of key K is what Redis holds at `keyPrefix + K`, read
 * for all keys of a call at once (MGET, or HGETALL pipelined), over one connection shared by the
 * subtasks that use the adapter.
 */
import { SharedClient } from '../shared-client.ts'
import { describeCause, SluiceError } from '../../errors.ts'
import { failRecord, type RecordFailure } from '../record-failure.ts'
import { redactUri } from '../uri.ts'
import { connectRedis, DEFAULT_CONNECT_TIMEOUT_MS, destroyQuietly, type RedisLink } from './redis-client.ts'

/** What a key of the table may be: it is written into the Redis key as text. */
export type RedisLookupKey = string | number | bigint

/** How the values are stored: 'string' (GET, as text), 'json' (a string of JSON, parsed), 'hash' (HGETALL, an object of its fields). */
export type RedisLookupType = 'string' | 'json' | 'hash'

export interface RedisLookupOptions {
  /** The server, as node-redis takes it: `redis://[user:pass@]HOST:PORT[/DB]`. */
  readonly url: string
  /** How the values are stored (see RedisLookupType). */
  readonly type: RedisLookupType
  /** Put before each key: key 42 with keyPrefix 'user:' reads the Redis key 'user:42'. Default ''. */
  readonly keyPrefix?: string
  /** How long the first connect may take before CONNECTOR_UNREACHABLE (default 5 s). */
  readonly connectTimeoutMs?: number
}

/** Keys per MGET: a call's keys go in several commands, pipelined, so one command does not hold the server long. */
const KEYS_PER_COMMAND = 1_000

/**
 * A lookup table over Redis keys: `lookupJoin`'s value for key K is what Redis holds at
 * `keyPrefix + K` — the string (`type: 'string'`), the string parsed as JSON (`'json'`), or the
 * hash's fields (`'hash'`; an empty or missing hash is not found). A missing key is `undefined`;
 * with 'string' or 'json', so is a key holding another type (MGET answers nil for it).
 *
 * A key whose value cannot be read fails only the records with that key (`failRecord`, not
 * retried): with 'json', a value that is not JSON (ASYNC_RESULT_INVALID naming the key); with
 * 'hash', a key holding another type (CONNECTOR_NOT_FOUND naming the key). The other keys of the
 * call are answered. A lost connection or a refused login fails the whole call.
 *
 * The first `open` connects (CONNECTOR_UNREACHABLE or CONNECTOR_AUTH within `connectTimeoutMs`),
 * the last `close` disconnects; a connection lost meanwhile is retried, commands waiting for it.
 *
 * `get` does not read the call's `signal`: a Redis command cannot be withdrawn once sent, and the
 * reads are short. When the operator times a call out it goes on without it and ignores the late
 * answer.
 *
 * @example
 * ```ts
 * interface Profile { name: string; country: string }
 * const profiles = redisLookup<Profile>({ url: 'redis://127.0.0.1:6379', type: 'json', keyPrefix: 'profile:' })
 * pipeline.source('orders', fromArray([{ id: 'o1', user: 'ann' }, { id: 'o2', user: 'bob' }]))
 *   .lookupJoin('with-profile', (o) => o.user, profiles, { join: (o, p) => ({ ...o, country: p?.country ?? 'unknown' }) })
 * ```
 */
// Without type arguments the value type follows `type`. A generic V with a default would be
// inferred from where the call stands (lookupJoin's parameter) and come out as undefined.
export function redisLookup(options: RedisLookupOptions & { readonly type: 'string' }): RedisLookup<RedisLookupKey, string>
export function redisLookup(options: RedisLookupOptions & { readonly type: 'hash' }): RedisLookup<RedisLookupKey, Record<string, string>>
export function redisLookup(options: RedisLookupOptions & { readonly type: 'json' }): RedisLookup<RedisLookupKey, unknown>
export function redisLookup<V, K extends RedisLookupKey = RedisLookupKey>(options: RedisLookupOptions): RedisLookup<K, V>
export function redisLookup<V, K extends RedisLookupKey = RedisLookupKey>(options: RedisLookupOptions): RedisLookup<K, V> {
  return new RedisLookup<K, V>(options)
}

export class RedisLookup<K extends RedisLookupKey, V> {
  /** "redis keys user:* at redis://127.0.0.1:6379", for messages. */
  readonly name: string
  private readonly prefix: string
  private readonly client = new SharedClient<RedisLink>(
    () => connectRedis(this.options.url, 'lookup', `sluice-lookup-${this.prefix === '' ? 'keys' : this.prefix}`, this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
    (link) => destroyQuietly(link.client),
  )

  constructor(private readonly options: RedisLookupOptions) {
    const bad = (why: string): SluiceError => new SluiceError('CONNECTOR_OPTION_INVALID', `redisLookup: ${why}`)
    if (options === null || typeof options !== 'object') throw bad('options must be an object { url, type }')
    if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) throw bad(`url must be a redis:// URL, e.g. redis://127.0.0.1:6379, got ${typeof options.url === 'string' ? JSON.stringify(redactUri(options.url)) : String(options.url)}`)
    if (options.type !== 'string' && options.type !== 'json' && options.type !== 'hash') throw bad(`type must be 'string', 'json' or 'hash', got ${JSON.stringify(options.type)}`)
    if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string') throw bad(`keyPrefix must be a string, got ${String(options.keyPrefix)}`)
    const t = options.connectTimeoutMs
    if (t !== undefined && !(Number.isFinite(t) && t > 0)) throw bad(`connectTimeoutMs must be a number of ms > 0, got ${t}`)
    this.prefix = options.keyPrefix ?? ''
    this.name = `redis ${options.type === 'hash' ? 'hashes' : 'keys'} ${this.prefix}* at ${redactUri(options.url)}`
  }

  /** Connects on the first open (the others wait for it). */
  async open(): Promise<void> {
    await this.client.acquire()
  }

  /** Disconnects when the last opener closes. */
  async close(): Promise<void> {
    await this.client.release()
  }


  /** The value of each key, in order; undefined where Redis holds none, a RecordFailure where it holds one that cannot be read. */
  async get(keys: readonly K[]): Promise<(V | undefined | RecordFailure)[]> {
    const link = this.client.current
    if (link === null) throw new SluiceError('INTERNAL', `redisLookup: get() on ${this.name} before open() (or after the last close())`)
    const redisKeys = keys.map((k) => this.prefix + String(k))
    return this.options.type === 'hash' ? this.hashes(link, redisKeys) : this.strings(link, redisKeys)
  }

  private async strings(link: RedisLink, redisKeys: string[]): Promise<(V | undefined | RecordFailure)[]> {
    const chunks: Promise<(string | null)[]>[] = []
    for (let i = 0; i < redisKeys.length; i += KEYS_PER_COMMAND) {
      chunks.push(link.client.sendCommand<(string | null)[]>(['MGET', ...redisKeys.slice(i, i + KEYS_PER_COMMAND)]))
    }
    let replies: (string | null)[][]
    try {
      replies = await Promise.all(chunks)
    } catch (e) {
      throw this.commandError(e, 'MGET')
    }
    const json = this.options.type === 'json'
    const out: (V | undefined | RecordFailure)[] = new Array(redisKeys.length)
    let i = 0
    for (const reply of replies) {
      for (const text of reply) {
        out[i] = text === null ? undefined : json ? this.parse(redisKeys[i], text) : (text as V)
        i++
      }
    }
    return out
  }

  private async hashes(link: RedisLink, redisKeys: string[]): Promise<(V | undefined | RecordFailure)[]> {
    // Issued in one tick, node-redis writes them as one pipeline.
    const replies = redisKeys.map((key) => link.client.sendCommand<string[] | Record<string, string>>(['HGETALL', key]))
    const out: (V | undefined | RecordFailure)[] = new Array(redisKeys.length)
    const settled = await Promise.allSettled(replies)
    for (let i = 0; i < settled.length; i++) {
      const s = settled[i]
      if (s.status === 'fulfilled') {
        out[i] = fields(s.value) as V | undefined
        continue
      }
      const e = this.commandError(s.reason, 'HGETALL', redisKeys[i])
      // A key holding another type is that key's fault alone; any other error is the server's or the connection's.
      if (!isWrongType(s.reason)) throw e
      out[i] = failRecord(e)
    }
    return out
  }

  /** The value parsed, or the key's failure when it is not JSON. */
  private parse(key: string, text: string): V | RecordFailure {
    try {
      return JSON.parse(text) as V
    } catch (e) {
      const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text
      return failRecord(new SluiceError('ASYNC_RESULT_INVALID', `redisLookup: ${this.name}: key ${JSON.stringify(key)} holds ${JSON.stringify(shown)}, not JSON (${describeCause(e)}); store JSON there or use type: 'string'`, { cause: e }))
    }
  }

  private commandError(e: unknown, command: string, key?: string): SluiceError {
    if (e instanceof SluiceError) return e
    const cause = describeCause(e)
    const at = key === undefined ? '' : ` of key ${JSON.stringify(key)}`
    if (isWrongType(e)) {
      return new SluiceError('CONNECTOR_NOT_FOUND', `redisLookup: ${this.name}: ${command}${at}: the key holds another type of value, not a hash (${cause}); store hashes under ${this.prefix}* or use type: 'string' or 'json'`, { cause: e })
    }
    if (/^(NOAUTH|NOPERM|WRONGPASS)/.test(cause)) return new SluiceError('CONNECTOR_AUTH', `redisLookup: ${this.name}: ${command}${at}: ${cause}`, { cause: e })
    return new SluiceError('SOURCE_IO', `redisLookup: ${this.name}: ${command}${at} failed: ${cause}`, { cause: e })
  }
}

/** Redis refused a command because its key holds another type of value. */
function isWrongType(e: unknown): boolean {
  return !(e instanceof SluiceError) && describeCause(e).startsWith('WRONGTYPE')
}

/** An HGETALL reply (a flat field/value list in RESP2, a map in RESP3) as an object; undefined for an empty hash. */
function fields(reply: string[] | Record<string, string>): Record<string, string> | undefined {
  // fromEntries defines own properties: a field named "__proto__" stays a field.
  const pairs = Array.isArray(reply) ? Array.from({ length: reply.length >> 1 }, (_, i) => [reply[2 * i], reply[2 * i + 1]]) : Object.entries(reply)
  return pairs.length === 0 ? undefined : Object.fromEntries(pairs)
}
