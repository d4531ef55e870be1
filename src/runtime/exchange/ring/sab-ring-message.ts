/** What a SabRing reader takes from the ring: the kinds of message, and one message. */
import { KIND_BARRIER, KIND_DATA, KIND_END, KIND_IDLE, KIND_MARKER, KIND_WATERMARK } from './sab-ring-layout.ts'

/** Kinds of message a reader sees. */
export const RingKind = { DATA: KIND_DATA, WATERMARK: KIND_WATERMARK, IDLE: KIND_IDLE, END: KIND_END, MARKER: KIND_MARKER, BARRIER: KIND_BARRIER } as const
export type RingKind = (typeof RingKind)[keyof typeof RingKind]

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
