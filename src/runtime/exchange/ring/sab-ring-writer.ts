/** The producer end of a SabRing: admission, frames, publishing, and waiting for space. */
import { SluiceError } from '../../../errors.ts'
import {
  FLAG_PRODUCER_CLOSED, HEADER_BYTES, KIND_DATA, KIND_END, KIND_IDLE, KIND_PAD, KIND_WATERMARK, KIND_MARKER, KIND_BARRIER,
  W_BYTES_IN_USE, W_CONSUMER_WAITING, W_DATA_SEQ, W_MESSAGES_IN_USE, W_NEED_RECORDS, W_PRODUCER_WAITING, W_READ_INDEX,
  W_RECORDS_IN_USE, W_SPACE_SEQ, W_WRITE_INDEX, frameBytes,
} from './sab-ring-layout.ts'
import { SabRingEnd } from './sab-ring-end.ts'
import { RESOLVED, waitForChange } from './wait-async.ts'

export class SabRingWriter extends SabRingEnd {
  // The public methods are documented on SabRing, which delegates to them.
  private ended = false
  /** Frame bytes / records of the last write that did not fit (0: none), for waitForSpace. */
  private wantBytes = 0
  private wantRecords = 0
  private spaceWait: Promise<void> | null = null

  tryWriteData(payload: Uint8Array, records: number, overRecordsBudget = false): boolean {
    const n = payload.length
    if (n > this.maxMessageBytes) {
      throw new SluiceError('INTERNAL', `SabRing: a message of ${n} bytes exceeds the channel's maxMessageBytes (${this.maxMessageBytes}); split the batch or create the ring with a larger maxMessageBytes`)
    }
    if (!(records >= 0 && records <= 0x7fffffff && Number.isInteger(records))) {
      throw new SluiceError('INTERNAL', `SabRing: record count must be a whole number >= 0, got ${records}`)
    }
    const index = this.reserve(frameBytes(n), records, overRecordsBudget)
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

  tryWriteMarker(time: number): boolean {
    return this.writeDouble(KIND_MARKER, time)
  }

  tryWriteBarrier(id: number): boolean {
    // By the bytes alone: data a barrier follows may have gone in over the records budget.
    return this.writeDouble(KIND_BARRIER, id, true)
  }

  private writeDouble(kind: number, value: number, overRecordsBudget = false): boolean {
    const index = this.reserve(HEADER_BYTES, 0, overRecordsBudget)
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

  tryWriteEnd(): boolean {
    if (!this.writeControl(KIND_END, 0)) return false
    this.ended = true
    return true
  }

  get full(): boolean {
    const c = this.ctrl
    if (Atomics.load(c, W_MESSAGES_IN_USE) === 0) return false
    return Atomics.load(c, W_RECORDS_IN_USE) >= this.capacityRecords ||
      Atomics.load(c, W_BYTES_IN_USE) + HEADER_BYTES > this.capacityBytes
  }

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

  closeProducer(): void {
    this.ended = true
    this.close(FLAG_PRODUCER_CLOSED)
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

  /**
   * Mirror index where a frame of `frame` bytes goes (after writing a PAD if it must wrap), or
   * -1 if not admitted, remembering the need for waitForSpace. Publishes nothing: the consumer
   * sees the PAD and the frame together when `publish` stores the write index.
   */
  private reserve(frame: number, records: number, overRecordsBudget = false): number {
    if (this.ended) throw new SluiceError('INTERNAL', 'SabRing: write after END or closeProducer()')
    if (this.consumerClosed) throw new SluiceError('JOB_CANCELLED', 'SabRing: the consuming task closed this channel')
    // Counters before the read index (rule 3): freed budget implies an advanced read index.
    const c = this.ctrl
    if (!(overRecordsBudget ? this.admitsBytes(frame) : this.admits(frame, records))) return this.refuse(frame, records)
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
}
