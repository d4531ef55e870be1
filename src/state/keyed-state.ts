/**
 * Heap keyed state. A keyed operator owns one backend; before calling user code for a record it
 * sets `currentKey`, and every state handle reads and writes the entry of that key. Tables are
 * plain Maps keyed by the record key (keep keys numeric where you can: 2-4x cheaper than strings).
 *
 * TTL: an entry expires `ttlMs` after its last write (Flink's OnCreateAndWrite default), measured
 * on the backend's TTL clock (processing time by default, or the current watermark). Expired
 * entries are never returned and are removed lazily on access and by sweep().
 *
 * Snapshots: forEachEntry lists every live entry with its expiry time and restoreEntry puts one
 * back (the owning operator partitions them by key group, state/snapshot.ts). A restore may come
 * before the function declares its state (in open); entries wait for their table's declaration.
 */
import { SluiceError } from '../errors.ts'

export interface StateTtl {
  ttlMs: number
  /** Which time TTL is measured in. Default 'processing'. */
  time?: 'processing' | 'event'
}

export interface StateOptions {
  ttl?: StateTtl
}

export interface ValueState<T> {
  get(): T | undefined
  set(value: T): void
  clear(): void
}

export interface MapState<UK, UV> {
  get(key: UK): UV | undefined
  set(key: UK, value: UV): void
  has(key: UK): boolean
  delete(key: UK): void
  entries(): IterableIterator<[UK, UV]>
  size(): number
  clear(): void
}

export interface ListState<T> {
  get(): readonly T[]
  add(value: T): void
  update(values: T[]): void
  clear(): void
}

export interface ReducingState<T> {
  get(): T | undefined
  add(value: T): void
  clear(): void
}

/** The state of one keyed operator instance. */
export interface KeyedStateStore {
  value<T>(name: string, options?: StateOptions): ValueState<T>
  map<UK, UV>(name: string, options?: StateOptions): MapState<UK, UV>
  list<T>(name: string, options?: StateOptions): ListState<T>
  reducing<T>(name: string, reduce: (a: T, b: T) => T, options?: StateOptions): ReducingState<T>
}

/** One named table: key → value, with optional expiry times. */
class StateTable<K, V> {
  readonly values = new Map<K, V>()
  readonly expiry: Map<K, number> | null

  constructor(
    private readonly backend: HeapKeyedStateBackend<K>,
    readonly ttl: StateTtl | undefined,
  ) {
    this.expiry = ttl === undefined ? null : new Map()
  }

  get(key: K): V | undefined {
    if (this.expiry !== null) {
      const exp = this.expiry.get(key)
      if (exp !== undefined && exp <= this.backend.ttlNow(this.ttl as StateTtl)) {
        this.values.delete(key)
        this.expiry.delete(key)
        return undefined
      }
    }
    return this.values.get(key)
  }

  set(key: K, value: V): void {
    this.values.set(key, value)
    if (this.expiry !== null) {
      const ttl = this.ttl as StateTtl
      this.expiry.set(key, this.backend.ttlNow(ttl) + ttl.ttlMs)
    }
  }

  /** Refreshes the expiry after an in-place change of a mutable value (map, list). */
  touch(key: K): void {
    if (this.expiry !== null) {
      const ttl = this.ttl as StateTtl
      this.expiry.set(key, this.backend.ttlNow(ttl) + ttl.ttlMs)
    }
  }

  delete(key: K): void {
    this.values.delete(key)
    if (this.expiry !== null) this.expiry.delete(key)
  }

  sweep(): number {
    if (this.expiry === null) return 0
    const now = this.backend.ttlNow(this.ttl as StateTtl)
    let removed = 0
    for (const [k, exp] of this.expiry) {
      if (exp <= now) {
        this.expiry.delete(k)
        this.values.delete(k)
        removed++
      }
    }
    return removed
  }
}

export class HeapKeyedStateBackend<K> implements KeyedStateStore {
  /** Set by the operator before user code runs for a record or timer. */
  currentKey: K = undefined as K
  private readonly tables = new Map<string, { kind: string; table: StateTable<K, unknown> }>()
  /** Restored entries of tables not declared yet: applied when the table is declared. */
  private readonly pending = new Map<string, { kind: string; entries: [K, unknown, number | null][] }>()

  constructor(
    private readonly processingNow: () => number,
    private readonly eventNow: () => number,
  ) {}

  ttlNow(ttl: StateTtl): number {
    return ttl.time === 'event' ? this.eventNow() : this.processingNow()
  }

  private table<V>(name: string, kind: string, options: StateOptions | undefined): StateTable<K, V> {
    const existing = this.tables.get(name)
    if (existing !== undefined) {
      if (existing.kind !== kind) {
        throw new SluiceError('JOB_INVALID_OPTION', `state "${name}" was declared as ${existing.kind} state and again as ${kind} state; use distinct names`)
      }
      return existing.table as StateTable<K, V>
    }
    const ttl = options?.ttl
    if (ttl !== undefined && (!Number.isFinite(ttl.ttlMs) || ttl.ttlMs <= 0)) {
      throw new SluiceError('JOB_INVALID_OPTION', `state "${name}": ttl.ttlMs must be a positive number, got ${ttl.ttlMs}`)
    }
    const restored = this.pending.get(name)
    if (restored !== undefined && restored.kind !== kind) {
      throw new SluiceError('JOB_INVALID_OPTION', `state "${name}" was restored as ${restored.kind} state and is now declared as ${kind} state; use a new name for the new state`)
    }
    const table = new StateTable<K, V>(this, ttl)
    this.tables.set(name, { kind, table: table as StateTable<K, unknown> })
    if (restored !== undefined) {
      this.pending.delete(name)
      for (const [k, v, exp] of restored.entries) this.put(table as StateTable<K, unknown>, k, v, exp)
    }
    return table
  }

  private put(table: StateTable<K, unknown>, key: K, value: unknown, expiry: number | null): void {
    table.values.set(key, value)
    if (table.expiry !== null) {
      const ttl = table.ttl as StateTtl
      // State written without a TTL and restored under one starts its TTL now.
      table.expiry.set(key, expiry ?? this.ttlNow(ttl) + ttl.ttlMs)
    }
  }

  /**
   * Visits every live entry: table name and kind, key, value, expiry time (null without TTL).
   * Expired entries are skipped (they can never be read again); restored entries of tables not
   * declared since are included, so they survive until the function declares them.
   */
  forEachEntry(visit: (name: string, kind: string, key: K, value: unknown, expiry: number | null) => void): void {
    for (const [name, { kind, table }] of this.tables) {
      const now = table.ttl === undefined ? 0 : this.ttlNow(table.ttl)
      for (const [k, v] of table.values) {
        if (table.expiry === null) {
          visit(name, kind, k, v, null)
          continue
        }
        const exp = table.expiry.get(k) as number
        if (exp > now) visit(name, kind, k, v, exp)
      }
    }
    for (const [name, { kind, entries }] of this.pending) for (const [k, v, exp] of entries) visit(name, kind, k, v, exp)
  }

  /** Restores one entry (from forEachEntry); a table not declared yet receives it when declared. */
  restoreEntry(name: string, kind: string, key: K, value: unknown, expiry: number | null): void {
    const existing = this.tables.get(name)
    if (existing !== undefined) {
      if (existing.kind !== kind) {
        throw new SluiceError('JOB_INVALID_OPTION', `state "${name}" was restored as ${kind} state but is declared as ${existing.kind} state; use a new name for the new state`)
      }
      this.put(existing.table, key, value, expiry)
      return
    }
    let p = this.pending.get(name)
    if (p === undefined) {
      p = { kind, entries: [] }
      this.pending.set(name, p)
    }
    p.entries.push([key, value, expiry])
  }

  value<T>(name: string, options?: StateOptions): ValueState<T> {
    const t = this.table<T>(name, 'value', options)
    return {
      get: () => t.get(this.currentKey),
      set: (v) => t.set(this.currentKey, v),
      clear: () => t.delete(this.currentKey),
    }
  }

  map<UK, UV>(name: string, options?: StateOptions): MapState<UK, UV> {
    const t = this.table<Map<UK, UV>>(name, 'map', options)
    const read = (): Map<UK, UV> | undefined => t.get(this.currentKey)
    const write = (): Map<UK, UV> => {
      let m = t.get(this.currentKey)
      if (m === undefined) {
        m = new Map()
        t.set(this.currentKey, m)
      } else {
        t.touch(this.currentKey)
      }
      return m
    }
    return {
      get: (k) => read()?.get(k),
      set: (k, v) => void write().set(k, v),
      has: (k) => read()?.has(k) ?? false,
      delete: (k) => {
        const m = read()
        if (m === undefined) return
        m.delete(k)
        if (m.size === 0) t.delete(this.currentKey)
      },
      entries: () => (read() ?? new Map<UK, UV>()).entries(),
      size: () => read()?.size ?? 0,
      clear: () => t.delete(this.currentKey),
    }
  }

  list<T>(name: string, options?: StateOptions): ListState<T> {
    const t = this.table<T[]>(name, 'list', options)
    return {
      get: () => t.get(this.currentKey) ?? [],
      add: (v) => {
        const l = t.get(this.currentKey)
        if (l === undefined) t.set(this.currentKey, [v])
        else {
          l.push(v)
          t.touch(this.currentKey)
        }
      },
      update: (vs) => (vs.length === 0 ? t.delete(this.currentKey) : t.set(this.currentKey, vs.slice())),
      clear: () => t.delete(this.currentKey),
    }
  }

  reducing<T>(name: string, reduce: (a: T, b: T) => T, options?: StateOptions): ReducingState<T> {
    const t = this.table<T>(name, 'reducing', options)
    return {
      get: () => t.get(this.currentKey),
      add: (v) => {
        const cur = t.get(this.currentKey)
        t.set(this.currentKey, cur === undefined ? v : reduce(cur, v))
      },
      clear: () => t.delete(this.currentKey),
    }
  }

  /** Removes expired entries from every TTL table; returns how many. */
  sweep(): number {
    let n = 0
    for (const { table } of this.tables.values()) n += table.sweep()
    return n
  }

  /** Up to `max` [key, value] entries across tables, for estimating state bytes. */
  sample(max: number): unknown[] {
    const out: unknown[] = []
    for (const { table } of this.tables.values()) {
      for (const e of table.values) {
        if (out.length >= max) return out
        out.push(e)
      }
    }
    return out
  }

  /** Number of (key, table) entries, for metrics. */
  entries(): number {
    let n = 0
    for (const { table } of this.tables.values()) n += table.values.size
    return n
  }
}
