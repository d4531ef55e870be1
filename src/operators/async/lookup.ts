/**
 * The lookup join's parts: the table interface, its options, and the batch function the
 * asynchronous operator calls for each batch of records. A batch's keys are looked up in the
 * subtask's LRU cache first; only the distinct keys the cache lacks go to the table, in one
 * `get`; the answers fill the cache, and each record leaves joined with its key's value.
 */
import { describeCause, SluiceError } from '../../errors.ts'
import { LruCache } from './lru-cache.ts'
import { NO_OUTPUT } from './no-output.ts'
import { RecordFailure, failRecord } from './record-failure.ts'
import type { AsyncBatchOptions, CallContext } from './options.ts'

/**
 * Where a lookup join finds a record's value: any table, store or service that answers many keys
 * at once. `postgresLookup` and `redisLookup` (sluice/connectors) are two.
 */
export interface LookupTable<K, V> {
  /**
   * One value per key, in the order of `keys`; `undefined` for a key the table does not hold
   * (`null` is a value). The keys of one call are distinct. Reject to fail the call (it is retried
   * or goes to the operator's onError); `failRecord(cause)` in a key's place fails only the records
   * with that key, without a retry (a key the table cannot hold), and is not cached.
   */
  get(keys: readonly K[], call: CallContext): Promise<readonly (V | undefined | RecordFailure)[]>
  /**
   * Called once by each subtask that uses the table, before its first `get`. A table shared by
   * several subtasks counts its opens and releases its connections at the last `close`.
   */
  open?(): Promise<void>
  /** Called once by each subtask that opened the table, when it ends. */
  close?(): Promise<void>
  /** The table as messages name it ("postgres table users"). */
  readonly name?: string
}

/** What `lookupJoin` emits without a `join` function: the record and its key's value (`undefined`: not found). */
export interface LookupResult<T, V> {
  record: T
  value: V | undefined
}

/** The lookup join's cache, one per subtask: least recently used keys go first. */
export interface LookupCacheOptions {
  /** Keys cached at most, 1..10 000 000. */
  maxEntries: number
  /** A cached value is used for this many ms after it was fetched, 1..2 147 483 647. Absent: until evicted. */
  ttlMs?: number
  /** Cache "not found" too, so a missing key is not asked for again until it expires. Default true. */
  cacheMisses?: boolean
}

/** Options of `lookupJoin`: the batching and concurrency of `mapAsyncBatch`, and the cache, the join and what becomes of a record whose key is not found. */
export interface LookupJoinOptions<T, V, O> extends AsyncBatchOptions {
  /** The cache; false: none, every batch asks the table. Default `{ maxEntries: 10_000, ttlMs: 60_000 }`. */
  cache?: LookupCacheOptions | false
  /** Builds the output from a record and its value (`undefined` when not found). Default: `{ record, value }`. */
  join?: (record: T, value: V | undefined) => O
  /** 'emit' (default): a record whose key is not found leaves with value `undefined`; 'drop': it leaves nothing. */
  onMissing?: 'emit' | 'drop'
}

/** The cache options as the batch function uses them. */
export interface ResolvedLookupCache {
  readonly maxEntries: number
  /** undefined: entries do not expire. */
  readonly ttlMs: number | undefined
  readonly cacheMisses: boolean
}

/** The cache used when the options name none: bounded, and no value older than a minute. */
export const DEFAULT_LOOKUP_CACHE: ResolvedLookupCache = { maxEntries: 10_000, ttlMs: 60_000, cacheMisses: true }

/** The lookup options as the batch function uses them (the batching options are resolveAsyncOptions'). */
export interface ResolvedLookupOptions<T, V, O> {
  /** null: no cache. */
  readonly cache: ResolvedLookupCache | null
  /** null: the default `{ record, value }`. */
  readonly join: ((record: T, value: V | undefined) => O) | null
  readonly onMissing: 'emit' | 'drop'
}

/** Checks the lookup options of `lookupJoin` `id` (ASYNC_OPTIONS_INVALID naming the option, the value and the range). */
export function resolveLookupOptions<T, V, O>(id: string, options: LookupJoinOptions<T, V, O> | undefined): ResolvedLookupOptions<T, V, O> {
  if (options !== undefined && (options === null || typeof options !== 'object')) invalid(id, 'options', options, 'an object')
  const o = options ?? {}
  if (o.join !== undefined && typeof o.join !== 'function') invalid(id, 'join', o.join, 'a function (record, value) => output')
  if (o.onMissing !== undefined && o.onMissing !== 'emit' && o.onMissing !== 'drop') invalid(id, 'onMissing', o.onMissing, "'emit' or 'drop'")
  return { cache: resolveCache(id, o.cache), join: o.join ?? null, onMissing: o.onMissing ?? 'emit' }
}

function resolveCache(id: string, c: LookupCacheOptions | false | undefined): ResolvedLookupCache | null {
  if (c === false) return null
  if (c === undefined) return DEFAULT_LOOKUP_CACHE
  if (c === null || typeof c !== 'object') invalid(id, 'cache', c, 'an object { maxEntries, ttlMs? } or false')
  const { maxEntries, ttlMs, cacheMisses } = c
  if (typeof maxEntries !== 'number' || !Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 10_000_000) invalid(id, 'cache.maxEntries', maxEntries, 'a whole number from 1 to 10000000')
  if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 1 || ttlMs > 2_147_483_647)) invalid(id, 'cache.ttlMs', ttlMs, 'a number from 1 to 2147483647')
  if (cacheMisses !== undefined && typeof cacheMisses !== 'boolean') invalid(id, 'cache.cacheMisses', cacheMisses, 'true or false')
  return { maxEntries, ttlMs, cacheMisses: cacheMisses ?? true }
}

function invalid(id: string, name: string, v: unknown, what: string): never {
  const shown = typeof v === 'function' ? 'a function' : typeof v === 'string' ? JSON.stringify(v) : String(v)
  throw new SluiceError('ASYNC_OPTIONS_INVALID', `lookupJoin "${id}": ${name} must be ${what}, got ${shown}`)
}

/** A single-key lookup function, as `lookupJoin` also takes one: reject to fail the call, `failRecord(cause)` to fail only the key's records. */
export type LookupFunction<K, V> = (key: K, call: CallContext) => Promise<V | undefined | RecordFailure>

/**
 * The table itself, or a single-key function as a table: its `get` calls the function once per
 * key, all keys concurrently (the keys of a call are distinct). JOB_ARGUMENT_INVALID for anything else.
 */
export function asLookupTable<K, V>(lookup: LookupTable<K, V> | LookupFunction<K, V>): LookupTable<K, V> {
  if (typeof lookup === 'function') {
    const name = lookup.name === '' ? 'the lookup function' : `lookup function ${lookup.name}`
    return { name, get: (keys, call) => Promise.all(keys.map((k) => lookup(k, call))) }
  }
  if (lookup === null || typeof lookup !== 'object' || typeof lookup.get !== 'function') {
    throw new SluiceError('JOB_ARGUMENT_INVALID', `lookupJoin: the lookup must be a table (an object with get(keys, call)) or a function (key, call) => Promise<value>, got ${lookup === null ? 'null' : typeof lookup}`)
  }
  return lookup
}

/** Cache counters the batch function adds to (the operator's CallMetrics has these fields). */
export interface LookupStats {
  cacheHits: number
  cacheMisses: number
  /** Entries in the cache after the latest call. */
  cacheEntries: number
}

/**
 * What the batch function needs besides the options: the clock of the cache's TTL, and where to
 * count. Both are read at each call, so the operator may set them when its subtask opens.
 */
export interface LookupEnvironment {
  /** Milliseconds, the job's clock (a manual one in tests). */
  now: () => number
  stats?: LookupStats
}

/**
 * Identity of a key in the cache and within a batch: strings, numbers, bigints and booleans by
 * value; an object or array key by its JSON (so `{ a: 1, b: 2 }` and `{ b: 2, a: 1 }` are
 * different keys, and an object key's JSON must not equal a string key of the same stream).
 */
export function keyIdentity(key: unknown): unknown {
  return typeof key === 'object' && key !== null ? JSON.stringify(key) : key
}

/**
 * The function the lookup join's operator calls per batch (one per subtask: it owns that
 * subtask's cache). Each distinct key of the batch is looked up in the cache once (a hit or a
 * miss in `stats`); the keys it lacks go to `table.get` together, deduplicated (keys compare as
 * `keyIdentity` says), and their answers are cached, misses too unless `cacheMisses` is false.
 * A record whose value is `undefined` yields NO_OUTPUT with `onMissing: 'drop'`.
 *
 * One bad record fails alone (a RecordFailure in its place): a `keyFn` or `join` that throws on
 * it, or a table that answers `failRecord` for its key. The batch's other records are joined.
 *
 * The table's answer must be an array with one entry per key asked, else ASYNC_RESULT_INVALID
 * saying what came back.
 */
export function lookupBatchFunction<T, K, V, O>(
  id: string,
  keyFn: (record: T) => K,
  lookup: LookupTable<K, V> | LookupFunction<K, V>,
  options: ResolvedLookupOptions<T, V, O>,
  env: LookupEnvironment,
): (records: T[], call: CallContext) => Promise<(O | typeof NO_OUTPUT | RecordFailure)[]> {
  const table = asLookupTable(lookup)
  const c = options.cache
  const cache = c === null ? null : new LruCache<unknown, V | undefined>({ maxEntries: c.maxEntries, ttlMs: c.ttlMs, cacheMisses: c.cacheMisses }, () => env.now())
  const join = options.join ?? ((record: T, value: V | undefined) => ({ record, value }) as O)
  const drop = options.onMissing === 'drop'
  const joined = options.join === null ? join : (record: T, value: V | undefined): O | RecordFailure => {
    try {
      return join(record, value)
    } catch (e) {
      return failRecord(new SluiceError('RECORD_FAILED', `lookupJoin "${id}": join threw on this record: ${describeCause(e)}`, { cause: e }))
    }
  }

  return async (records, call) => {
    const stats = env.stats
    const n = records.length
    const identities: unknown[] = new Array(n)
    /** Values known for this batch by identity: from the cache, then from the table. */
    const known = new Map<unknown, V | undefined>()
    const asked = new Set<unknown>()
    const askKeys: K[] = []
    const askIds: unknown[] = []
    const hits0 = cache?.hits ?? 0
    const misses0 = cache?.misses ?? 0
    /** Records whose key selector threw: their failure, by index (rare: allocated on the first). */
    let badKeys: Map<number, RecordFailure> | null = null
    for (let i = 0; i < n; i++) {
      let key: K
      try {
        key = keyFn(records[i])
      } catch (e) {
        ;(badKeys ??= new Map()).set(i, failRecord(new SluiceError('RECORD_FAILED', `lookupJoin "${id}": the key selector threw on this record: ${describeCause(e)}`, { cause: e })))
        continue
      }
      const ident = keyIdentity(key)
      identities[i] = ident
      if (known.has(ident) || asked.has(ident)) continue
      const hit = cache === null ? undefined : cache.get(ident)
      if (hit !== undefined) {
        known.set(ident, hit.value)
      } else {
        asked.add(ident)
        askKeys.push(key)
        askIds.push(ident)
      }
    }
    if (cache !== null && stats !== undefined) {
      stats.cacheHits += cache.hits - hits0
      stats.cacheMisses += cache.misses - misses0
    }
    if (askKeys.length > 0) {
      const answer: unknown = await table.get(askKeys, call)
      if (!Array.isArray(answer) || answer.length !== askKeys.length) {
        throw new SluiceError('ASYNC_RESULT_INVALID', `lookupJoin "${id}": ${table.name ?? 'the lookup table'} was asked for ${askKeys.length} key${askKeys.length === 1 ? '' : 's'} and answered ${describeAnswer(answer)}; get(keys) must resolve with an array of one value (or undefined) per key, in order`)
      }
      for (let j = 0; j < askIds.length; j++) {
        const value = answer[j] as V | undefined | RecordFailure
        known.set(askIds[j], value as V | undefined)
        if (!(value instanceof RecordFailure)) cache?.set(askIds[j], value)
      }
    }
    if (cache !== null && stats !== undefined) stats.cacheEntries = cache.size
    const out: (O | typeof NO_OUTPUT | RecordFailure)[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const bad = badKeys?.get(i)
      if (bad !== undefined) {
        out[i] = bad
        continue
      }
      const value: unknown = known.get(identities[i])
      if (value instanceof RecordFailure) out[i] = value
      else if (drop && value === undefined) out[i] = NO_OUTPUT
      else out[i] = joined(records[i], value as V | undefined)
    }
    return out
  }
}

function describeAnswer(answer: unknown): string {
  if (Array.isArray(answer)) return `${answer.length} value${answer.length === 1 ? '' : 's'}`
  let text: string
  try {
    text = JSON.stringify(answer) ?? String(answer)
  } catch {
    text = String(answer)
  }
  return `${text.length > 80 ? `${text.slice(0, 77)}...` : text} (${answer === null ? 'null' : typeof answer}), not an array`
}
