/**
 * Every stateful operator keeps all its state in the backend its context gives it, and keeps the
 * backend's contract: run on a backend that stores copies (as one on disk would), each restore
 * scenario emits exactly what it emits on the heap, uninterrupted and through a snapshot at the
 * same and at another parallelism. So a second backend needs no change to any operator.
 */
import { describe, expect, it } from 'vitest'
import { copyingStateBackend } from '../state/copying-backend-test-support.ts'
import { runUninterrupted, runWithRestore, sorted } from '../state/snapshot-test-support.ts'
import { keyOf, SCENARIOS, START_MS } from './restore-scenarios-test-support.ts'

describe('operators on a backend that stores copies', () => {
  for (const s of SCENARIOS) {
    it(s.name, () => {
      const o = { make: s.make, keyOf: Array.from({ length: s.inputs }, () => keyOf as (v: never) => unknown), steps: s.script.steps, cut: s.script.cut, startMs: START_MS }
      const heap = runUninterrupted(o)
      const copying = { ...o, stateBackend: copyingStateBackend }
      expect(runUninterrupted(copying)).toEqual(heap)
      expect(runWithRestore({ ...copying, before: 1, after: 1 }).emitted).toEqual(heap.emitted)
      if (s.sameParallelismOnly !== true) expect(sorted(runWithRestore({ ...copying, before: 2, after: 3 }).emitted)).toEqual(sorted(heap.emitted))
    })
  }
})
