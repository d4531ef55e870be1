/**
 * The memory layout of a `SabRing`, shared by every thread that attaches to the same
 * SharedArrayBuffer. Changing anything here changes the wire format between threads: bump
 * `LAYOUT_VERSION`.
 *
 * ```
 * byte 0            256                                                     256 + regionBytes
 * | control block   | data region: frames, 8-byte aligned, wrapping around   |
 * ```
 *
 * Control block: 64 Int32 words in four 64-byte lines, so the words each side writes on every
 * message do not share a cache line with the other side's (no false sharing on the hot path).
 *
 * | line | words                                   | written by                         |
 * |------|-----------------------------------------|------------------------------------|
 * | 0    | magic, version, sizes, capacities, flags | creator once; flags on close      |
 * | 1    | write index, data wake counter, need     | producer                           |
 * | 2    | read index, space wake counter           | consumer                           |
 * | 3    | bytes/records/messages in use, waiters   | both (Atomics.add/sub/exchange)    |
 *
 * Indices run over [0, 2·regionBytes) ("mirror" indices): the offset in the region is
 * `index mod regionBytes`, and the lap parity (index ≥ regionBytes) tells a full ring
 * (same offset, different lap) from an empty one (equal indices) without a separate counter.
 *
 * Frame: a 16-byte header, then the payload padded to a multiple of 8.
 *
 * | header bytes | DATA            | WATERMARK          | IDLE          | END | PAD |
 * |--------------|-----------------|--------------------|---------------|-----|-----|
 * | 0..3 (i32)   | kind            | kind               | kind          | kind| kind|
 * | 4..7 (i32)   | payload length  | 0                  | 0             | 0   | —   |
 * | 8..15        | records (i32)   | watermark (f64)    | idle 0/1 (i32)| —   | —   |
 *
 * MARKER and BARRIER frames are laid out as WATERMARK (a time, an id). A SKIP frame is a BARRIER
 * whose kind the consumer overwrote after taking it ahead of the frames before it (a checkpoint
 * that overtakes records queued for a full asynchronous operator); readers pass over it.
 *
 * Wrap-around: a frame never straddles the end of the region, so a payload is always one
 * contiguous view. When a frame does not fit before the end, the producer writes a PAD header
 * there (or nothing, if fewer than 16 bytes remain: both sides skip such a tail by rule) and
 * writes the frame at offset 0 of the next lap.
 */

export const CONTROL_BYTES = 256
export const HEADER_BYTES = 16
export const LAYOUT_MAGIC = 0x534c4352 // "SLCR"
export const LAYOUT_VERSION = 2

// Line 0: configuration, written once by create(); flags on close.
export const W_MAGIC = 0
export const W_VERSION = 1
export const W_REGION_BYTES = 2
export const W_CAPACITY_BYTES = 3
export const W_CAPACITY_RECORDS = 4
export const W_MAX_MESSAGE_BYTES = 5
/** Bit set: FLAG_PRODUCER_CLOSED | FLAG_CONSUMER_CLOSED (Atomics.or). */
export const W_FLAGS = 6

// Line 1: producer-owned.
export const W_WRITE_INDEX = 16
/** Bumped (then notified) when the consumer may be waiting and data arrived or a side closed. */
export const W_DATA_SEQ = 17
/** Records the producer's blocked message needs; valid while W_PRODUCER_WAITING ≠ 0. */
export const W_NEED_RECORDS = 18

// Line 2: consumer-owned.
export const W_READ_INDEX = 32
/** Bumped (then notified) when the producer's blocked message fits or a side closed. */
export const W_SPACE_SEQ = 33

// Line 3: shared counters and waiter flags.
/** Framed bytes (header + padded payload) of unreleased messages; pads excluded. */
export const W_BYTES_IN_USE = 48
/** Records of unreleased DATA messages. */
export const W_RECORDS_IN_USE = 49
export const W_MESSAGES_IN_USE = 50
/** 1 while the consumer is (about to be) parked in waitForData. */
export const W_CONSUMER_WAITING = 51
/** Frame bytes of the producer's blocked message while it waits for space, else 0. */
export const W_PRODUCER_WAITING = 52

export const FLAG_PRODUCER_CLOSED = 1
export const FLAG_CONSUMER_CLOSED = 2

/** Frame kinds on the wire. PAD never reaches a reader. */
export const KIND_DATA = 1
export const KIND_WATERMARK = 2
export const KIND_IDLE = 3
export const KIND_END = 4
export const KIND_PAD = 5
/** A latency marker: the epoch-ms time a source emitted it, as a double (like a watermark). */
export const KIND_MARKER = 6
/** A checkpoint barrier: its id, as a double. */
export const KIND_BARRIER = 7
/** A barrier the consumer took ahead of the frames before it (SabRing.skipFrame): readers pass over it. */
export const KIND_SKIP = 8

/** Mirror indices must fit an Int32: 2·regionBytes < 2^31. */
export const MAX_REGION_BYTES = 2 ** 30 - 8

export function align8(n: number): number {
  return (n + 7) & ~7
}

export function frameBytes(payloadBytes: number): number {
  return HEADER_BYTES + align8(payloadBytes)
}

/**
 * Region size that makes every admitted frame fit contiguously (see SabRing's admission rule):
 * with C the byte budget and M the largest frame, the region holds max(C, M) + M bytes.
 *
 * Why: a ring that is not empty admits a frame F only while bytesInUse + F ≤ C. Unwrapped, the
 * free space is a tail and a head summing to ≥ S − C + F, so the larger is ≥ F when S ≥ C + M.
 * Wrapped, the free space is contiguous and ≥ S − (C − F) − pad, with pad < M. An empty ring
 * admits any F ≤ M; its free tail or head is ≥ S/2, hence S ≥ 2M.
 */
export function regionBytesFor(capacityBytes: number, maxFrameBytes: number): number {
  return align8(Math.max(capacityBytes, maxFrameBytes) + maxFrameBytes)
}
