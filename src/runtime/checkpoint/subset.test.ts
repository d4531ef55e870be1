import { describe, expect, it } from 'vitest'
import { decodeSnapshot, encodeSnapshotBytes, readOwned, SnapshotWriter } from '../../state/snapshot.ts'
import { keyGroupOf } from '../../state/key-groups.ts'
import { checkpointFor } from './subset.ts'
import type { Checkpoint } from './storage.ts'

const MAX_P = 128

/** Old subtask `i` of 2 holds the keys of its key groups (0..63, 64..127), with its own mark. */
function part(i: number): Uint8Array {
  const w = new SnapshotWriter('test', MAX_P)
  for (let k = 0; k < 400; k++) if ((keyGroupOf(k, MAX_P) < 64) === (i === 0)) w.add(0, k, k * 10)
  return encodeSnapshotBytes(w.finish({ mark: 100 + i }))
}

const checkpoint: Checkpoint = {
  id: 5, job: 'j', triggeredAt: 0, parallelism: 2, maxParallelism: MAX_P, savepoint: false,
  tasks: [0, 1].map((subtask) => ({ task: 'count', subtask, operators: { count: [part(subtask)] }, sources: {}, sinks: { out: { length: subtask } }, watermark: 7 })),
}

/** Per old subtask: how many entries and which operator-wide state the worker receives. */
function received(c: Checkpoint): { entries: number; state: unknown }[] {
  return c.tasks.map((t) => {
    const s = decodeSnapshot(t.operators.count[0])
    return { entries: [...readOwned([s], () => true, 'test').entries].length, state: s.operatorState }
  })
}

describe('checkpointFor (what a worker thread receives)', () => {
  const full = received(checkpoint)

  it('at the same parallelism, each worker gets the entries of its own old subtask and every operator-wide state', () => {
    expect(full.every((p) => p.entries > 0)).toBe(true)
    const w0 = received(checkpointFor(checkpoint, () => 2, (s) => s % 2 === 0))
    const w1 = received(checkpointFor(checkpoint, () => 2, (s) => s % 2 === 1))
    expect(w0).toEqual([full[0], { entries: 0, state: { mark: 101 } }])
    expect(w1).toEqual([{ entries: 0, state: { mark: 100 } }, full[1]])
    // Sources, sinks and watermarks of every task are kept.
    expect(checkpointFor(checkpoint, () => 2, (s) => s === 0).tasks.map((t) => t.sinks)).toEqual([{ out: { length: 0 } }, { out: { length: 1 } }])
  })

  it('rescaled, a worker keeps every old part whose key groups overlap those of its subtasks', () => {
    // 1 subtask (all key groups) on one worker: everything.
    expect(received(checkpointFor(checkpoint, () => 1, () => true))).toEqual(full)
    // 4 subtasks on 2 workers: worker 1 runs subtasks 1 (32..63) and 3 (96..127), in both old parts.
    expect(received(checkpointFor(checkpoint, () => 4, (s) => s % 2 === 1))).toEqual(full)
    // 4 subtasks on 4 workers: worker 2 runs subtask 2 (64..95), in old part 1 only.
    expect(received(checkpointFor(checkpoint, () => 4, (s) => s === 2))).toEqual([{ entries: 0, state: { mark: 100 } }, full[1]])
  })
})
