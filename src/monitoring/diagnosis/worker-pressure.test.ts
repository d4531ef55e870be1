import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { job, kinds, only, worker } from './test-support.ts'

describe('diagnose: worker pressure', () => {
  it('reports event-loop delay and GC pauses with the worker index', () => {
    const j = job({}, { workers: [worker(-1), worker(0, { eventLoopDelayP99Ms: 540 }), worker(1, { gcPauseMsPerSecond: 380, heapUsedBytes: 1.8e9 })] })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings).sort()).toEqual(['event-loop', 'gc'])
    expect(only(findings, 'event-loop')[0].evidence).toMatchObject({ worker: 0, eventLoopDelayP99Ms: 540 })
    expect(only(findings, 'event-loop')[0].title).toContain('worker 0')
    expect(only(findings, 'gc')[0].evidence).toMatchObject({ worker: 1, gcPauseMsPerSecond: 380, heapUsedPercent: 90 })
    expect(only(findings, 'gc')[0].recommendation).toContain('heap')
  })
})
