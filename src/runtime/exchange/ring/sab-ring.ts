/**
 * Cross-thread channel: a single-producer single-consumer ring of variable-length messages
 * (encoded batches and control items) in a SharedArrayBuffer. One thread writes, one thread
 * reads; both hold a `SabRing` over the same buffer (`SabRing.create` on one side, `.buffer`
 * posted to the other, `SabRing.attach` there). Layout: `sab-ring-layout.ts`; the producer end is
 * `sab-ring-writer.ts`, the consumer end `sab-ring-reader.ts`, what both share `sab-ring-end.ts`.
 *
 * Bounds. The ring has a budget in bytes (`capacityBytes`, counting each message's frame: a
 * 16-byte header plus the payload rounded up to 8) and in records (`capacityRecords`, counting
 * DATA messages' records). A write is admitted iff
 *   - the ring is empty (no unreleased message) and the payload is ≤ `maxMessageBytes`, or
 *   - bytesInUse + frame ≤ capacityBytes and recordsInUse + records ≤ capacityRecords, or
 *   - it is a BARRIER, or DATA written `overRecordsBudget` (what a barrier follows), and
 *     bytesInUse + frame ≤ capacityBytes: the records budget may then be exceeded, by that data.
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
  CONTROL_BYTES, HEADER_BYTES, LAYOUT_MAGIC, LAYOUT_VERSION, MAX_REGION_BYTES, W_BYTES_IN_USE, W_CAPACITY_BYTES, W_CAPACITY_RECORDS,
  W_MAGIC, W_MAX_MESSAGE_BYTES, W_MESSAGES_IN_USE, W_RECORDS_IN_USE, W_REGION_BYTES, W_VERSION, frameBytes, regionBytesFor,
} from './sab-ring-layout.ts'
import type { RingMessage } from './sab-ring-message.ts'
import { SabRingReader } from './sab-ring-reader.ts'
import { SabRingWriter } from './sab-ring-writer.ts'

export { RingKind, RingMessage } from './sab-ring-message.ts'

export interface SabRingOptions {
  /** Budget of framed bytes (16-byte header + payload rounded up to 8 per message). */
  capacityBytes: number
  /** Budget of records in DATA messages. */
  capacityRecords: number
  /** Largest payload accepted (default `capacityBytes`); sizes the region, see `regionBytesFor`. */
  maxMessageBytes?: number
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
  // Both ends over the same buffer; a thread uses one of them.
  private readonly writer: SabRingWriter
  private readonly reader: SabRingReader
  private readonly ctrl: Int32Array

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.writer = new SabRingWriter(buffer)
    this.reader = new SabRingReader(buffer)
    this.ctrl = new Int32Array(buffer, 0, CONTROL_BYTES >> 2)
    this.capacityBytes = this.writer.capacityBytes
    this.capacityRecords = this.writer.capacityRecords
    this.maxMessageBytes = this.writer.maxMessageBytes
    this.regionBytes = this.writer.regionBytes
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

  /**
   * Writes one encoded batch of `records` records; false when the budget has no room now.
   * `overRecordsBudget`: admitted by the byte budget alone (records in use may then exceed
   * capacityRecords), for the data a checkpoint barrier must follow into the ring.
   */
  tryWriteData(payload: Uint8Array, records: number, overRecordsBudget = false): boolean {
    return this.writer.tryWriteData(payload, records, overRecordsBudget)
  }

  tryWriteWatermark(watermark: number): boolean {
    return this.writer.tryWriteWatermark(watermark)
  }

  /** A latency marker: `time` is the epoch ms at which its source emitted it. */
  tryWriteMarker(time: number): boolean {
    return this.writer.tryWriteMarker(time)
  }

  /** A checkpoint barrier. */
  tryWriteBarrier(id: number): boolean {
    return this.writer.tryWriteBarrier(id)
  }

  tryWriteIdle(idle: boolean): boolean {
    return this.writer.tryWriteIdle(idle)
  }

  /** Writes END; afterwards any write throws (the producer is done). */
  tryWriteEnd(): boolean {
    return this.writer.tryWriteEnd()
  }

  /**
   * True when the records budget is used up (no DATA message with records is admitted) or not
   * even a 16-byte control message fits the byte budget. A producer that is not `full` may still
   * fail to write a message larger than the free budget; it then waits with `waitForSpace()`.
   */
  get full(): boolean {
    return this.writer.full
  }

  /**
   * Resolves when the message of the last failed write would now be admitted and at least a
   * quarter of each budget is free (or the ring is empty), when the consumer closes, or after
   * `timeoutMs`. Never blocks the thread; never rejects; the caller retries its write.
   */
  waitForSpace(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    return this.writer.waitForSpace(timeoutMs)
  }

  /** The producer stops (normally after END, or on failure): wakes a waiting consumer. */
  closeProducer(): void {
    this.writer.closeProducer()
  }

  get consumerClosed(): boolean {
    return this.writer.consumerClosed
  }

  // ---- consumer ----------------------------------------------------------------------------

  /**
   * The next message, or null if none is available now. Releases the previously read message
   * first, so its payload view is no longer valid.
   */
  tryRead(): RingMessage | null {
    return this.reader.tryRead()
  }

  /**
   * Frees the message last returned by tryRead (its payload view becomes invalid). Optional:
   * tryRead and waitForData release too; call it early to let the producer go on while the
   * consumer works on decoded records.
   */
  release(): void {
    this.reader.release()
  }

  /**
   * Resolves when a message is available, the producer closes, or after `timeoutMs`. Releases the
   * held message first (a held message could be exactly the space the producer waits for). If it
   * resolves with the ring empty and `producerClosed`, nothing more will come: stop waiting.
   */
  waitForData(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    return this.reader.waitForData(timeoutMs)
  }

  /**
   * Visits the messages written and not yet read, beyond the one held (if any), oldest first,
   * without taking them, until `visit` returns false. `at` is the frame's offset (for skipFrame);
   * a DATA payload is a view valid until the consumer reads or releases that frame.
   */
  scan(visit: (m: RingMessage, at: number) => boolean): void {
    this.reader.scan(visit)
  }

  /**
   * Turns the unread BARRIER frame at offset `at` (found by scan) into a frame readers pass over:
   * the consumer took the barrier ahead of the frames before it.
   */
  skipFrame(at: number): void {
    this.reader.skipFrame(at)
  }

  /**
   * Resolves when the producer has written since the previous call (at once the first time, or
   * when it has), or after `timeoutMs`; unlike waitForData, also while messages are queued. For a
   * consumer that looks through what is queued (scan) without taking it.
   */
  waitForWrite(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    return this.reader.waitForWrite(timeoutMs)
  }

  /** No message beyond the one held (if any) is available now. */
  get isEmpty(): boolean {
    return this.reader.isEmpty
  }

  /** The consumer stops reading (the task failed or was cancelled): later writes throw. */
  closeConsumer(): void {
    this.reader.closeConsumer()
  }

  get producerClosed(): boolean {
    return this.reader.producerClosed
  }

  // ---- both ----------------------------------------------------------------------------------

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
