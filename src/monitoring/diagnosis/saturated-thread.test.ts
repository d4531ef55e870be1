import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { job, kinds, worker } from './test-support.ts'

describe('diagnose: saturated thread', () => {
  it('in a saturated thread without backpressure, names the operator taking most of it', () => {
    // All four tasks share worker 0; nothing is backpressured, but the thread has no time left.
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } })
    const findings = diagnose(j.view(), j.history())
    expect(findings[0]).toMatchObject({ kind: 'bottleneck', severity: 'critical', operator: 'enrich', action: { kind: 'set-parallelism', operator: 'enrich', parallelism: 2 } })
    expect(findings[0].evidence).toMatchObject({ worker: 0, threadBusyMsPerSecond: 970, taskBusyMsPerSecond: 880 })
    expect(findings[0].title).toMatch(/takes 880 of the 970 busy ms\/s of worker 0/)
  })

  it('a busy thread shared evenly has no single bottleneck', () => {
    const j = job({ source: { busy: 250 }, parse: { busy: 250 }, enrich: { busy: 250 }, sink: { busy: 250 } })
    expect(kinds(diagnose(j.view(), j.history()))).not.toContain('bottleneck')
  })

  it('a thread saturated on the CPU is still CPU-bound, with its CPU time as evidence', () => {
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } }, { workers: [worker(0, { cpuMsPerSecond: 940 })] })
    const [f] = diagnose(j.view(), j.history())
    expect(f).toMatchObject({ kind: 'bottleneck', operator: 'enrich', evidence: { threadBusyMsPerSecond: 970, threadCpuMsPerSecond: 940 } })
    expect(f.title).toBe('`enrich` is the bottleneck: it takes 880 of the 970 busy ms/s of worker 0, which has no time left')
  })

  it('judges the thread\'s CPU time over the window, not the last second alone', () => {
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } }, { workers: [worker(0, { cpuMsPerSecond: 0 })] })
    const history = j.history().map((s) => ({ ...s, workers: [{ worker: 0, cpuMsPerSecond: 900 }] }))
    const [f] = diagnose(j.view(), history)
    expect(f.evidence.threadCpuMsPerSecond).toBe(900)
    expect(f.title).not.toContain('on the CPU')
  })

  it('a source whose chain saturates its thread is that finding, not source-bound', () => {
    const chain = { task: 0, busy: 950 }
    const j = job({ source: chain, parse: chain, sink: chain }, { ids: ['source', 'parse', 'sink'] })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['bottleneck'])
    expect(findings[0].title).toMatch(/^worker 0 is saturated \(950 busy ms\/s\), 950 of them in the chain `source`, `parse` and `sink`/)
  })

  it('a job on one thread whose chain saturates it is told the job parallelism to run with, as an option and from code', () => {
    const chain = { task: 0, busy: 950 }
    const j = job({ source: chain, parse: chain, sink: chain }, { ids: ['source', 'parse', 'sink'], workerCount: 0 })
    const [f] = diagnose(j.view(), j.history())
    expect(f.recommendation).toBe('the job is CPU-bound on one thread: run it with `--parallelism 2` (from code, `run({ parallelism: 2, workers: 2 })`), which puts it on worker threads, or call `.disableChaining()` on the stream of its heaviest operator so that one gets its own task and its own busy time')
  })

  it('a saturated thread far off the CPU is said to be blocked', () => {
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } }, { workers: [worker(0, { cpuMsPerSecond: 150 })] })
    const [f] = diagnose(j.view(), j.history())
    expect(f.title).toContain('only 150 ms/s of it on the CPU, so synchronous calls block the thread')
  })
})
