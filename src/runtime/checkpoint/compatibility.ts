/** Whether a checkpoint can restore into this job, and its size. */
import { SluiceError } from '../../errors.ts'
import type { LogicalGraph } from '../../graph/logical.ts'
import type { Checkpoint, TaskSnapshot } from './storage.ts'

/**
 * Throws CHECKPOINT_INCOMPATIBLE when checkpoint `c` cannot restore into this job: other key
 * groups, state of operators the job no longer has (unless allowed), or a source split otherwise.
 */
export function checkCompatible(c: Checkpoint, graph: LogicalGraph, maxParallelism: number, sourceSubtasks: ReadonlyMap<string, number>, allowNonRestoredState: boolean): void {
  if (c.maxParallelism !== maxParallelism) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `checkpoint ${c.id} was taken with maxParallelism ${c.maxParallelism}, this job has ${maxParallelism}; key groups cannot be re-split between them`)
  }
  const known = new Set(graph.nodes.keys())
  const orphans = [...new Set(c.tasks.flatMap((t) => Object.keys(t.operators)))].filter((id) => !known.has(id))
  if (orphans.length > 0 && !allowNonRestoredState) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `checkpoint ${c.id} has state for ${orphans.map((x) => `"${x}"`).join(', ')}, which this job no longer has; pass --allow-non-restored-state to drop it`)
  }
  for (const [id, now] of sourceSubtasks) {
    const before = c.tasks.filter((t) => id in t.sources).length
    if (before > 0 && before !== now) {
      throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `source "${id}" ran as ${before} subtasks in checkpoint ${c.id} and would run as ${now} now; a source's positions belong to its split, so keep its parallelism (other operators may rescale)`)
    }
  }
}

/** Encoded operator state in a checkpoint, bytes. */
export function checkpointBytes(tasks: readonly TaskSnapshot[]): number {
  let n = 0
  for (const t of tasks) for (const chunks of Object.values(t.operators)) for (const b of chunks) n += b.length
  return n
}
