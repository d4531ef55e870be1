/**
 * The state backend: where every stateful operator keeps its state. An operator declares named
 * tables once (in `open`) and reads and writes them per record; the backend owns everything else
 * — snapshots partitioned by key group (so a restore at another parallelism splits them), restore,
 * TTL, and entry counts and byte estimates for metrics — written once for all operators in
 * table-registry.ts.
 *
 * Tables:
 * - a keyed table maps a key to a value (a rolling aggregate's accumulators, a join side's
 *   buffered records, a keyed process function's value state);
 * - a namespaced table maps a namespace, a number, to a keyed table (a window's start → its
 *   keys' accumulators), so firing walks one namespace and purging drops it whole;
 * - a timer queue holds (time, key) timers.
 *
 * Values belong to the backend. `get` may return the stored object (the heap backend) or a
 * decoded copy (a backend that serialises, such as one on disk): after changing a value in place,
 * call `changed(key, value)`, which writes it back where that is needed and restarts its TTL. A
 * new value goes in with `put`.
 *
 * A second backend (on disk, say) implements KeyedTable and NamespacedTable over its store,
 * extends TableRegistry with the two table factories and the StoredTable methods, and is handed
 * to operators as a StateBackendFactory through OperatorContext.stateBackend; operators do not
 * change (docs/ARCHITECTURE.md, "State").
 */
import type { TimerQueue } from '../time/timer-service.ts'
import type { KeyedEntry, KeyGroupFilter, OperatorSnapshot } from './snapshot.ts'

export interface StateTtl {
  ttlMs: number
  /** Which time TTL is measured in. Default 'processing'. */
  time?: 'processing' | 'event'
}

export interface TableOptions {
  /**
   * Entries expire `ttlMs` after their last write (`put` or `changed`; Flink's OnCreateAndWrite),
   * measured in processing time or in the watermark. Expired entries are never returned and are
   * removed lazily on access and by `sweep`.
   */
  readonly ttl?: StateTtl
  /** What the table holds, checked when it is declared again or restored ('value', 'map', …). */
  readonly kind?: string
}

/** key → value. */
export interface KeyedTable<K, V> {
  get(key: K): V | undefined
  put(key: K, value: V): void
  /** `value`, which `get(key)` returned, was changed in place: store it again, restart its TTL. */
  changed(key: K, value: V): void
  delete(key: K): void
  /** The live entries; the entry being visited may be changed or deleted meanwhile. */
  entries(): IterableIterator<[K, V]>
  /** Entries held (with TTL, expired ones not yet removed included). */
  readonly size: number
}

/** namespace → key → value; a namespace is a number (a window start, a join side). */
export interface NamespacedTable<K, V> {
  /** The keyed table of one namespace, created empty when there is none. */
  namespace(ns: number): KeyedTable<K, V>
  /** The keyed table of one namespace, or undefined when there is none. */
  findNamespace(ns: number): KeyedTable<K, V> | undefined
  /** Drops a namespace with all its entries; a table `namespace(ns)` gave before is stale. */
  drop(ns: number): void
  /** The namespaces held, in the order they were created. */
  namespaces(): IterableIterator<number>
  readonly namespaceCount: number
}

/** The clocks TTL is measured by. */
export interface StateClocks {
  processingNow(): number
  /** The operator's watermark. */
  eventNow(): number
}

/**
 * A table as the snapshot of an operator names it: its entries are [tag, key, …] where the tag is
 * the table's position in the snapshot's list of descriptors (snapshot.ts, format 3).
 */
export interface TableDescriptor {
  readonly type: 'keyed' | 'namespaced' | 'timers'
  readonly name: string
  readonly kind: string
  /** The entries carry their expiry time. */
  readonly ttl: boolean
}

/**
 * Reads one entry of a snapshot in an operator's own layout (format 2, or an operator that wrote
 * its own entries) into the backend: `[sequence, tag, key, ...fields]`.
 */
export type LegacyEntryReader = (entry: KeyedEntry, into: RestoreTarget) => void

/** Where restored entries go, by table: declared tables, or kept until declared. */
export interface RestoreTarget {
  /** `namespace` is 0 for keyed tables and the time for timers; `expiry` null without TTL. */
  restoreEntry(table: Pick<TableDescriptor, 'type' | 'name' | 'kind'>, key: unknown, namespace: number, value: unknown, expiry: number | null): void
}

/** The state of one operator instance (one subtask). */
export interface StateBackend extends RestoreTarget {
  keyed<K, V>(name: string, options?: TableOptions): KeyedTable<K, V>
  namespaced<K, V>(name: string, options?: TableOptions): NamespacedTable<K, V>
  /** Timers keyed like the state; part of the snapshot. */
  timers<K>(name: string): TimerQueue<K>
  /**
   * Every live entry of every table and timer queue, encoded as it is written (later changes do
   * not reach it), with `operatorState` (the operator's watermark marks) as a live value.
   */
  snapshot(kind: string, maxParallelism: number, operatorState: unknown): OperatorSnapshot
  /**
   * Restores the entries of the key groups `owns` accepts from the old subtasks' snapshots; gives
   * their operator states, in part order. Parts in an operator's own layout go to `legacy`.
   * Entries of tables not declared yet wait for their declaration (and are in later snapshots).
   */
  restore(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, kind: string, legacy?: LegacyEntryReader): readonly unknown[]
  /** Entries held, over all tables (timers not included). */
  entryCount(): number
  /** Up to `max` [key, value] entries, for estimating state bytes (state-size.ts). */
  sample(max: number): unknown[]
  /** Removes expired entries; returns how many. */
  sweep(): number
}

/** Makes the state backend of one operator instance. */
export type StateBackendFactory = (clocks: StateClocks) => StateBackend
