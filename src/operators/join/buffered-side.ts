/**
 * One side of a keyed join: per key, the buffered records with their times, oldest first, in a
 * keyed table of the operator's state backend.
 */
import type { KeyedTable } from '../../state/backend.ts'

export interface Entry<T> {
  readonly value: T
  readonly time: number
}

export class JoinBuffer<K, T> {
  constructor(private readonly table: KeyedTable<K, Entry<T>[]>) {}

  get(k: K): Entry<T>[] | undefined {
    return this.table.get(k)
  }

  add(k: K, value: T, time: number): void {
    const l = this.table.get(k)
    if (l === undefined) this.table.put(k, [{ value, time }])
    else {
      l.push({ value, time })
      this.table.changed(k, l)
    }
  }

  /** Drops entries for which `expired(time)` holds. */
  evict(expired: (time: number) => boolean): void {
    const table = this.table
    for (const [k, l] of table.entries()) {
      let keep = 0
      for (let i = 0; i < l.length; i++) if (!expired(l[i].time)) l[keep++] = l[i]
      if (keep === l.length) continue
      if (keep === 0) table.delete(k)
      else {
        l.length = keep
        table.changed(k, l)
      }
    }
  }
}

/** Format 2 entries of a buffered join: [sequence, side (0 left, 1 right), key, time, record]. */
export function restoreFormat2<K>(e: readonly unknown[], left: JoinBuffer<K, unknown>, right: JoinBuffer<K, unknown>): void {
  ;(e[1] === 0 ? left : right).add(e[2] as K, e[4], e[3] as number)
}
