/** Reading what an asynchronous operator (id `call`) holds in a checkpoint: the async crash and checkpoint tests. */
import type { Checkpoint } from '../../src/runtime/checkpoint/storage.ts'
import { decodeSnapshot, readOwned } from '../../src/state/snapshot.ts'

/** The ids of the records the checkpoint's `call` operator holds, by subtask (`idOf`: a held record's id). */
export function heldBySubtask(c: Checkpoint, idOf: (record: unknown) => number): Map<number, number[]> {
  const held = new Map<number, number[]>()
  for (const t of c.tasks) {
    const bytes = t.operators.call
    if (bytes === undefined) continue
    // The entry tuple is reused: take the record from each before the next.
    const ids: number[] = []
    for (const e of readOwned([decodeSnapshot(Buffer.concat(bytes))], () => true, 'async').entries) ids.push(idOf(e[3]))
    held.set(t.subtask, ids)
  }
  return held
}
