/**
 * One end of a SabRing: the views over its SharedArrayBuffer, the budgets, and what both ends do
 * (the budget check, closing, the closed flags). `SabRingWriter` and `SabRingReader` extend it;
 * the concurrency rules they follow are at the top of sab-ring.ts.
 */
import { SluiceError } from '../../../errors.ts'
import {
  CONTROL_BYTES, FLAG_CONSUMER_CLOSED, FLAG_PRODUCER_CLOSED, LAYOUT_MAGIC, LAYOUT_VERSION, W_BYTES_IN_USE, W_CAPACITY_BYTES,
  W_CAPACITY_RECORDS, W_DATA_SEQ, W_FLAGS, W_MAGIC, W_MAX_MESSAGE_BYTES, W_MESSAGES_IN_USE, W_RECORDS_IN_USE, W_REGION_BYTES,
  W_SPACE_SEQ, W_VERSION,
} from './sab-ring-layout.ts'

export class SabRingEnd {
  readonly capacityBytes: number
  readonly capacityRecords: number
  readonly maxMessageBytes: number
  /** Size of the data region (≥ the byte budget, see `regionBytesFor`). */
  readonly regionBytes: number
  protected readonly ctrl: Int32Array
  protected readonly bytes: Uint8Array
  protected readonly words: Int32Array
  protected readonly doubles: Float64Array

  constructor(readonly buffer: SharedArrayBuffer) {
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

  get consumerClosed(): boolean {
    return (Atomics.load(this.ctrl, W_FLAGS) & FLAG_CONSUMER_CLOSED) !== 0
  }

  get producerClosed(): boolean {
    return (Atomics.load(this.ctrl, W_FLAGS) & FLAG_PRODUCER_CLOSED) !== 0
  }

  /** The byte budget alone (a barrier, and the data it follows): see the admission rule at the top of sab-ring.ts. */
  protected admitsBytes(frame: number): boolean {
    const c = this.ctrl
    return Atomics.load(c, W_MESSAGES_IN_USE) === 0 || Atomics.load(c, W_BYTES_IN_USE) + frame <= this.capacityBytes
  }

  /** Budget check only; see the admission rule at the top of sab-ring.ts. */
  protected admits(frame: number, records: number): boolean {
    const c = this.ctrl
    if (Atomics.load(c, W_MESSAGES_IN_USE) === 0) return true
    return Atomics.load(c, W_BYTES_IN_USE) + frame <= this.capacityBytes &&
      Atomics.load(c, W_RECORDS_IN_USE) + records <= this.capacityRecords
  }

  /** Byte offset in the region of a mirror index. */
  protected offsetOf(index: number): number {
    return index >= this.regionBytes ? index - this.regionBytes : index
  }

  protected close(flag: number): void {
    const c = this.ctrl
    Atomics.or(c, W_FLAGS, flag)
    Atomics.add(c, W_DATA_SEQ, 1)
    Atomics.notify(c, W_DATA_SEQ)
    Atomics.add(c, W_SPACE_SEQ, 1)
    Atomics.notify(c, W_SPACE_SEQ)
  }
}
