/** One side of a keyed join: per key, the buffered records with their times, oldest first. */
export interface Entry<T> {
  readonly value: T
  readonly time: number
}

export class JoinBuffer<K, T> {
  readonly byKey = new Map<K, Entry<T>[]>()
  private count = 0

  get size(): number {
    return this.count
  }

  get(k: K): Entry<T>[] | undefined {
    return this.byKey.get(k)
  }

  add(k: K, value: T, time: number): void {
    const l = this.byKey.get(k)
    if (l === undefined) this.byKey.set(k, [{ value, time }])
    else l.push({ value, time })
    this.count++
  }

  /** Drops entries for which `expired(time)` holds. */
  evict(expired: (time: number) => boolean): void {
    for (const [k, l] of this.byKey) {
      let keep = 0
      for (let i = 0; i < l.length; i++) if (!expired(l[i].time)) l[keep++] = l[i]
      this.count -= l.length - keep
      if (keep === 0) this.byKey.delete(k)
      else l.length = keep
    }
  }
}

/** Snapshot entry tags of the two sides of a buffered join. */
export const LEFT = 0
export const RIGHT = 1

/** Writes both sides' buffers as snapshot entries: [ordinal, side, key, time, value]. */
export function snapshotSides<K>(w: { add(tag: number, key: unknown, ...fields: unknown[]): void }, left: JoinBuffer<K, unknown>, right: JoinBuffer<K, unknown>): void {
  for (const [k, l] of left.byKey) for (const e of l) w.add(LEFT, k, e.time, e.value)
  for (const [k, l] of right.byKey) for (const e of l) w.add(RIGHT, k, e.time, e.value)
}

/** Puts restored entries (see snapshotSides) back into the two sides' buffers. */
export function restoreSides<K>(entries: Iterable<readonly unknown[]>, left: JoinBuffer<K, unknown>, right: JoinBuffer<K, unknown>): void {
  for (const e of entries) (e[1] === LEFT ? left : right).add(e[2] as K, e[4], e[3] as number)
}
