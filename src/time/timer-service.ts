/**
 * Per-operator timers for keyed operators. Timers are grouped by timestamp: one heap entry per
 * distinct time, and a set of keys per time, so registering the same (key, time) twice is a
 * no-op and firing walks keys in registration order.
 */
import { SluiceError } from '../errors.ts'
import { NumberMinHeap } from './min-heap.ts'

export class TimerQueue<K> {
  private readonly heap = new NumberMinHeap()
  private readonly byTime = new Map<number, Set<K>>()
  private count = 0

  get size(): number {
    return this.count
  }

  register(time: number, key: K): void {
    // NaN would break the heap's order and the timer would never fire (nor any after it).
    if (typeof time !== 'number' || Number.isNaN(time)) throw new SluiceError('TIMESTAMP_INVALID', `a timer needs a time in epoch milliseconds, got ${String(time)}`)
    let keys = this.byTime.get(time)
    if (keys === undefined) {
      keys = new Set()
      this.byTime.set(time, keys)
      this.heap.push(time)
    }
    if (!keys.has(key)) {
      keys.add(key)
      this.count++
    }
  }

  delete(time: number, key: K): void {
    const keys = this.byTime.get(time)
    if (keys !== undefined && keys.delete(key)) this.count--
  }

  nextTime(): number {
    // Skip times whose keys were all deleted.
    while (this.heap.size > 0) {
      const t = this.heap.peek()
      const keys = this.byTime.get(t)
      if (keys !== undefined && keys.size > 0) return t
      this.heap.pop()
      this.byTime.delete(t)
    }
    return Number.POSITIVE_INFINITY
  }

  /**
   * Every pending (time, key) in firing order: by time, then registration order. For snapshots:
   * registering them again in this order gives a queue that fires the same way.
   */
  entries(): [number, K][] {
    const times: number[] = []
    for (const [t, keys] of this.byTime) if (keys.size > 0) times.push(t)
    times.sort((a, b) => a - b)
    const out: [number, K][] = []
    for (const t of times) for (const k of this.byTime.get(t) as Set<K>) out.push([t, k])
    return out
  }

  /**
   * Removes and returns the keys of the earliest time if it is <= upTo, else null. Timers
   * registered while firing are seen by the next call, so a callback may register a timer for
   * the same or an earlier time and it still fires in this advance.
   */
  pollDue(upTo: number): { time: number; keys: Set<K> } | null {
    const t = this.nextTime()
    if (t > upTo || this.heap.size === 0) return null
    this.heap.pop()
    const keys = this.byTime.get(t) as Set<K>
    this.byTime.delete(t)
    this.count -= keys.size
    return { time: t, keys }
  }
}
