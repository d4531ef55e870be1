/**
 * A task's part of a checkpoint — its operators' state, the dead letters since its last barrier,
 * its counters, its watermark and its sinks' pre-commits — and the decision a finishing task waits
 * for after acknowledging the final checkpoint (see FINAL_CHECKPOINT in task-types.ts).
 */
import { addCounts, type OperatorMetrics } from '../../metrics/task-metrics.ts'
import type { LetterBatch } from './dead-letters.ts'
import { hasExternalEffects, preCommitAll } from './external-effects.ts'
import { snapshotOperatorState } from './operator-state.ts'
import type { ChainLink, TaskCheckpointParts, TaskCheckpointTiming } from './task-types.ts'

export interface PartInputs {
  /** A source task's reader positions by source id. */
  readonly sources: Record<string, unknown>
  readonly barrierAt: number
  readonly alignmentMs: number
  /** The letters held since the last barrier, taken. */
  readonly letters: LetterBatch[]
  readonly counted: readonly OperatorMetrics[]
  readonly watermark: number
}

/** Snapshots `links` for checkpoint `id`; a promise while their sinks pre-commit. */
export function checkpointPart(links: readonly ChainLink[], maxParallelism: number, id: number, i: PartInputs): TaskCheckpointParts | Promise<TaskCheckpointParts> {
  const t0 = performance.now()
  const operators = snapshotOperatorState(links, maxParallelism)
  const timing: TaskCheckpointTiming = { barrierAt: i.barrierAt, alignmentMs: i.alignmentMs, syncMs: performance.now() - t0 }
  const letters = i.letters
  const counts = addCounts({}, i.counted)
  const watermark = Number.isFinite(i.watermark) ? i.watermark : null
  const sources = i.sources
  if (!hasExternalEffects(links)) return { operators, sources, sinks: {}, watermark, letters, counts, timing }
  return preCommitAll(links, id).then((sinks) => ({ operators, sources, sinks, watermark, letters, counts, timing }))
}

/** Commit (true) or abort (false), decided once; waiting before or after the decision both work. */
export class FinalDecision {
  private resolve: ((commit: boolean) => void) | null = null
  private decided: boolean | null = null

  wait(): Promise<boolean> {
    if (this.decided !== null) return Promise.resolve(this.decided)
    return new Promise((resolve) => (this.resolve = resolve))
  }

  decide(commit: boolean): void {
    if (this.decided !== null) return
    this.decided = commit
    this.resolve?.(commit)
    this.resolve = null
  }
}
