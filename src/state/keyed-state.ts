/**
 * Keyed state as a keyed process function sees it: value, map, list and reducing state of the
 * key being processed. Each declared state is a keyed table of the operator's state backend
 * (backend.ts), so snapshot, restore, rescale, TTL and size accounting are the backend's. Before
 * calling user code for a record or timer, the operator sets `currentKey`; every handle reads and
 * writes the entry of that key.
 *
 * TTL (`{ ttl: { ttlMs, time } }`): an entry expires `ttlMs` after its last write (Flink's
 * OnCreateAndWrite default), in processing time by default or in the watermark. A change of a
 * map or list (add, set, delete) is a write.
 */
import type { KeyedTable, StateBackend, StateTtl } from './backend.ts'

export type { StateTtl }

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

/** The state handles of one keyed operator instance, over its state backend. */
export class KeyedStateHandles<K> implements KeyedStateStore {
  /** Set by the operator before user code runs for a record or timer. */
  currentKey: K = undefined as K

  constructor(private readonly backend: StateBackend) {}

  private table<V>(name: string, kind: string, options: StateOptions | undefined): KeyedTable<K, V> {
    return this.backend.keyed<K, V>(name, { kind, ttl: options?.ttl })
  }

  value<T>(name: string, options?: StateOptions): ValueState<T> {
    const t = this.table<T>(name, 'value', options)
    return {
      get: () => t.get(this.currentKey),
      set: (v) => t.put(this.currentKey, v),
      clear: () => t.delete(this.currentKey),
    }
  }

  map<UK, UV>(name: string, options?: StateOptions): MapState<UK, UV> {
    const t = this.table<Map<UK, UV>>(name, 'map', options)
    const read = (): Map<UK, UV> | undefined => t.get(this.currentKey)
    return {
      get: (k) => read()?.get(k),
      set: (k, v) => {
        const m = t.get(this.currentKey)
        if (m === undefined) t.put(this.currentKey, new Map([[k, v]]))
        else {
          m.set(k, v)
          t.changed(this.currentKey, m)
        }
      },
      has: (k) => read()?.has(k) ?? false,
      delete: (k) => {
        const m = read()
        if (m === undefined || !m.delete(k)) return
        if (m.size === 0) t.delete(this.currentKey)
        else t.changed(this.currentKey, m)
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
        if (l === undefined) t.put(this.currentKey, [v])
        else {
          l.push(v)
          t.changed(this.currentKey, l)
        }
      },
      update: (vs) => (vs.length === 0 ? t.delete(this.currentKey) : t.put(this.currentKey, vs.slice())),
      clear: () => t.delete(this.currentKey),
    }
  }

  reducing<T>(name: string, reduce: (a: T, b: T) => T, options?: StateOptions): ReducingState<T> {
    const t = this.table<T>(name, 'reducing', options)
    return {
      get: () => t.get(this.currentKey),
      add: (v) => {
        const cur = t.get(this.currentKey)
        t.put(this.currentKey, cur === undefined ? v : reduce(cur, v))
      },
      clear: () => t.delete(this.currentKey),
    }
  }
}
