/** Reusable buffers for snapshots (value-codec.ts writes into them). */

/** The first (and smallest) buffer a snapshot writer takes from the pool. */
export const SNAPSHOT_CHUNK_BYTES = 64 << 10

/**
 * Buffers for snapshots, reused from one checkpoint to the next. Large state is written into
 * 100s of MB of buffers every checkpoint; fresh memory costs its first touch (page faults: ~0.4 s
 * per 100 MB on some VMs), so buffers a finished checkpoint no longer needs come back here
 * (`release`) for the next one. Holds at most `maxBytes`; only buffers it handed out come back.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>()
  private readonly issued = new WeakSet<ArrayBuffer>()
  private bytes = 0

  constructor(private readonly maxBytes: number) {}

  /** A buffer of exactly `size` bytes (not zeroed). */
  take(size: number): Buffer {
    const list = this.free.get(size)
    const ab = list?.pop()
    if (ab !== undefined) {
      this.bytes -= size
      return Buffer.from(ab, 0, size)
    }
    const b = Buffer.allocUnsafeSlow(size)
    this.issued.add(b.buffer as ArrayBuffer)
    return b
  }

  /** Gives back the buffers under `chunks` that came from this pool and are not already back. */
  release(chunks: Iterable<Uint8Array>): void {
    for (const c of chunks) {
      const ab = c.buffer as ArrayBuffer
      if (!this.issued.has(ab) || ab.byteLength === 0 || this.bytes + ab.byteLength > this.maxBytes) continue
      const list = this.free.get(ab.byteLength) ?? []
      if (list.includes(ab)) continue
      list.push(ab)
      this.free.set(ab.byteLength, list)
      this.bytes += ab.byteLength
    }
  }

  /**
   * Takes in buffers this pool handed out that went to another thread and came back (a moved
   * ArrayBuffer is a new object there and back). The caller vouches that nothing else uses them.
   */
  adopt(buffers: readonly ArrayBuffer[]): void {
    // Small ones are a snapshot's header (encodeSnapshot), not the pool's.
    const mine = buffers.filter((ab) => ab.byteLength >= SNAPSHOT_CHUNK_BYTES)
    for (const ab of mine) this.issued.add(ab)
    this.release(mine.map((ab) => new Uint8Array(ab)))
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.bytes
  }
}

/** The pool snapshots are written into (see BufferPool); the checkpoint coordinator releases into it. */
export const snapshotBuffers = new BufferPool(1 << 30)
