/**
 * What every state backend shares, whatever stores its tables: the register of declared tables
 * and timer queues, snapshot and restore (partitioned by key group: a restore at another
 * parallelism takes only the key groups it owns), restored entries waiting for their table's
 * declaration, TTL sweeps and the size figures for metrics. A backend supplies its tables through
 * `newKeyed` and `newNamespaced`; each also implements StoredTable, the little this code needs.
 *
 * Snapshot entries (snapshot.ts, format 3) are `[tag, key, ...]` with the tag the table's position
 * in the snapshot's list of tables:
 *   keyed        value, then expiry when the table has a TTL
 *   namespaced   namespace, value, then expiry when the table has a TTL
 *   timers       time
 * Restoring replays them in the order written, so at the same parallelism every table iterates
 * as before and timers sharing a time fire in the same order.
 */
import { SluiceError } from '../errors.ts'
import { TimerQueue } from '../time/timer-service.ts'
import type { KeyedTable, LegacyEntryReader, NamespacedTable, StateBackend, StateClocks, StateTtl, TableDescriptor, TableOptions } from './backend.ts'
import { readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot } from './snapshot.ts'

/** Visits one live entry: key, namespace (0 in a keyed table), value, expiry (NaN without TTL). */
export type EntryVisitor = (key: unknown, namespace: number, value: unknown, expiry: number) => void

/** What the shared snapshot and size code needs of a table, beyond what operators use. */
export interface StoredTable {
  /** Every live (unexpired) entry. */
  scan(visit: EntryVisitor): void
  /** Puts back an entry a snapshot held; `expiry` null when it was written without a TTL. */
  restore(key: unknown, namespace: number, value: unknown, expiry: number | null): void
  entryCount(): number
  /** Adds [key, value] pairs to `out` until it holds `max`. */
  sample(out: unknown[], max: number): void
  /** Removes expired entries; returns how many. */
  sweep(): number
}

type Ref = Pick<TableDescriptor, 'type' | 'name' | 'kind'>
type EntrySink = (key: unknown, namespace: number, value: unknown, expiry: number | null) => void

interface Registered {
  readonly descriptor: TableDescriptor
  readonly table: StoredTable | null
  readonly timers: TimerQueue<unknown> | null
}

/** Entries restored for a table not declared yet: key, namespace, value, expiry. */
interface Pending {
  readonly descriptor: TableDescriptor
  readonly entries: [unknown, number, unknown, number | null][]
}

const id = (type: string, name: string): string => `${type}:${name}`

export abstract class TableRegistry implements StateBackend {
  private readonly registered = new Map<string, Registered>()
  private readonly pending = new Map<string, Pending>()

  constructor(protected readonly clocks: StateClocks) {}

  protected abstract newKeyed<K, V>(ttl: StateTtl | undefined): KeyedTable<K, V> & StoredTable
  protected abstract newNamespaced<K, V>(ttl: StateTtl | undefined): NamespacedTable<K, V> & StoredTable

  keyed<K, V>(name: string, options?: TableOptions): KeyedTable<K, V> {
    return this.declare('keyed', name, options, () => this.newKeyed<K, V>(options?.ttl)) as unknown as KeyedTable<K, V>
  }

  namespaced<K, V>(name: string, options?: TableOptions): NamespacedTable<K, V> {
    return this.declare('namespaced', name, options, () => this.newNamespaced<K, V>(options?.ttl)) as unknown as NamespacedTable<K, V>
  }

  timers<K>(name: string): TimerQueue<K> {
    const key = id('timers', name)
    const existing = this.registered.get(key)
    if (existing !== undefined) return existing.timers as TimerQueue<K>
    const timers = new TimerQueue<unknown>()
    this.registered.set(key, { descriptor: { type: 'timers', name, kind: 'timers', ttl: false }, table: null, timers })
    this.applyPending(key, (k, ns) => timers.register(ns, k))
    return timers as TimerQueue<K>
  }

  private declare(type: 'keyed' | 'namespaced', name: string, options: TableOptions | undefined, create: () => StoredTable): StoredTable {
    const key = id(type, name)
    const kind = options?.kind ?? type
    const existing = this.registered.get(key)
    if (existing !== undefined) {
      if (existing.descriptor.kind !== kind) {
        throw new SluiceError('STATE_DECLARATION_INVALID', `state "${name}" was declared as ${existing.descriptor.kind} state and again as ${kind} state; use distinct names`)
      }
      return existing.table as StoredTable
    }
    const ttl = options?.ttl
    if (ttl !== undefined && (!Number.isFinite(ttl.ttlMs) || ttl.ttlMs <= 0)) {
      throw new SluiceError('STATE_DECLARATION_INVALID', `state "${name}": ttl.ttlMs must be a positive number, got ${ttl.ttlMs}`)
    }
    const waiting = this.pending.get(key)
    if (waiting !== undefined && waiting.descriptor.kind !== kind) {
      throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `state "${name}" was restored as ${waiting.descriptor.kind} state and is now declared as ${kind} state; use a new name for the new state`)
    }
    const table = create()
    this.registered.set(key, { descriptor: { type, name, kind, ttl: ttl !== undefined }, table, timers: null })
    this.applyPending(key, (k, ns, v, exp) => table.restore(k, ns, v, exp))
    return table
  }

  private applyPending(key: string, put: (k: unknown, ns: number, v: unknown, exp: number | null) => void): void {
    const waiting = this.pending.get(key)
    if (waiting === undefined) return
    this.pending.delete(key)
    for (const [k, ns, v, exp] of waiting.entries) put(k, ns, v, exp)
  }

  restoreEntry(table: Ref, key: unknown, namespace: number, value: unknown, expiry: number | null): void {
    this.target(table)(key, namespace, value, expiry)
  }

  /** Where restored entries of a table go: the declared table, or a list waiting for its declaration. */
  private target(table: Ref): EntrySink {
    const key = id(table.type, table.name)
    const r = this.registered.get(key)
    if (r !== undefined) {
      if (r.descriptor.kind !== table.kind) {
        throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `state "${table.name}" was restored as ${table.kind} state but is declared as ${r.descriptor.kind} state; use a new name for the new state`)
      }
      const timers = r.timers
      if (timers !== null) return (k, ns) => timers.register(ns, k)
      const stored = r.table as StoredTable
      return (k, ns, v, exp) => stored.restore(k, ns, v, exp)
    }
    let p = this.pending.get(key)
    if (p === undefined) {
      // Kept with their expiry (null or not) whatever the table's TTL turns out to be.
      p = { descriptor: { type: table.type, name: table.name, kind: table.kind, ttl: true }, entries: [] }
      this.pending.set(key, p)
    }
    const entries = p.entries
    return (k, ns, v, exp) => void entries.push([k, ns, v, exp])
  }

  snapshot(kind: string, maxParallelism: number, operatorState: unknown): OperatorSnapshot {
    const w = new SnapshotWriter(kind, maxParallelism)
    const tables: TableDescriptor[] = []
    for (const r of this.registered.values()) {
      const tag = tables.length
      tables.push(r.descriptor)
      if (r.timers !== null) {
        for (const [t, k] of r.timers.entries()) w.add(tag, k, t)
        continue
      }
      const d = r.descriptor
      const table = r.table as StoredTable
      if (d.type === 'keyed') table.scan(d.ttl ? (k, _ns, v, exp) => w.add(tag, k, v, exp) : (k, _ns, v) => w.add(tag, k, v))
      else table.scan(d.ttl ? (k, ns, v, exp) => w.add(tag, k, ns, v, exp) : (k, ns, v) => w.add(tag, k, ns, v))
    }
    // Restored state no table took yet survives until one does.
    for (const p of this.pending.values()) {
      const tag = tables.length
      tables.push(p.descriptor)
      for (const [k, ns, v, exp] of p.entries) {
        if (p.descriptor.type === 'timers') w.add(tag, k, ns)
        else if (p.descriptor.type === 'keyed') w.add(tag, k, v, exp)
        else w.add(tag, k, ns, v, exp)
      }
    }
    return w.finish(operatorState, tables)
  }

  restore(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, kind: string, legacy?: LegacyEntryReader): readonly unknown[] {
    const { operatorStates } = readOwned(parts, owns, kind)
    for (const part of parts) {
      const { entries } = readOwned([part], owns, kind)
      const tables = part.tables
      if (tables === null) {
        if (legacy === undefined) throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `the snapshot of this ${kind} operator is in a layout it cannot read`)
        for (const e of entries) legacy(e, this)
        continue
      }
      const targets = tables.map((d) => this.target(d))
      for (const e of entries) {
        // [sequence, tag, key, ...fields] (see the module comment).
        const tag = e[1] as number
        const d = tables[tag]
        if (d === undefined) throw new SluiceError('CHECKPOINT_CORRUPT', `operator snapshot is corrupt: an entry of the ${kind} operator names table ${tag} of ${tables.length}`)
        const put = targets[tag]
        if (d.type === 'keyed') put(e[2], 0, e[3], d.ttl ? (e[4] as number | null) : null)
        else if (d.type === 'namespaced') put(e[2], e[3] as number, e[4], d.ttl ? (e[5] as number | null) : null)
        else put(e[2], e[3] as number, undefined, null)
      }
    }
    return operatorStates
  }

  entryCount(): number {
    let n = 0
    for (const r of this.registered.values()) if (r.table !== null) n += r.table.entryCount()
    return n
  }

  sample(max: number): unknown[] {
    const out: unknown[] = []
    for (const r of this.registered.values()) {
      if (out.length >= max) break
      r.table?.sample(out, max)
    }
    return out
  }

  sweep(): number {
    let n = 0
    for (const r of this.registered.values()) if (r.table !== null) n += r.table.sweep()
    return n
  }
}
