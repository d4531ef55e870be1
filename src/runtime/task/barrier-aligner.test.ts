import { describe, expect, it } from 'vitest'
import { BarrierAligner, type AlignedInput } from './barrier-aligner.ts'

const inputs = (n: number): AlignedInput[] => Array.from({ length: n }, () => ({ ended: false, blocked: false }))

describe('BarrierAligner', () => {
  it('takes a checkpoint once every open input has delivered its barrier, blocking those that have', () => {
    const a = new BarrierAligner()
    const ins = inputs(2)
    expect(a.onBarrier(ins, ins[0], 1)).toBe(-1)
    expect(ins.map((i) => i.blocked)).toEqual([true, false])
    expect(a.onBarrier(ins, ins[1], 1)).toBe(1)
    expect(ins.map((i) => i.blocked)).toEqual([false, false])
  })

  it('an ended input does not hold an alignment back', () => {
    const a = new BarrierAligner()
    const ins = inputs(2)
    expect(a.onBarrier(ins, ins[0], 3)).toBe(-1)
    ;(ins[1] as { ended: boolean }).ended = true
    expect(a.check(ins)).toBe(3)
  })

  // The defect behind wrong results after kill -9 on worker threads: barrier 1 left one worker's
  // source, the other worker declined checkpoint 1, and checkpoint 2's barrier from the second
  // input completed an alignment in which the first input had only delivered barrier 1 — its
  // records between barriers 1 and 2 were missing from snapshot 2.
  it('a newer barrier abandons the alignment in progress and releases its inputs', () => {
    const a = new BarrierAligner()
    const ins = inputs(2)
    expect(a.onBarrier(ins, ins[0], 1)).toBe(-1)
    expect(a.onBarrier(ins, ins[1], 2)).toBe(-1)
    // Input 0 is read again (its records before barrier 2 belong in snapshot 2); input 1 waits.
    expect(ins.map((i) => i.blocked)).toEqual([false, true])
    expect(a.aligning).toBe(2)
    expect(a.abandoned).toBe(1)
    expect(a.onBarrier(ins, ins[0], 2)).toBe(2)
  })

  it('drops barriers of abandoned or taken checkpoints without blocking their input', () => {
    const a = new BarrierAligner()
    const ins = inputs(2)
    a.onBarrier(ins, ins[1], 5)
    // Barrier 4 of an abandoned checkpoint arrives on the other input while 5 is aligned.
    expect(a.onBarrier(ins, ins[0], 4)).toBe(-1)
    expect(ins[0].blocked).toBe(false)
    expect(a.onBarrier(ins, ins[0], 5)).toBe(5)
    // After 5 was taken, a late barrier 4 or a repeated 5 changes nothing.
    expect(a.onBarrier(ins, ins[0], 4)).toBe(-1)
    expect(a.onBarrier(ins, ins[1], 5)).toBe(-1)
    expect(ins.map((i) => i.blocked)).toEqual([false, false])
    expect(a.dropped).toBe(3)
    expect(a.aligning).toBe(-1)
  })
})
