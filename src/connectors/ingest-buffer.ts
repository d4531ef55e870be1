/**
 * The bounded buffer between HTTP ingest requests and the job. A request's records go in whole
 * or not at all; the reader takes them in batches. It never holds more than `capacity` records:
 * a request that would pass it is refused (429), never queued.
 */
import type { Clock } from '../time/clock.ts'

/** Counters an HTTP source keeps on the thread of the server, cumulative since the job started. */
export interface IngestStats {
  /** Records now waiting in the buffer, and its bound. */
  buffered: number
  maxBufferedRecords: number
  /** The most the buffer ever held (never more than maxBufferedRecords). */
  highWaterRecords: number
  /** Requests answered 202, and the records they carried. */
  acceptedRequests: number
  acceptedRecords: number
  /** Requests answered 429 (buffer full, or too many requests at once), and the records of those whose body was read. */
  rejectedRequests: number
  rejectedRecords: number
  /** Requests answered 400: a body not JSON / NDJSON, not UTF-8, or a record parse refused. */
  malformedRequests: number
  /** Requests answered 413: a body over maxBodyBytes, or more records than the buffer holds. */
  tooLargeRequests: number
  /** Records the job has taken from the buffer (handed to the reader, on its thread or a worker's). */
  takenRecords: number
}

/** Retry-After bounds, seconds. */
const MIN_RETRY_S = 1
const MAX_RETRY_S = 30

export class IngestBuffer<T> {
  /** Accepted requests' record arrays, oldest first; `head` indexes into the first. */
  private chunks: T[][] = []
  private head = 0
  private size = 0
  highWater = 0
  taken = 0
  /** Records taken in the current rate window, and its start (clock ms); the last window's rate per second. */
  private windowStart = -1
  private windowTaken = 0
  private rate = 0
  private readonly listeners = new Set<() => void>()

  constructor(readonly capacity: number, private readonly clock: Clock) {}

  get length(): number {
    return this.size
  }

  /** Room for `n` more records. */
  fits(n: number): boolean {
    return this.size + n <= this.capacity
  }

  /** Adds all of `records` (keeping the array) if they fit, else none; false when they did not. */
  offer(records: T[]): boolean {
    if (!this.fits(records.length)) return false
    if (records.length === 0) return true
    this.chunks.push(records)
    this.size += records.length
    if (this.size > this.highWater) this.highWater = this.size
    for (const l of this.listeners) l()
    return true
  }

  /** Moves up to `max` records onto `out`, oldest first; returns how many. */
  take(out: T[], max: number): number {
    let n = 0
    while (n < max && this.chunks.length > 0) {
      const chunk = this.chunks[0]
      const k = Math.min(max - n, chunk.length - this.head)
      for (let i = 0; i < k; i++) out.push(chunk[this.head + i])
      this.head += k
      n += k
      if (this.head === chunk.length) {
        this.chunks.shift()
        this.head = 0
      }
    }
    this.size -= n
    this.taken += n
    this.noteTaken(n)
    return n
  }

  /** Calls `l` whenever records arrive; returns the unsubscribe function. */
  onAvailable(l: () => void): () => void {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }

  /**
   * Seconds until `excess` records have likely drained, at the rate the job took records over the
   * last full second, from 1 to 30; 1 while no rate is known yet.
   */
  retryAfterSeconds(excess: number): number {
    this.noteTaken(0)
    if (this.rate <= 0) return MIN_RETRY_S
    return Math.min(MAX_RETRY_S, Math.max(MIN_RETRY_S, Math.ceil(excess / this.rate)))
  }

  private noteTaken(n: number): void {
    const now = this.clock.now()
    if (this.windowStart < 0) this.windowStart = now
    const elapsed = now - this.windowStart
    if (elapsed >= 1000) {
      this.rate = (this.windowTaken * 1000) / elapsed
      this.windowStart = now
      this.windowTaken = 0
    }
    this.windowTaken += n
  }
}
