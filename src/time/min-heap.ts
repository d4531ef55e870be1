/** A binary min-heap of numbers (timer timestamps). Duplicates are allowed. */
export class NumberMinHeap {
  private readonly items: number[] = []

  get size(): number {
    return this.items.length
  }

  peek(): number {
    return this.items.length === 0 ? Number.POSITIVE_INFINITY : this.items[0]
  }

  push(v: number): void {
    const a = this.items
    let i = a.length
    a.push(v)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (a[parent] <= v) break
      a[i] = a[parent]
      i = parent
    }
    a[i] = v
  }

  pop(): number {
    const a = this.items
    const top = a[0]
    const last = a.pop() as number
    const n = a.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && a[r] < a[l] ? r : l
        if (a[c] >= last) break
        a[i] = a[c]
        i = c
      }
      a[i] = last
    }
    return top
  }
}

/** Inserts v into an ascending array; O(1) when v is the largest, as time-ordered inserts are. */
export function insertSorted(a: number[], v: number): void {
  let i = a.length
  a.push(v)
  while (i > 0 && a[i - 1] > v) {
    a[i] = a[i - 1]
    i--
  }
  a[i] = v
}
