/**
 * A bounded cache with least-recently-used eviction and an optional time to live, for the lookup
 * join. A Map keeps its keys in insertion order, so re-inserting a key on each hit makes the
 * first key the least recently used one: get and set are O(1).
 *
 * An entry's value may be `undefined`: the key was looked up and found absent (a cached miss), so
 * a key that is not in the table is not asked for again until it expires or is evicted.
 */
import { SluiceError } from '../../errors.ts'

export interface LruCacheOptions {
  /** Entries kept at most, >= 1; setting one more evicts the least recently used. */
  readonly maxEntries: number
  /** An entry is served for this many ms after it was set, then dropped. Absent: until evicted. */
  readonly ttlMs?: number
  /** Keep a key set to `undefined` (found absent) like any other. Default true; false: such a set only removes the key. */
  readonly cacheMisses?: boolean
}

/** A cached value, as `get` returns it; `value` is `undefined` for a cached miss. */
export interface CacheHit<V> {
  readonly value: V
}

interface Entry<V> {
  value: V
  /** Clock time from which the entry is stale; Infinity without a TTL. */
  expiresAt: number
}

export class LruCache<K, V> {
  /** `get` calls that found a fresh entry. */
  hits = 0
  /** `get` calls that found none, or only a stale one. */
  misses = 0
  private readonly entries = new Map<K, Entry<V>>()
  private readonly maxEntries: number
  private readonly ttlMs: number
  private readonly cacheMisses: boolean

  /** `now` is the clock the TTL is measured on, in ms (the job's clock; a manual one in tests). */
  constructor(options: LruCacheOptions, private readonly now: () => number) {
    const { maxEntries, ttlMs } = options
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new SluiceError('INTERNAL', `LruCache: maxEntries must be a whole number >= 1, got ${maxEntries}`)
    if (ttlMs !== undefined && !(ttlMs > 0)) throw new SluiceError('INTERNAL', `LruCache: ttlMs must be > 0, got ${ttlMs}`)
    this.maxEntries = maxEntries
    this.ttlMs = ttlMs ?? Number.POSITIVE_INFINITY
    this.cacheMisses = options.cacheMisses ?? true
  }

  /** Entries held, stale ones not yet dropped included (they go when touched or evicted). */
  get size(): number {
    return this.entries.size
  }

  /** The fresh entry of `key` (now the most recently used), or undefined; counts a hit or a miss. */
  get(key: K): CacheHit<V> | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) {
      this.misses++
      return undefined
    }
    this.entries.delete(key)
    if (entry.expiresAt <= this.now()) {
      this.misses++
      return undefined
    }
    this.entries.set(key, entry)
    this.hits++
    return entry
  }

  /** Caches `value` for `key` as the most recently used entry, evicting the least recently used beyond maxEntries. */
  set(key: K, value: V): void {
    if (value === undefined && !this.cacheMisses) {
      this.entries.delete(key)
      return
    }
    const now = this.now()
    const old = this.entries.get(key)
    if (old !== undefined) this.entries.delete(key)
    const entry = old ?? { value, expiresAt: 0 }
    entry.value = value
    entry.expiresAt = now + this.ttlMs
    this.entries.set(key, entry)
    this.evict(now)
  }

  delete(key: K): boolean {
    return this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }

  /** Drops the least recently used entries beyond maxEntries, and stale ones from the old end. */
  private evict(now: number): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && entry.expiresAt > now) return
      this.entries.delete(key)
    }
  }
}
