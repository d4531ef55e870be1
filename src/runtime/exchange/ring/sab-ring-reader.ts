/** The consumer end of a SabRing: reading frames, releasing them, and waiting for data. */
import { SluiceError } from '../../../errors.ts'
import {
  FLAG_CONSUMER_CLOSED, HEADER_BYTES, KIND_BARRIER, KIND_DATA, KIND_END, KIND_IDLE, KIND_MARKER, KIND_PAD, KIND_SKIP, KIND_WATERMARK,
  W_BYTES_IN_USE, W_CONSUMER_WAITING, W_DATA_SEQ, W_MESSAGES_IN_USE, W_NEED_RECORDS, W_PRODUCER_WAITING, W_READ_INDEX,
  W_RECORDS_IN_USE, W_SPACE_SEQ, W_WRITE_INDEX, frameBytes,
} from './sab-ring-layout.ts'
import { SabRingEnd } from './sab-ring-end.ts'
import { RingKind, RingMessage } from './sab-ring-message.ts'
import { RESOLVED, waitForChange } from './wait-async.ts'

const EMPTY_PAYLOAD = new Uint8Array(0)

export class SabRingReader extends SabRingEnd {
  // The public methods are documented on SabRing, which delegates to them.
  // Consumer-local state: the message handed out and not yet released.
  private holding = false
  private heldNext = 0
  private heldBytes = 0
  private heldRecords = 0
  private dataWait: Promise<void> | null = null
  /** The write index at the last waitForWrite. */
  private seenWrite = -1

  tryRead(): RingMessage | null {
    if (this.holding) this.release()
    for (;;) {
      const w = Atomics.load(this.ctrl, W_WRITE_INDEX) // rule 2: before reading any frame
      const r = Atomics.load(this.ctrl, W_READ_INDEX)
      if (r === w) return null
      const message = this.parse(r)
      this.holding = true
      this.heldNext = this.parsedNext
      this.heldBytes = this.parsedFrame
      this.heldRecords = this.parsedRecords
      if (message !== null) return message
      // A barrier taken ahead of the frames before it (skipFrame): pass over it.
      this.release()
    }
  }

  // Set by parse: the frame's end (mirror index), its framed bytes and its records.
  private parsedNext = 0
  private parsedFrame = 0
  private parsedRecords = 0
  private parsedAt = 0

  /** The frame at mirror index `r` (not past the write index) as a message; null for a SKIP frame. */
  private parse(r: number): RingMessage | null {
    const size = this.regionBytes
    let at = r >= size ? r - size : r
    if (size - at < HEADER_BYTES || this.words[at >> 2] === KIND_PAD) {
      r = r >= size ? 0 : size
      at = 0
    }
    const h = at >> 2
    const kind = this.words[h]
    let frame = HEADER_BYTES
    let records = 0
    let message: RingMessage | null
    switch (kind) {
      case KIND_DATA: {
        const n = this.words[h + 1]
        records = this.words[h + 2]
        frame = frameBytes(n)
        message = new RingMessage(RingKind.DATA, this.bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + n), records, Number.NaN, false)
        break
      }
      case KIND_WATERMARK:
        message = new RingMessage(RingKind.WATERMARK, EMPTY_PAYLOAD, 0, this.doubles[(at >> 3) + 1], false)
        break
      case KIND_BARRIER:
        message = new RingMessage(RingKind.BARRIER, EMPTY_PAYLOAD, 0, this.doubles[(at >> 3) + 1], false)
        break
      case KIND_MARKER:
        message = new RingMessage(RingKind.MARKER, EMPTY_PAYLOAD, 0, this.doubles[(at >> 3) + 1], false)
        break
      case KIND_IDLE:
        message = new RingMessage(RingKind.IDLE, EMPTY_PAYLOAD, 0, Number.NaN, this.words[h + 2] !== 0)
        break
      case KIND_END:
        message = new RingMessage(RingKind.END, EMPTY_PAYLOAD, 0, Number.NaN, false)
        break
      case KIND_SKIP:
        message = null
        break
      default:
        throw new SluiceError('INTERNAL', `SabRing: corrupt frame kind ${kind} at offset ${at}`)
    }
    let next = (r >= size ? size : 0) + at + frame
    if (next >= 2 * size) next -= 2 * size
    this.parsedNext = next
    this.parsedFrame = frame
    this.parsedRecords = records
    this.parsedAt = at
    return message
  }

  scan(visit: (m: RingMessage, at: number) => boolean): void {
    const w = Atomics.load(this.ctrl, W_WRITE_INDEX) // rule 2
    let r = this.holding ? this.heldNext : Atomics.load(this.ctrl, W_READ_INDEX)
    while (r !== w) {
      const m = this.parse(r)
      r = this.parsedNext
      if (m !== null && !visit(m, this.parsedAt)) return
    }
  }

  skipFrame(at: number): void {
    // The producer never touches a written frame before the consumer releases it: the consumer may.
    this.words[at >> 2] = KIND_SKIP
  }

  waitForWrite(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    const c = this.ctrl
    const w = Atomics.load(c, W_WRITE_INDEX)
    // Not producerClosed: a closed producer writes nothing more, and resolving for it would spin.
    if (w !== this.seenWrite) {
      this.seenWrite = w
      return RESOLVED
    }
    return this.waitForProducer(() => Atomics.load(c, W_WRITE_INDEX) !== w, timeoutMs)
  }

  release(): void {
    if (!this.holding) return
    this.holding = false
    const c = this.ctrl
    Atomics.store(c, W_READ_INDEX, this.heldNext) // rule 3: index first, then counters
    Atomics.sub(c, W_BYTES_IN_USE, this.heldBytes)
    if (this.heldRecords !== 0) Atomics.sub(c, W_RECORDS_IN_USE, this.heldRecords)
    Atomics.sub(c, W_MESSAGES_IN_USE, 1)
    const need = Atomics.load(c, W_PRODUCER_WAITING)
    if (need !== 0 && this.admits(need, Atomics.load(c, W_NEED_RECORDS)) && Atomics.exchange(c, W_PRODUCER_WAITING, 0) !== 0) {
      Atomics.add(c, W_SPACE_SEQ, 1)
      Atomics.notify(c, W_SPACE_SEQ)
    }
  }

  waitForData(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.release()
    return this.waitForProducer(() => !this.isEmpty || this.producerClosed, timeoutMs)
  }

  /**
   * Parks until the producer bumps the data wake counter (rule 4: read the counter, set the
   * waiting word, re-check `done`, then wait), unless `done` already holds. One wait at a time.
   */
  private waitForProducer(done: () => boolean, timeoutMs: number): Promise<void> {
    if (this.dataWait !== null) return this.dataWait
    const c = this.ctrl
    const seq = Atomics.load(c, W_DATA_SEQ)
    Atomics.store(c, W_CONSUMER_WAITING, 1)
    if (done()) {
      Atomics.store(c, W_CONSUMER_WAITING, 0)
      return RESOLVED
    }
    const p = waitForChange(c, W_DATA_SEQ, seq, timeoutMs).then(() => {
      Atomics.store(c, W_CONSUMER_WAITING, 0)
      this.dataWait = null
    })
    this.dataWait = p
    return p
  }

  get isEmpty(): boolean {
    const r = this.holding ? this.heldNext : Atomics.load(this.ctrl, W_READ_INDEX)
    return r === Atomics.load(this.ctrl, W_WRITE_INDEX)
  }

  closeConsumer(): void {
    this.release()
    this.close(FLAG_CONSUMER_CLOSED)
  }
}
