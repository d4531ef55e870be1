/**
 * Aligns checkpoint barriers across a task's inputs: an input that delivered barrier n is not read
 * again until every input still open has delivered it, so no record that follows barrier n on one
 * input can reach the state snapshot n is taken of.
 *
 * Checkpoints can be abandoned after their barriers have started to flow: on worker threads the
 * coordinator asks each worker's sources separately, and a worker whose tasks are still opening
 * (or have ended) declines, so barrier n may leave the sources of one worker and never those of
 * another; a checkpoint that times out is abandoned likewise. A task therefore meets barriers of
 * checkpoints that will never complete. The rules that keep snapshots consistent:
 * - a barrier newer than the one being aligned means that one was abandoned (the coordinator has
 *   one checkpoint in flight and gives each a higher id): its inputs are released and the
 *   alignment starts again for the newer one — it must not count their earlier barrier as this
 *   one's, or the records they carry between the two barriers would be missing from the snapshot
 *   while the sources' positions are already past them (lost on restore; found in the crash tests);
 * - a barrier at or below one taken or abandoned here is a leftover of an abandoned checkpoint
 *   and is dropped (it must not block its input).
 */
/** What the aligner reads and sets of a task's input. */
export interface AlignedInput {
  readonly ended: boolean
  /** Delivered the barrier being aligned: not read again until the alignment completes or is abandoned. */
  blocked?: boolean
}

export class BarrierAligner {
  /** The checkpoint being aligned, or -1. */
  aligning = -1
  /** When its first barrier arrived: epoch ms, and performance.now() for the alignment's duration. */
  startedAt = 0
  private started = 0
  /** Barriers of checkpoints up to this id were taken or abandoned here. */
  private done = 0
  /** Alignments given up because a newer barrier arrived, and stale barriers dropped (for tests and metrics). */
  abandoned = 0
  dropped = 0

  /**
   * Input `inp` delivered barrier `id`; returns the id to snapshot now (every open input has
   * delivered it), or -1.
   */
  onBarrier(inputs: readonly AlignedInput[], inp: AlignedInput, id: number): number {
    if (id <= this.done || (this.aligning >= 0 && id < this.aligning)) {
      this.dropped++
      return -1
    }
    if (this.aligning >= 0 && id > this.aligning) {
      this.abandoned++
      this.done = this.aligning
      this.aligning = -1
      for (const i of inputs) i.blocked = false
    }
    if (this.aligning < 0) {
      this.aligning = id
      this.startedAt = Date.now()
      this.started = performance.now()
    }
    inp.blocked = true
    return this.check(inputs)
  }

  /** After an input ended (or a barrier arrived): the id to snapshot now, or -1. */
  check(inputs: readonly AlignedInput[]): number {
    const id = this.aligning
    if (id < 0) return -1
    for (const i of inputs) if (!i.ended && i.blocked !== true) return -1
    this.aligning = -1
    this.done = id
    for (const i of inputs) i.blocked = false
    return id
  }

  /** How long the alignment that `check` just completed took, ms (0 for a single input). */
  durationMs(): number {
    return performance.now() - this.started
  }
}
