/**
 * Cross-thread channel: a single-producer single-consumer ring of variable-length messages
 * (encoded batches and control items) in a SharedArrayBuffer. One thread writes, one thread
 * reads; both hold a `SabRing` over the same buffer (`SabRing.create` on one side, `.buffer`
 * posted to the other, `SabRing.attach` there). Layout: `sab-ring-layout.ts`.
 *
 * Bounds. The ring has a budget in bytes (`capacityBytes`, counting each message's frame: a
 * 16-byte header plus the payload rounded up to 8) and in records (`capacityRecords`, counting
 * DATA messages' records). A write is admitted iff
 *   - the ring is empty (no unreleased message) and the payload is ≤ `maxMessageBytes`, or
 *   - bytesInUse + frame ≤ capacityBytes and recordsInUse + records ≤ capacityRecords.
 * So a message bigger than either budget (up to `maxMessageBytes`, default `capacityBytes`) is
 * still delivered, alone. A payload above `maxMessageBytes` throws. The data region is sized
 * (`regionBytesFor`) so that every admitted message fits contiguously: admission is decided by
 * the budget alone, never by fragmentation, and a payload is always one contiguous view.
 *
 * Concurrency rules (JS Atomics are sequentially consistent):
 *   1. Only the producer writes the write index, the frames and W_NEED_RECORDS; only the consumer
 *      writes the read index. Counters in use are changed with Atomics.add/sub by both.
 *   2. Producer: write header + payload with plain stores, add to the counters, THEN publish the
 *      write index with Atomics.store. Consumer: Atomics.load the write index BEFORE reading a
 *      header or payload. The store/load pair orders the plain payload bytes.
 *   3. Consumer release: Atomics.store the read index FIRST, then subtract from the counters. So
 *      whenever the producer sees budget freed, the space behind it is already free: budget
 *      admission implies a contiguous fit (the layout proof in `regionBytesFor`).
 *   4. Wake-ups (Dekker pattern, no lost wake-up): a waiter reads the wake counter, sets its
 *      waiting word, re-checks its condition, then parks on the counter with waitAsync. The other
 *      side changes the state, then reads the waiting word; only if it is set does it
 *      Atomics.exchange it to 0, bump the counter and notify. Since both sides use SC atomics, at
 *      least one of them sees the other's write. One notify per wait, not per message.
 *   5. The producer waits for the space its blocked message needs, and at least a quarter of each
 *      budget (frame bytes in W_PRODUCER_WAITING, records in W_NEED_RECORDS); the consumer wakes
 *      it only when that much is free (or the ring is empty), so a producer held by a slow
 *      consumer wakes once per burst, not once per freed message.
 */
import { SluiceError } from '../../../errors.ts'
import {
  CONTROL_BYTES, FLAG_CONSUMER_CLOSED, FLAG_PRODUCER_CLOSED, HEADER_BYTES, KIND_DATA, KIND_END, KIND_IDLE, KIND_PAD,
  KIND_WATERMARK, KIND_MARKER, KIND_BARRIER, LAYOUT_MAGIC, LAYOUT_VERSION, MAX_REGION_BYTES, W_BYTES_IN_USE, W_CAPACITY_BYTES, W_CAPACITY_RECORDS,
  W_CONSUMER_WAITING, W_DATA_SEQ, W_FLAGS, W_MAGIC, W_MAX_MESSAGE_BYTES, W_MESSAGES_IN_USE, W_NEED_RECORDS,
  W_PRODUCER_WAITING, W_READ_INDEX, W_RECORDS_IN_USE, W_REGION_BYTES, W_SPACE_SEQ, W_VERSION, W_WRITE_INDEX,
  frameBytes, regionBytesFor,
} from './sab-ring-layout.ts'
import { RESOLVED, waitForChange } from './wait-async.ts'

/** Kinds of message a reader sees. */
export const RingKind = { DATA: KIND_DATA, WATERMARK: KIND_WATERMARK, IDLE: KIND_IDLE, END: KIND_END, MARKER: KIND_MARKER, BARRIER: KIND_BARRIER } as const
export type RingKind = (typeof RingKind)[keyof typeof RingKind]

export interface SabRingOptions {
  /** Budget of framed bytes (16-byte header + payload rounded up to 8 per message). */
  capacityBytes: number
  /** Budget of records in DATA messages. */
  capacityRecords: number
  /** Largest payload accepted (default `capacityBytes`); sizes the region, see `regionBytesFor`. */
  maxMessageBytes?: number
}

const EMPTY_PAYLOAD = new Uint8Array(0)

/**
 * One message taken from the ring. `payload` is a VIEW into the shared region: valid until the
 * consumer calls `release()`, `tryRead()` or `waitForData()` again, after which the producer may
 * overwrite it. Decode it (or `payload.slice()` it) before then. The view starts on an 8-byte
 * boundary of the buffer, so a decoder may lay Float64Array/Int32Array views over it in place.
 */
export class RingMessage {
  constructor(
    readonly kind: RingKind,
    /** DATA: the encoded batch (a view, see above); other kinds: empty. */
    readonly payload: Uint8Array,
    /** DATA: the record count the producer declared; other kinds: 0. */
    readonly records: number,
    /** WATERMARK: the watermark; other kinds: NaN. */
    readonly watermark: number,
    /** IDLE: true = went idle, false = active again; other kinds: false. */
    readonly idle: boolean,
  ) {}
}

function checkWhole(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SluiceError('PIPELINE_OPTION_INVALID', `SabRing ${name} must be a whole number in [${min}, ${max}], got ${v}`)
  }
}

/**
 * A bounded SPSC ring of messages in a SharedArrayBuffer, usable from any thread.
 *
 * @example
 * ```ts
 * const ring = SabRing.create({ capacityBytes: 1 << 20, capacityRecords: 16_384, maxMessageBytes: 256 << 10 })
 * worker.postMessage({ ring: ring.buffer })            // the worker: SabRing.attach(data.ring)
 * // producer side
 * while (!ring.tryWriteData(encoded, batch.records.length)) await ring.waitForSpace()
 * // consumer side
 * for (;;) {
 *   const m = ring.tryRead()
 *   if (m === null) { await ring.waitForData(); continue }
 *   if (m.kind === RingKind.DATA) decodeInto(m.payload, batch)   // before the next tryRead
 *   else if (m.kind === RingKind.END) break
 * }
 * ```
 */
export class SabRing {
  readonly capacityBytes: number
  readonly capacityRecords: number
  readonly maxMessageBytes: number
  /** Size of the data region (≥ the byte budget, see `regionBytesFor`). */
  readonly regionBytes: number
  private readonly ctrl: Int32Array
  private readonly bytes: Uint8Array
  private readonly words: Int32Array
  private readonly doubles: Float64Array
  // Producer-local state.
  private ended = false
  /** Frame bytes / records of the last write that did not fit (0: none), for waitForSpace. */
  private wantBytes = 0
  private wantRecords = 0
  private spaceWait: Promise<void> | null = null
  // Consumer-local state: the message handed out and not yet released.
  private holding = false
  private heldNext = 0
  private heldBytes = 0
  private heldRecords = 0
  private dataWait: Promise<void> | null = null

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.ctrl = new Int32Array(buffer, 0, CONTROL_BYTES >> 2)
    if (this.ctrl[W_MAGIC] !== LAYOUT_MAGIC || this.ctrl[W_VERSION] !== LAYOUT_VERSION) {
      throw new SluiceError('INTERNAL', 'SabRing.attach: the buffer is not a SabRing of this layout version')
    }
    this.regionBytes = this.ctrl[W_REGION_BYTES]
    this.capacityBytes = this.ctrl[W_CAPACITY_BYTES]
    this.capacityRecords = this.ctrl[W_CAPACITY_RECORDS]
    this.maxMessageBytes = this.ctrl[W_MAX_MESSAGE_BYTES]
    this.bytes = new Uint8Array(buffer, CONTROL_BYTES, this.regionBytes)
    this.words = new Int32Array(buffer, CONTROL_BYTES, this.regionBytes >> 2)
    this.doubles = new Float64Array(buffer, CONTROL_BYTES, this.regionBytes >> 3)
  }

  static create(options: SabRingOptions): SabRing {
    const { capacityBytes, capacityRecords } = options
    const maxMessageBytes = options.maxMessageBytes ?? capacityBytes
    checkWhole('capacityBytes', capacityBytes, HEADER_BYTES, MAX_REGION_BYTES / 4)
    checkWhole('capacityRecords', capacityRecords, 1, 2 ** 31 - 1)
    checkWhole('maxMessageBytes', maxMessageBytes, 8, MAX_REGION_BYTES / 4)
    const regionBytes = regionBytesFor(capacityBytes, frameBytes(maxMessageBytes))
    const buffer = new SharedArrayBuffer(CONTROL_BYTES + regionBytes)
    const c = new Int32Array(buffer, 0, CONTROL_BYTES >> 2)
    c[W_VERSION] = LAYOUT_VERSION
    c[W_REGION_BYTES] = regionBytes
    c[W_CAPACITY_BYTES] = capacityBytes
    c[W_CAPACITY_RECORDS] = capacityRecords
    c[W_MAX_MESSAGE_BYTES] = maxMessageBytes
    Atomics.store(c, W_MAGIC, LAYOUT_MAGIC)
    return new SabRing(buffer)
  }

  /** A handle on a ring created elsewhere (typically on another thread). */
  static attach(buffer: SharedArrayBuffer): SabRing {
    return new SabRing(buffer)
  }

  // ---- producer ----------------------------------------------------------------------------

  /** Writes one encoded batch of `records` records; false when the budget has no room now. */
  tryWriteData(payload: Uint8Array, records: number): boolean {
    const n = payload.length
    if (n > this.maxMessageBytes) {
      throw new SluiceError('INTERNAL', `SabRing: a message of ${n} bytes exceeds the channel's maxMessageBytes (${this.maxMessageBytes}); split the batch or create the ring with a larger maxMessageBytes`)
    }
    if (!(records >= 0 && records <= 0x7fffffff && Number.isInteger(records))) {
      throw new SluiceError('INTERNAL', `SabRing: record count must be a whole number >= 0, got ${records}`)
    }
    const index = this.reserve(frameBytes(n), records)
    if (index < 0) return false
    const at = this.offsetOf(index)
    const w = at >> 2
    this.words[w] = KIND_DATA
    this.words[w + 1] = n
    this.words[w + 2] = records
    this.bytes.set(payload, at + HEADER_BYTES)
    this.publish(index, frameBytes(n), records)
    return true
  }

  tryWriteWatermark(watermark: number): boolean {
    return this.writeDouble(KIND_WATERMARK, watermark)
  }

  /** A latency marker: `time` is the epoch ms at which its source emitted it. */
  tryWriteMarker(time: number): boolean {
    return this.writeDouble(KIND_MARKER, time)
  }

  /** A checkpoint barrier. */
  tryWriteBarrier(id: number): boolean {
    return this.writeDouble(KIND_BARRIER, id)
  }

  private writeDouble(kind: number, value: number): boolean {
    const index = this.reserve(HEADER_BYTES, 0)
    if (index < 0) return false
    const at = this.offsetOf(index)
    this.words[at >> 2] = kind
    this.words[(at >> 2) + 1] = 0
    this.doubles[(at >> 3) + 1] = value
    this.publish(index, HEADER_BYTES, 0)
    return true
  }

  tryWriteIdle(idle: boolean): boolean {
    return this.writeControl(KIND_IDLE, idle ? 1 : 0)
  }

  /** Writes END; afterwards any write throws (the producer is done). */
  tryWriteEnd(): boolean {
    if (!this.writeControl(KIND_END, 0)) return false
    this.ended = true
    return true
  }

  /**
   * True when the records budget is used up (no DATA message with records is admitted) or not
   * even a 16-byte control message fits the byte budget. A producer that is not `full` may still
   * fail to write a message larger than the free budget; it then waits with `waitForSpace()`.
   */
  get full(): boolean {
    const c = this.ctrl
    if (Atomics.load(c, W_MESSAGES_IN_USE) === 0) return false
    return Atomics.load(c, W_RECORDS_IN_USE) >= this.capacityRecords ||
      Atomics.load(c, W_BYTES_IN_USE) + HEADER_BYTES > this.capacityBytes
  }

  /**
   * Resolves when the message of the last failed write would now be admitted and at least a
   * quarter of each budget is free (or the ring is empty), when the consumer closes, or after
   * `timeoutMs`. Never blocks the thread; never rejects; the caller retries its write.
   */
  waitForSpace(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (this.spaceWait !== null) return this.spaceWait
    const c = this.ctrl
    const seq = Atomics.load(c, W_SPACE_SEQ)
    // Hysteresis: wait for a quarter of each budget (or the blocked message, if larger), so a
    // producer held by a slow consumer wakes once per burst, not once per freed message.
    const need = Math.max(this.wantBytes === 0 ? HEADER_BYTES : this.wantBytes, this.capacityBytes >> 2)
    const needRecords = Math.max(this.wantBytes === 0 ? 1 : this.wantRecords, this.capacityRecords >> 2)
    Atomics.store(c, W_NEED_RECORDS, needRecords)
    Atomics.store(c, W_PRODUCER_WAITING, need)
    if (this.consumerClosed || this.admits(need, needRecords)) {
      Atomics.store(c, W_PRODUCER_WAITING, 0)
      return RESOLVED
    }
    const p = waitForChange(c, W_SPACE_SEQ, seq, timeoutMs).then(() => {
      Atomics.store(c, W_PRODUCER_WAITING, 0)
      this.spaceWait = null
    })
    this.spaceWait = p
    return p
  }

  /** The producer stops (normally after END, or on failure): wakes a waiting consumer. */
  closeProducer(): void {
    this.ended = true
    this.close(FLAG_PRODUCER_CLOSED)
  }

  get consumerClosed(): boolean {
    return (Atomics.load(this.ctrl, W_FLAGS) & FLAG_CONSUMER_CLOSED) !== 0
  }

  private writeControl(kind: number, value: number): boolean {
    const index = this.reserve(HEADER_BYTES, 0)
    if (index < 0) return false
    const w = this.offsetOf(index) >> 2
    this.words[w] = kind
    this.words[w + 1] = 0
    this.words[w + 2] = value
    this.publish(index, HEADER_BYTES, 0)
    return true
  }

  /** Budget check only; see the admission rule at the top of the file. */
  private admits(frame: number, records: number): boolean {
    const c = this.ctrl
    if (Atomics.load(c, W_MESSAGES_IN_USE) === 0) return true
    return Atomics.load(c, W_BYTES_IN_USE) + frame <= this.capacityBytes &&
      Atomics.load(c, W_RECORDS_IN_USE) + records <= this.capacityRecords
  }

  /**
   * Mirror index where a frame of `frame` bytes goes (after writing a PAD if it must wrap), or
   * -1 if not admitted, remembering the need for waitForSpace. Publishes nothing: the consumer
   * sees the PAD and the frame together when `publish` stores the write index.
   */
  private reserve(frame: number, records: number): number {
    if (this.ended) throw new SluiceError('INTERNAL', 'SabRing: write after END or closeProducer()')
    if (this.consumerClosed) throw new SluiceError('JOB_CANCELLED', 'SabRing: the consuming task closed this channel')
    // Counters before the read index (rule 3): freed budget implies an advanced read index.
    const c = this.ctrl
    if (!this.admits(frame, records)) return this.refuse(frame, records)
    const size = this.regionBytes
    const r = Atomics.load(c, W_READ_INDEX)
    const w = Atomics.load(c, W_WRITE_INDEX)
    const wLap = w >= size
    const wo = wLap ? w - size : w
    const ro = r >= size ? r - size : r
    this.wantBytes = 0
    if (wLap === (r >= size)) {
      // Same lap: free space is [wo, size) then [0, ro).
      if (size - wo >= frame) return w
      if (ro >= frame) {
        if (size - wo >= HEADER_BYTES) this.words[wo >> 2] = KIND_PAD
        return wLap ? 0 : size
      }
    } else if (ro - wo >= frame) {
      return w // writer one lap ahead: free space is [wo, ro)
    }
    // Admitted by budget but no contiguous room: the sizing proof says this cannot happen.
    // Refusing would make the producer wait for a wake-up the budget already allows (a spin).
    throw new SluiceError('INTERNAL', `SabRing: ${frame}-byte frame admitted by budget but no contiguous room (write ${w}, read ${r}, region ${size})`)
  }

  private refuse(frame: number, records: number): number {
    this.wantBytes = frame
    this.wantRecords = records
    return -1
  }

  /** Rule 2: counters, then the write index; then wake the consumer if it may be parked. */
  private publish(index: number, frame: number, records: number): void {
    const c = this.ctrl
    let next = index + frame
    if (next >= 2 * this.regionBytes) next -= 2 * this.regionBytes
    Atomics.add(c, W_BYTES_IN_USE, frame)
    if (records !== 0) Atomics.add(c, W_RECORDS_IN_USE, records)
    Atomics.add(c, W_MESSAGES_IN_USE, 1)
    Atomics.store(c, W_WRITE_INDEX, next)
    if (Atomics.load(c, W_CONSUMER_WAITING) !== 0 && Atomics.exchange(c, W_CONSUMER_WAITING, 0) !== 0) {
      Atomics.add(c, W_DATA_SEQ, 1)
      Atomics.notify(c, W_DATA_SEQ)
    }
  }

  /** Byte offset in the region of a mirror index. */
  private offsetOf(index: number): number {
    return index >= this.regionBytes ? index - this.regionBytes : index
  }

  // ---- consumer ----------------------------------------------------------------------------

  /**
   * The next message, or null if none is available now. Releases the previously read message
   * first, so its payload view is no longer valid.
   */
  tryRead(): RingMessage | null {
    if (this.holding) this.release()
    const c = this.ctrl
    const size = this.regionBytes
    const w = Atomics.load(c, W_WRITE_INDEX) // rule 2: before reading any frame
    let r = Atomics.load(c, W_READ_INDEX)
    if (r === w) return null
    let at = r >= size ? r - size : r
    if (size - at < HEADER_BYTES || this.words[at >> 2] === KIND_PAD) {
      r = r >= size ? 0 : size
      at = 0
    }
    const h = at >> 2
    const kind = this.words[h]
    let frame = HEADER_BYTES
    let records = 0
    let message: RingMessage
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
      default:
        throw new SluiceError('INTERNAL', `SabRing: corrupt frame kind ${kind} at offset ${at}`)
    }
    let next = (r >= size ? size : 0) + at + frame
    if (next >= 2 * size) next -= 2 * size
    this.holding = true
    this.heldNext = next
    this.heldBytes = frame
    this.heldRecords = records
    return message
  }

  /**
   * Frees the message last returned by tryRead (its payload view becomes invalid). Optional:
   * tryRead and waitForData release too; call it early to let the producer go on while the
   * consumer works on decoded records.
   */
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

  /**
   * Resolves when a message is available, the producer closes, or after `timeoutMs`. Releases the
   * held message first (a held message could be exactly the space the producer waits for). If it
   * resolves with the ring empty and `producerClosed`, nothing more will come: stop waiting.
   */
  waitForData(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.release()
    if (this.dataWait !== null) return this.dataWait
    const c = this.ctrl
    const seq = Atomics.load(c, W_DATA_SEQ)
    Atomics.store(c, W_CONSUMER_WAITING, 1)
    if (!this.isEmpty || this.producerClosed) {
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

  /** No message beyond the one held (if any) is available now. */
  get isEmpty(): boolean {
    const r = this.holding ? this.heldNext : Atomics.load(this.ctrl, W_READ_INDEX)
    return r === Atomics.load(this.ctrl, W_WRITE_INDEX)
  }

  /** The consumer stops reading (the task failed or was cancelled): later writes throw. */
  closeConsumer(): void {
    this.release()
    this.close(FLAG_CONSUMER_CLOSED)
  }

  get producerClosed(): boolean {
    return (Atomics.load(this.ctrl, W_FLAGS) & FLAG_PRODUCER_CLOSED) !== 0
  }

  // ---- both ----------------------------------------------------------------------------------

  private close(flag: number): void {
    const c = this.ctrl
    Atomics.or(c, W_FLAGS, flag)
    Atomics.add(c, W_DATA_SEQ, 1)
    Atomics.notify(c, W_DATA_SEQ)
    Atomics.add(c, W_SPACE_SEQ, 1)
    Atomics.notify(c, W_SPACE_SEQ)
  }

  /** Framed bytes of messages written and not yet released (pads excluded). */
  get bytesInUse(): number {
    return Atomics.load(this.ctrl, W_BYTES_IN_USE)
  }

  get recordsInUse(): number {
    return Atomics.load(this.ctrl, W_RECORDS_IN_USE)
  }

  get messagesInUse(): number {
    return Atomics.load(this.ctrl, W_MESSAGES_IN_USE)
  }

  /** The larger of bytes and records in use over their budgets (may exceed 1 for one oversized message). */
  get usage(): number {
    return Math.max(this.bytesInUse / this.capacityBytes, this.recordsInUse / this.capacityRecords)
  }
}
