/**
 * Processing-time callbacks of a task's links: per link, a min-heap of the times asked for. The
 * scheduler asks for the earliest and fires the due ones; several requests due at once fire once.
 */
import { NumberMinHeap } from '../../time/min-heap.ts'

export class ProcessingTimers {
  private heaps: (NumberMinHeap | null)[] = []

  addLink(): void {
    this.heaps.push(null)
  }

  /** The chain was rebuilt (fusion) with `links` links; no timer exists yet at that point. */
  reset(links: number): void {
    this.heaps = new Array<NumberMinHeap | null>(links).fill(null)
  }

  request(link: number, timeMs: number): void {
    let h = this.heaps[link]
    if (h === null) {
      h = new NumberMinHeap()
      this.heaps[link] = h
    }
    h.push(timeMs)
  }

  /** The earliest time asked for over all links (Infinity: none). */
  next(): number {
    let t = Number.POSITIVE_INFINITY
    for (const h of this.heaps) if (h !== null && h.peek() < t) t = h.peek()
    return t
  }

  /** Removes link `link`'s times up to `now`; true if there were any (its callback is due). */
  takeDue(link: number, now: number): boolean {
    const h = this.heaps[link]
    if (h === null || h.peek() > now) return false
    while (h.size > 0 && h.peek() <= now) h.pop()
    return true
  }
}
