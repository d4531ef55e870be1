/**
 * The heap state backend: tables are Maps of live objects (`get` returns the stored value itself,
 * so `changed` has nothing to write back and only restarts a TTL). Keep keys numeric where you
 * can: a Map lookup by number is 2-4x cheaper than by string.
 *
 * TTL: a table with a TTL (its own class, so tables without one pay nothing for it) keeps a second
 * Map of expiry times; an expired entry is removed when it is read and by `sweep`, and is never
 * returned or scanned for a snapshot.
 */
import type { KeyedTable, NamespacedTable, StateBackendFactory, StateClocks, StateTtl } from './backend.ts'
import { TableRegistry, type EntryVisitor, type StoredTable } from './table-registry.ts'

/**
 * A table without TTL. Its hot methods are a line each, so V8 inlines them into an operator's
 * record loop whatever else that loop calls (small functions are inlined outside the budget).
 */
export class HeapKeyedTable<K, V> implements KeyedTable<K, V>, StoredTable {
  readonly values = new Map<K, V>()

  get size(): number {
    return this.values.size
  }

  get(key: K): V | undefined {
    return this.values.get(key)
  }

  put(key: K, value: V): void {
    this.values.set(key, value)
  }

  changed(_key: K, _value: V): void {}

  delete(key: K): void {
    this.values.delete(key)
  }

  entries(): IterableIterator<[K, V]> {
    return this.values.entries()
  }

  scan(visit: EntryVisitor): void {
    this.scanAt(0, visit)
  }

  /** Visits the live entries as the entries of namespace `ns`. */
  scanAt(ns: number, visit: EntryVisitor): void {
    for (const [k, v] of this.values) visit(k, ns, v, Number.NaN)
  }

  restore(key: unknown, _ns: number, value: unknown, _expiry: number | null): void {
    this.values.set(key as K, value as V)
  }

  entryCount(): number {
    return this.values.size
  }

  sample(out: unknown[], max: number): void {
    if (out.length >= max) return
    for (const e of this.values) {
      out.push(e)
      if (out.length >= max) return
    }
  }

  sweep(): number {
    return 0
  }
}

/** A table with a TTL: a second Map holds each key's expiry time. */
export class HeapTtlKeyedTable<K, V> extends HeapKeyedTable<K, V> {
  private readonly expiry = new Map<K, number>()

  constructor(
    private readonly clocks: StateClocks,
    private readonly ttl: StateTtl,
  ) {
    super()
  }

  private now(): number {
    return this.ttl.time === 'event' ? this.clocks.eventNow() : this.clocks.processingNow()
  }

  override get(key: K): V | undefined {
    const exp = this.expiry.get(key)
    if (exp !== undefined && exp <= this.now()) {
      this.values.delete(key)
      this.expiry.delete(key)
      return undefined
    }
    return this.values.get(key)
  }

  override put(key: K, value: V): void {
    this.values.set(key, value)
    this.expiry.set(key, this.now() + this.ttl.ttlMs)
  }

  override changed(key: K, _value: V): void {
    this.expiry.set(key, this.now() + this.ttl.ttlMs)
  }

  override delete(key: K): void {
    this.values.delete(key)
    this.expiry.delete(key)
  }

  override entries(): IterableIterator<[K, V]> {
    return this.liveEntries()
  }

  private *liveEntries(): IterableIterator<[K, V]> {
    const now = this.now()
    for (const e of this.values) if ((this.expiry.get(e[0]) as number) > now) yield e
  }

  override scanAt(ns: number, visit: EntryVisitor): void {
    const now = this.now()
    for (const [k, v] of this.values) {
      const exp = this.expiry.get(k) as number
      if (exp > now) visit(k, ns, v, exp)
    }
  }

  override restore(key: unknown, _ns: number, value: unknown, expiry: number | null): void {
    this.values.set(key as K, value as V)
    // State written without a TTL and restored under one starts its TTL now.
    this.expiry.set(key as K, expiry ?? this.now() + this.ttl.ttlMs)
  }

  override sweep(): number {
    const now = this.now()
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

/** A keyed table, with a TTL or without. */
export function heapKeyedTable<K, V>(clocks: StateClocks, ttl: StateTtl | undefined): HeapKeyedTable<K, V> {
  return ttl === undefined ? new HeapKeyedTable<K, V>() : new HeapTtlKeyedTable<K, V>(clocks, ttl)
}

export class HeapNamespacedTable<K, V> implements NamespacedTable<K, V>, StoredTable {
  private readonly byNamespace = new Map<number, HeapKeyedTable<K, V>>()

  constructor(
    private readonly clocks: StateClocks,
    private readonly ttl: StateTtl | undefined,
  ) {}

  get namespaceCount(): number {
    return this.byNamespace.size
  }

  namespace(ns: number): HeapKeyedTable<K, V> {
    let t = this.byNamespace.get(ns)
    if (t === undefined) {
      t = heapKeyedTable<K, V>(this.clocks, this.ttl)
      this.byNamespace.set(ns, t)
    }
    return t
  }

  findNamespace(ns: number): HeapKeyedTable<K, V> | undefined {
    return this.byNamespace.get(ns)
  }

  drop(ns: number): void {
    this.byNamespace.delete(ns)
  }

  namespaces(): IterableIterator<number> {
    return this.byNamespace.keys()
  }

  scan(visit: EntryVisitor): void {
    for (const [ns, t] of this.byNamespace) t.scanAt(ns, visit)
  }

  restore(key: unknown, ns: number, value: unknown, expiry: number | null): void {
    this.namespace(ns).restore(key, ns, value, expiry)
  }

  entryCount(): number {
    let n = 0
    for (const t of this.byNamespace.values()) n += t.size
    return n
  }

  sample(out: unknown[], max: number): void {
    for (const t of this.byNamespace.values()) {
      if (out.length >= max) return
      t.sample(out, max)
    }
  }

  sweep(): number {
    let n = 0
    for (const t of this.byNamespace.values()) n += t.sweep()
    return n
  }
}

/** State on the JavaScript heap of the operator's thread. */
export class HeapStateBackend extends TableRegistry {
  protected newKeyed<K, V>(ttl: StateTtl | undefined): HeapKeyedTable<K, V> {
    return heapKeyedTable<K, V>(this.clocks, ttl)
  }

  protected newNamespaced<K, V>(ttl: StateTtl | undefined): HeapNamespacedTable<K, V> {
    return new HeapNamespacedTable<K, V>(this.clocks, ttl)
  }
}

/** The default backend. */
export const heapStateBackend: StateBackendFactory = (clocks) => new HeapStateBackend(clocks)
