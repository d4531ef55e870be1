/**
 * A task's operator state at checkpoints: every stateful link's snapshot, encoded, by operator id;
 * and on restore, each link's share of the old subtasks' snapshots (the key groups this subtask
 * owns now, so a changed parallelism re-splits the state).
 */
import { SluiceError } from '../../errors.ts'
import { decodeSnapshot, encodeSnapshot } from '../../state/snapshot.ts'
import type { ChainLink, TaskRestore } from './task-types.ts'

export function snapshotOperatorState(links: readonly ChainLink[], maxParallelism: number): Record<string, readonly Uint8Array[]> {
  const operators: Record<string, readonly Uint8Array[]> = {}
  const ctx = { maxParallelism }
  for (const l of links) {
    if (l.op.snapshotState !== undefined) operators[l.id] = encodeSnapshot(l.op.snapshotState(ctx))
  }
  return operators
}

/** `owns(keyGroup)`: whether this subtask owns the key group now. */
export function restoreOperatorState(links: readonly ChainLink[], r: TaskRestore, owns: (keyGroup: number) => boolean): void {
  for (const l of links) {
    const parts = r.operators.get(l.id)
    if (parts === undefined || parts.length === 0) continue
    if (l.op.restoreState === undefined) {
      throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `operator "${l.id}" has state in the checkpoint but keeps none now (${l.label}); give the stateful operator back its id, or pass --allow-non-restored-state`)
    }
    l.op.restoreState(parts.map((b) => decodeSnapshot(b)), owns, l.ctx)
  }
}
