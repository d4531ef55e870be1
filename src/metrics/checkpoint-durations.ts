/**
 * The durations of completed checkpoints as a cumulative histogram, for /metrics. The coordinator
 * keeps only the latest CHECKPOINT_HISTORY records; the monitor calls `observe` with every sample
 * (once a second), which sees each completed checkpoint once as long as fewer than that many
 * complete between two samples.
 */
import { Histogram } from './histogram.ts'

/** What `observe` reads of the coordinator's figures (CheckpointStats). */
export interface CompletedCheckpoints {
  /** Completed so far, over restarts. */
  readonly completed: number
  /** The latest checkpoints, oldest first, in the order they ended. */
  readonly history: readonly { readonly status: 'completed' | 'failed'; readonly durationMs: number }[]
}

export class CheckpointDurations {
  readonly histogram = new Histogram()
  private seen = 0

  /** Records the checkpoints completed since the last call: the newest completed records of the history. */
  observe(s: CompletedCheckpoints | null): void {
    if (s === null) return
    // A count that went down started over (a new coordinator without the earlier counts).
    if (s.completed < this.seen) this.seen = 0
    let fresh = s.completed - this.seen
    this.seen = s.completed
    const h = s.history
    for (let i = h.length - 1; i >= 0 && fresh > 0; i--) {
      if (h[i].status !== 'completed') continue
      this.histogram.record(h[i].durationMs)
      fresh--
    }
  }
}
