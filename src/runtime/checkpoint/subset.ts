import { keyGroupRange } from '../../state/key-groups.ts'
import { withoutEntries } from '../../state/snapshot.ts'
import type { Checkpoint } from './storage.ts'

/**
 * The part of checkpoint `c` that the subtasks `runs(op, subtask)` accepts need, for a worker
 * thread: each operator's snapshot from an old subtask whose key groups none of them owns keeps
 * only its operator-wide state (see withoutEntries), so a worker receives and walks about its
 * share of the state instead of all of it.
 */
export function checkpointFor(c: Checkpoint, newParallelism: (op: string) => number, runs: (subtask: number) => boolean): Checkpoint {
  const oldParallelism = new Map<string, number>()
  for (const t of c.tasks) for (const op of Object.keys(t.operators)) oldParallelism.set(op, (oldParallelism.get(op) ?? 0) + 1)
  const needed = (op: string, oldSubtask: number): boolean => {
    const p = newParallelism(op)
    const old = keyGroupRange(oldSubtask, c.maxParallelism, oldParallelism.get(op) as number)
    for (let s = 0; s < p; s++) {
      if (!runs(s)) continue
      const mine = keyGroupRange(s, c.maxParallelism, p)
      if (mine.start < old.end && old.start < mine.end) return true
    }
    return false
  }
  return {
    ...c,
    tasks: c.tasks.map((t) => ({
      ...t,
      operators: Object.fromEntries(Object.entries(t.operators).map(([op, chunks]) => [op, needed(op, t.subtask) ? chunks : [withoutEntries(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))]])),
    })),
  }
}
