import { describe, expect, it } from 'vitest'
import { CheckpointDurations } from './checkpoint-durations.ts'

const done = (durationMs: number) => ({ status: 'completed' as const, durationMs })
const failed = { status: 'failed' as const, durationMs: 999 }

describe('CheckpointDurations', () => {
  it('records each completed checkpoint once, from the newest records of the history', () => {
    const d = new CheckpointDurations()
    d.observe(null)
    d.observe({ completed: 2, history: [done(10), failed, done(20)] })
    expect(d.histogram.count).toBe(2)
    expect(d.histogram.sumMs).toBe(30)
    d.observe({ completed: 2, history: [done(10), failed, done(20)] })
    expect(d.histogram.count).toBe(2)
    // The history keeps the latest only: the oldest fell out while two more completed.
    d.observe({ completed: 4, history: [failed, done(20), done(30), failed, done(40)] })
    expect(d.histogram.count).toBe(4)
    expect(d.histogram.sumMs).toBe(100)
    expect(d.histogram.maxMs).toBe(40)
  })

  it('starts over when the count does', () => {
    const d = new CheckpointDurations()
    d.observe({ completed: 3, history: [done(1), done(1), done(1)] })
    d.observe({ completed: 1, history: [done(5)] })
    expect(d.histogram.count).toBe(4)
    expect(d.histogram.sumMs).toBe(8)
  })
})
