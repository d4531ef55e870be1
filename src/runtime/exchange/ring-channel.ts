/**
 * Channels between tasks on different worker threads: a SabRing carrying encoded batches and
 * control messages in order. The producer end never blocks its thread: a message the ring cannot
 * take now waits in a small pending queue, and the channel reports `full` until the queue is
 * flushed (that is backpressure, exactly as for same-thread channels). The consumer end decodes
 * one message ahead, so `isEmpty` / `take()` behave like a LocalChannel's.
 */
import { SluiceError } from '../../errors.ts'
import type { Batch } from '../../operators/types.ts'
import { CodecError } from './codec/codec-error.ts'
import { ColumnarCodec } from './codec/columnar.ts'
import { BarrierItem, END, IdleItem, isControl, LatencyMarkerItem, rest, WatermarkItem, type ChannelItem, type ControlItem, type InChannel } from './channel.ts'
import { RingKind, SabRing } from './ring/sab-ring.ts'
import type { OutChannel } from './route.ts'

/** Encodes batches for the wire and back; see runtime/codec. */
export interface WireCodec {
  encode(batch: Batch<unknown>): Uint8Array
  decode(bytes: Uint8Array): Batch<unknown>
}

/** Records per encoded message: bounds message size whatever a window emits at once. */
const MAX_RECORDS_PER_MESSAGE = 1024

type Pending = { readonly payload: Uint8Array; readonly records: number } | ControlItem

/** How long a wait may last before the scheduler looks around again (a safety net, not a poll). */
const WAIT_TIMEOUT_MS = 200

/**
 * Applies the producing node's error policy to a record that cannot cross threads: throws under
 * 'fail' (with `message`), returns under 'skip' and 'dead-letter' and the record is left out.
 */
export type RejectOutput = (record: unknown, message: string, reason: string, cause: unknown) => void

export class RingOutChannel implements OutChannel {
  private readonly pending: Pending[] = []
  /** Encoded bytes sent, for metrics. */
  bytes = 0
  /** Set by the plan to the producer's policy; null: a record that cannot be encoded fails the job. */
  rejectOutput: RejectOutput | null = null

  constructor(
    readonly label: string,
    readonly ring: SabRing,
    private readonly codec: WireCodec,
    readonly capacityRecords: number,
  ) {}

  get full(): boolean {
    if (this.pending.length > 0) this.flush()
    return this.pending.length > 0 || this.ring.full
  }

  get usage(): number {
    return this.ring.usage
  }

  /** True when nothing waits to enter the ring. */
  get drained(): boolean {
    if (this.pending.length > 0) this.flush()
    return this.pending.length === 0
  }

  sendBatch(b: Batch<unknown>): void {
    const n = b.records.length
    if (n <= MAX_RECORDS_PER_MESSAGE) {
      this.sendEncoded(b)
      return
    }
    for (let i = 0; i < n; i += MAX_RECORDS_PER_MESSAGE) {
      this.sendEncoded({ records: b.records.slice(i, i + MAX_RECORDS_PER_MESSAGE), times: b.times.slice(i, i + MAX_RECORDS_PER_MESSAGE) })
    }
  }

  private sendEncoded(b: Batch<unknown>): void {
    let bytes: Uint8Array
    try {
      bytes = this.codec.encode(b)
    } catch (e) {
      const rest = this.withoutUnencodable(b, e)
      if (rest.records.length > 0) this.sendEncoded(rest)
      return
    }
    const records = b.records.length
    this.bytes += bytes.length
    if (this.pending.length === 0 && this.ring.tryWriteData(bytes, records)) return
    // The codec's output is a scratch view; keep a copy while it waits.
    this.pending.push({ payload: bytes.slice(), records })
  }

  /**
   * After a failed encode: hands the record the codec named (does not fit the schema; nested too
   * deep or cyclic, which overflows msgpackr's stack) to the producer's policy, and returns the
   * batch without it (a copy: the batch may be shared with other channels). Throws what the
   * policy throws, or the error itself when it is not about one record.
   */
  private withoutUnencodable(b: Batch<unknown>, e: unknown): Batch<unknown> {
    if (!(e instanceof CodecError) || e.recordIndex < 0) throw e
    const i = e.recordIndex
    const why = e.message.slice(e.code.length + 2)
    const hint = this.codec instanceof ColumnarCodec ? "; the stream's records must fit the schema it declared with .schema()" : ''
    const message = `channel ${this.label} (between threads): ${why}${hint}`
    if (this.rejectOutput === null) throw new SluiceError('RECORD_FAILED', message, { cause: e })
    this.rejectOutput(b.records[i], message, why, e)
    return {
      records: b.records.slice(0, i).concat(b.records.slice(i + 1)),
      times: b.times.slice(0, i).concat(b.times.slice(i + 1)),
    }
  }

  sendControl(item: ControlItem): void {
    // A barrier behind data the ring had no room for would wait for the consumer to take records,
    // which a full asynchronous operator does not: that data goes in over the records budget (the
    // bytes still bound it), so the consumer can find the barrier and take it past them.
    if (item instanceof BarrierItem && this.pending.length > 0) this.flush(true)
    if (this.pending.length === 0 && this.writeControl(item)) return
    this.pending.push(item)
  }

  private writeControl(item: ControlItem): boolean {
    if (item instanceof WatermarkItem) return this.ring.tryWriteWatermark(item.watermark)
    if (item instanceof IdleItem) return this.ring.tryWriteIdle(item.idle)
    if (item instanceof LatencyMarkerItem) return this.ring.tryWriteMarker(item.time)
    if (item instanceof BarrierItem) return this.ring.tryWriteBarrier(item.id)
    return this.ring.tryWriteEnd()
  }

  private flush(overRecordsBudget = false): void {
    const q = this.pending
    let done = 0
    while (done < q.length) {
      const m = q[done]
      const ok = 'payload' in m ? this.ring.tryWriteData(m.payload, m.records, overRecordsBudget) : this.writeControl(m)
      if (!ok) break
      done++
    }
    if (done > 0) q.splice(0, done)
  }

  /** Resolves when the consumer frees space (or after a while). */
  waitForActivity(): Promise<void> {
    return this.ring.waitForSpace(WAIT_TIMEOUT_MS)
  }
}

export class RingInChannel implements InChannel<unknown> {
  private next: ChannelItem<unknown> | null = null
  /** Records of `next` (a batch) already taken by takeUpTo. */
  private nextOffset = 0
  /** Encoded bytes received, for metrics. */
  bytes = 0

  constructor(
    readonly label: string,
    readonly ring: SabRing,
    private readonly codec: WireCodec,
  ) {}

  /** The next item without taking it (decoding it), or null when none has arrived. */
  peek(): ChannelItem<unknown> | null {
    if (this.next !== null) return this.next
    const m = this.ring.tryRead()
    if (m === null) return null
    switch (m.kind) {
      case RingKind.DATA:
        this.bytes += m.payload.length
        this.next = this.codec.decode(m.payload)
        break
      case RingKind.WATERMARK:
        this.next = new WatermarkItem(m.watermark)
        break
      case RingKind.MARKER:
        this.next = new LatencyMarkerItem(m.watermark)
        break
      case RingKind.BARRIER:
        this.next = new BarrierItem(m.watermark)
        break
      case RingKind.IDLE:
        this.next = new IdleItem(m.idle)
        break
      case RingKind.END:
        this.next = END
        break
    }
    // Decoded: let the producer reuse the space at once.
    this.ring.release()
    return this.next
  }

  get usage(): number {
    return this.ring.usage
  }

  get isEmpty(): boolean {
    return this.peek() === null
  }

  take(): ChannelItem<unknown> {
    const item = this.peek() as ChannelItem<unknown>
    this.next = null
    if (this.nextOffset === 0) return item
    const off = this.nextOffset
    this.nextOffset = 0
    return rest(item as Batch<unknown>, off)
  }

  takeUpTo(max: number): ChannelItem<unknown> {
    const item = this.peek() as ChannelItem<unknown>
    if (isControl(item)) return this.take()
    const b = item as Batch<unknown>
    const off = this.nextOffset
    const end = Math.min(b.records.length, off + max)
    if (end === b.records.length) return this.take()
    this.nextOffset = end
    return { records: b.records.slice(off, end), times: b.times.slice(off, end) }
  }

  /** Resolves when a message arrives (or after a while). */
  waitForActivity(): Promise<void> {
    return this.ring.waitForData(WAIT_TIMEOUT_MS)
  }

  /** Resolves when the producer writes again, though messages are queued (or after a while). */
  waitForMore(): Promise<void> {
    return this.ring.waitForWrite(WAIT_TIMEOUT_MS)
  }

  barrierAhead(): number | null {
    const next = this.next
    if (next instanceof BarrierItem) return next.id
    let id: number | null = null
    this.ring.scan((m) => {
      if (m.kind !== RingKind.BARRIER) return true
      id = m.watermark
      return false
    })
    return id
  }

  /**
   * The batches ahead of the first barrier, decoded from the ring without taking them (they are
   * read again, in order, by take); the barrier's frame becomes one readers pass over.
   */
  overtakeBarrier(): Batch<unknown>[] {
    const ahead: Batch<unknown>[] = []
    const next = this.next
    if (next instanceof BarrierItem) {
      this.next = null
      return ahead
    }
    if (next !== null && !isControl(next)) ahead.push(rest(next as Batch<unknown>, this.nextOffset))
    this.ring.scan((m, at) => {
      if (m.kind === RingKind.DATA) ahead.push(this.codec.decode(m.payload))
      else if (m.kind === RingKind.BARRIER) {
        this.ring.skipFrame(at)
        return false
      }
      return true
    })
    return ahead
  }
}
