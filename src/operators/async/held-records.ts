/**
 * The records an asynchronous operator holds, in input order, with the watermarks that came
 * between them, and the rule for what may leave: in order (`ordered`), or as their calls complete
 * but never past a watermark they preceded (Flink's unordered mode: watermarks split the input
 * into segments, and a segment's records leave in any order once the segments before it have).
 *
 * A doubly linked list in input order: a record leaves from anywhere in O(1), and the list never
 * holds records that left (a slow call at the head does not pin the ones completed behind it).
 */

/** One record taken in, until it leaves. */
export class HeldRecord {
  prev: HeldRecord | null = null
  next: HeldRecord | null = null
  /** Completed: `result` holds its output (or `error` why it failed for good). */
  done = false
  result: unknown = undefined
  error: unknown = null
  /** The next record of the same key, waiting for this one (keyOrder). */
  keyNext: HeldRecord | null = null
  /** When it was taken in (the operator's clock), for a batch's maxWaitMs. */
  arrivedAt = 0

  constructor(
    readonly record: unknown,
    readonly time: number,
    /** Position in this subtask's input since the run began (1-based); -1 for a record restored from a checkpoint. */
    readonly ordinal: number,
    /** Its place in the input, counting records and watermarks' boundaries (increasing). */
    readonly seq: number,
    /** keyOrder: its key (kept for the next record of the key); undefined otherwise. */
    readonly key: unknown,
  ) {}
}

interface HeldWatermark {
  /** Released once every record with a smaller seq has left. */
  readonly before: number
  wm: number
}

export class HeldRecords {
  private head: HeldRecord | null = null
  private tail: HeldRecord | null = null
  private readonly watermarks: HeldWatermark[] = []
  private nextSeq = 0
  /** Records held (taken in and not yet left). */
  size = 0

  constructor(private readonly ordered: boolean) {}

  /** Takes a record in, at the end. */
  add(record: unknown, time: number, ordinal: number, key: unknown): HeldRecord {
    const h = new HeldRecord(record, time, ordinal, this.nextSeq++, key)
    const t = this.tail
    if (t === null) this.head = h
    else {
      t.next = h
      h.prev = t
    }
    this.tail = h
    this.size++
    return h
  }

  /** A watermark arrived after the records added so far. */
  addWatermark(wm: number): void {
    const ws = this.watermarks
    const last = ws.length > 0 ? ws[ws.length - 1] : null
    // No record since the last held watermark: one mark is enough (the later, higher one).
    if (last !== null && last.before === this.nextSeq) last.wm = wm
    else ws.push({ before: this.nextSeq, wm })
  }

  isEmpty(): boolean {
    return this.size === 0 && this.watermarks.length === 0
  }

  /** Every record held, in input order (for a snapshot). */
  *records(): Iterable<HeldRecord> {
    for (let h = this.head; h !== null; h = h.next) yield h
  }

  /**
   * Lets out what may leave, given the records that completed since the last call (`completed`,
   * in any order): each goes to `leave` in the order it may leave. Returns the highest watermark
   * released (-∞: none).
   */
  release(completed: readonly HeldRecord[], leave: (h: HeldRecord) => void): number {
    let released = Number.NEGATIVE_INFINITY
    if (this.ordered) {
      for (;;) {
        let h = this.head
        while (h !== null && h.done) {
          this.unlink(h)
          leave(h)
          h = this.head
        }
        const w = this.releasableWatermark()
        if (w === null) return released
        released = w
      }
    }
    let boundary = this.boundary()
    for (let i = 0; i < completed.length; i++) {
      const h = completed[i]
      if (h.seq < boundary && h.prev !== h) {
        this.unlink(h)
        leave(h)
      }
    }
    for (;;) {
      const w = this.releasableWatermark()
      if (w === null) return released
      released = w
      // The next segment opens: its records that completed meanwhile leave now, in input order.
      boundary = this.boundary()
      let h = this.head
      while (h !== null && h.seq < boundary) {
        const next = h.next
        if (h.done) {
          this.unlink(h)
          leave(h)
        }
        h = next
      }
    }
  }

  /** Records before it may leave (unordered): those before the first held watermark. */
  private boundary(): number {
    return this.watermarks.length > 0 ? this.watermarks[0].before : Number.POSITIVE_INFINITY
  }

  /** The first held watermark, taken, once no record before it is held; else null. */
  private releasableWatermark(): number | null {
    const ws = this.watermarks
    if (ws.length === 0) return null
    if (this.head !== null && this.head.seq < ws[0].before) return null
    return (ws.shift() as HeldWatermark).wm
  }

  private unlink(h: HeldRecord): void {
    if (h.prev === null) this.head = h.next
    else h.prev.next = h.next
    if (h.next === null) this.tail = h.prev
    else h.next.prev = h.prev
    // Marks it as gone (prev pointing at itself), so a second release cannot unlink it twice.
    h.prev = h
    h.next = null
    this.size--
  }
}
