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
