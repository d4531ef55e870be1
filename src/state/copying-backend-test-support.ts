/**
 * A state backend that stores copies, as one that serialises (on disk) does: `get` returns a
 * fresh copy and `put`/`changed` store one. An operator that changes a value it read and does not
 * say so (`changed`) loses the change here, so running the operators on it checks that they keep
 * the backend's contract, and would run unchanged on a second backend. It keeps the heap
 * backend's tables underneath (TTL, scan, restore).
 */
import type { KeyedTable, NamespacedTable, StateBackendFactory, StateTtl } from './backend.ts'
import { heapKeyedTable, type HeapKeyedTable } from './heap-backend.ts'
import { TableRegistry, type EntryVisitor, type StoredTable } from './table-registry.ts'

const copy = <V>(v: V): V => structuredClone(v)

class CopyingKeyedTable<K, V> implements KeyedTable<K, V>, StoredTable {
  constructor(readonly inner: HeapKeyedTable<K, V>) {}

  get size(): number {
    return this.inner.size
  }
  get(key: K): V | undefined {
    const v = this.inner.get(key)
    return v === undefined ? undefined : copy(v)
  }
  put(key: K, value: V): void {
    this.inner.put(key, copy(value))
  }
  changed(key: K, value: V): void {
    this.inner.put(key, copy(value))
  }
  delete(key: K): void {
    this.inner.delete(key)
  }
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.inner.entries()) yield [k, copy(v)]
  }
  scan(visit: EntryVisitor): void {
    this.inner.scan(visit)
  }
  restore(key: unknown, ns: number, value: unknown, expiry: number | null): void {
    this.inner.restore(key, ns, value, expiry)
  }
  entryCount(): number {
    return this.inner.entryCount()
  }
  sample(out: unknown[], max: number): void {
    this.inner.sample(out, max)
  }
  sweep(): number {
    return this.inner.sweep()
  }
}

class CopyingNamespacedTable<K, V> implements NamespacedTable<K, V>, StoredTable {
  private readonly byNamespace = new Map<number, CopyingKeyedTable<K, V>>()

  constructor(private readonly make: () => HeapKeyedTable<K, V>) {}

  get namespaceCount(): number {
    return this.byNamespace.size
  }
  namespace(ns: number): CopyingKeyedTable<K, V> {
    let t = this.byNamespace.get(ns)
    if (t === undefined) {
      t = new CopyingKeyedTable(this.make())
      this.byNamespace.set(ns, t)
    }
    return t
  }
  findNamespace(ns: number): CopyingKeyedTable<K, V> | undefined {
    return this.byNamespace.get(ns)
  }
  drop(ns: number): void {
    this.byNamespace.delete(ns)
  }
  namespaces(): IterableIterator<number> {
    return this.byNamespace.keys()
  }
  scan(visit: EntryVisitor): void {
    for (const [ns, t] of this.byNamespace) t.inner.scanAt(ns, visit)
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
    for (const t of this.byNamespace.values()) t.sample(out, max)
  }
  sweep(): number {
    let n = 0
    for (const t of this.byNamespace.values()) n += t.sweep()
    return n
  }
}

class CopyingStateBackend extends TableRegistry {
  protected newKeyed<K, V>(ttl: StateTtl | undefined): CopyingKeyedTable<K, V> {
    return new CopyingKeyedTable(heapKeyedTable<K, V>(this.clocks, ttl))
  }
  protected newNamespaced<K, V>(ttl: StateTtl | undefined): CopyingNamespacedTable<K, V> {
    return new CopyingNamespacedTable(() => heapKeyedTable<K, V>(this.clocks, ttl))
  }
}

export const copyingStateBackend: StateBackendFactory = (clocks) => new CopyingStateBackend(clocks)
