import { describe, expect, it } from 'vitest'
import { stateBackendContract } from './backend-contract.ts'
import { heapStateBackend } from './heap-backend.ts'

stateBackendContract('heap', heapStateBackend)

describe('heap state backend', () => {
  it('hands out the stored objects themselves', () => {
    const b = heapStateBackend({ processingNow: () => 0, eventNow: () => 0 })
    const t = b.keyed<string, number[]>('t')
    const v = [1]
    t.put('a', v)
    expect(t.get('a')).toBe(v)
  })
})
