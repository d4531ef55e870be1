/**
 * The per-batch string dictionary of one column, built on a map that outlives the batch.
 *
 * Clearing a Map per batch and refilling it costs a rehash cascade and an insert for every
 * distinct string of every batch. Instead the map gives each string a stable slot, and a slot
 * carries the number of the batch that last used it and its index in that batch's dictionary:
 * a string seen in an earlier batch costs one lookup (V8 caches a string's hash in the string),
 * no insert. The map is bounded (slots and characters) and cleared between batches when full.
 */

/** Most strings a column's map keeps between batches. */
const MAX_SLOTS = 16 * 1024
/** Most characters a column's map keeps alive between batches. */
const MAX_CHARS = 1024 * 1024

export class StringDictionary {
  /** This batch's entries, in index order; entries at `count` and beyond are stale. */
  readonly strings: string[] = []
  count = 0
  private readonly slots = new Map<string, number>()
  private batchOf = new Int32Array(256)
  private indexOf = new Int32Array(256)
  private batch = 0
  private chars = 0

  /** Starts a batch's dictionary (empty). */
  begin(): void {
    if (this.slots.size > MAX_SLOTS || this.chars > MAX_CHARS) {
      this.slots.clear()
      this.chars = 0
    }
    if (this.batch === 0x7fffffff) {
      this.batchOf.fill(0)
      this.batch = 0
    }
    this.batch++
    this.count = 0
  }

  /** The dictionary index of `s` in this batch, adding it if new. */
  add(s: string): number {
    let slot = this.slots.get(s)
    if (slot === undefined) {
      slot = this.slots.size
      if (slot === this.batchOf.length) this.grow()
      this.slots.set(s, slot)
      this.chars += s.length
    }
    if (this.batchOf[slot] !== this.batch) {
      this.batchOf[slot] = this.batch
      this.indexOf[slot] = this.count
      this.strings[this.count] = s
      return this.count++
    }
    return this.indexOf[slot]
  }

  /** Adds `s` as a new entry without looking it up (direct mode: nearly every string differs). */
  addDirect(s: string): number {
    this.strings[this.count] = s
    return this.count++
  }

  private grow(): void {
    const batchOf = new Int32Array(this.batchOf.length * 2)
    batchOf.set(this.batchOf)
    this.batchOf = batchOf
    const indexOf = new Int32Array(this.indexOf.length * 2)
    indexOf.set(this.indexOf)
    this.indexOf = indexOf
  }
}
