import { describe, expect, it } from 'vitest'
import { stateBackendContract } from './backend-contract.ts'
import { copyingStateBackend } from './copying-backend-test-support.ts'

// The shared suite holds for a backend that is not the heap (it stores copies, as a disk one would).
stateBackendContract('copying', copyingStateBackend)

describe('copying state backend', () => {
  it('loses a change made in place without changed(): what it checks operators for', () => {
    const b = copyingStateBackend({ processingNow: () => 0, eventNow: () => 0 })
    const t = b.keyed<string, number[]>('t')
    t.put('a', [1])
    ;(t.get('a') as number[]).push(2)
    expect(t.get('a')).toEqual([1])
    const v = t.get('a') as number[]
    v.push(2)
    t.changed('a', v)
    expect(t.get('a')).toEqual([1, 2])
  })
})
