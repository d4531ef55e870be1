import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { job, kinds, only, type Overrides } from './test-support.ts'

// `translate` calls a service with 64 calls in flight; the sink is chained into its task, so it
// shares the task's waiting time; the source, in its own task, is backpressured.
const IDS = { ids: ['source', 'translate', 'sink'] }
const SLOW: Overrides = {
  source: { busy: 40, bp: 900 },
  translate: { task: 1, busy: 30, wait: 920, calls: { full: 0.95, concurrency: 64, inFlight: 64, p99: 840, callsPerSecond: 76 } },
  sink: { task: 1, busy: 30, wait: 920 },
}

describe('diagnose: a slow service', () => {
  it('names the operator waiting on its calls, with p99 and slots in flight, and what to raise', () => {
    const j = job(SLOW, IDS)
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['slow-service'])
    const [f] = findings
    expect(f).toMatchObject({ severity: 'critical', operator: 'translate', action: null })
    expect(f.title).toBe('`translate` waits on its calls: p99 840 ms, 64 of 64 in flight: raise concurrency (now 64) or batch size; `source` upstream is backpressured')
    expect(f.recommendation).toBe('give `translate` more calls in flight at once (`{ concurrency: 128 }` in the options of `translate`, now 64 per subtask) or fewer, larger calls, if the service takes batches (`.mapAsyncBatch()` with `{ maxBatch: 100 }`): the service\'s latency is the limit, so more CPU or threads will not help')
    expect(f.evidence).toEqual({
      callLatencyP99Ms: 840, callsInFlight: 64, callCapacity: 64, callsFullPercent: 95, waitingMsPerSecond: 920, callsPerSecond: 76, concurrency: 64,
      backpressuredUpstream: 'source', parallelism: 1,
    })
    expect(f.evidenceText?.find((e) => e.key === 'callsFullPercent')).toEqual({ key: 'callsFullPercent', label: 'time every call slot was in use', text: '95 %' })
  })

  it('a batched operator is told about maxBatch, and timeouts and failures are named', () => {
    const j = job({ ...SLOW, translate: { ...SLOW.translate, parallelism: 2, calls: { full: 0.9, concurrency: 8, maxBatch: 100, inFlight: 16, p99: 2400, timeouts: 12, failures: 3 } } }, IDS)
    const [f] = only(diagnose(j.view(), j.history()), 'slow-service')
    expect(f.title).toBe('`translate` waits on its calls: p99 2.4 s, 16 of 16 in flight, 12 timeouts/s, 3 failed records/s: raise concurrency (now 8) or maxBatch (now 100); `source` upstream is backpressured')
    expect(f.recommendation).toMatch(/`\{ concurrency: 16 \}` .* or more records per call \(`\{ maxBatch: 200 \}`, now 100\): .*; it already times out and fails \(12 timeouts\/s, 3 failed records\/s\), so first check that the service can take more load$/)
    expect(f.evidence).toMatchObject({ maxBatch: 100, callTimeoutsPerSecond: 12, callFailuresPerSecond: 3, callCapacity: 16, parallelism: 2 })
  })

  it('a stalled service (no call ends) is named too', () => {
    const j = job({ ...SLOW, translate: { ...SLOW.translate, wait: 1000, calls: { full: 1, concurrency: 64, inFlight: 64, p99: null, callsPerSecond: 0 } } }, IDS)
    const [f] = only(diagnose(j.view(), j.history()), 'slow-service')
    expect(f.title).toMatch(/^`translate` waits on its calls: no call ended in the last 10 s, 64 of 64 in flight:/)
    expect(f.evidence.callLatencyP99Ms).toBeUndefined()
  })

  it('is not reported unless full in at least half of the window, and on average', () => {
    const j = job(SLOW, IDS)
    const calls = SLOW.translate.calls
    // Full (0.95) in 4 of 10 samples, 0.3 in the rest: below 0.8 on average and in most samples.
    const history = j.history(10, (s): Overrides => (s % 5 < 2 ? {} : { translate: { calls: { ...calls, full: 0.3 } } }))
    expect(kinds(diagnose(j.view(), history))).not.toContain('slow-service')
  })

  it('is not reported for a full operator whose task does not wait (the service keeps up)', () => {
    const j = job({ ...SLOW, source: { busy: 40 }, translate: { ...SLOW.translate, wait: 200 }, sink: { task: 1, busy: 30, wait: 200 } }, IDS)
    expect(kinds(diagnose(j.view(), j.history()))).toEqual(['healthy'])
  })

  it('without backpressure upstream it is a warning', () => {
    const j = job({ ...SLOW, source: { busy: 40 } }, IDS)
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['slow-service'])
    expect(findings[0].severity).toBe('warning')
    expect(findings[0].title).toMatch(/: raise concurrency \(now 64\) or batch size$/)
  })

  it('is not mistaken for an I/O-bound sink, a source-bound job, or a bottleneck past it', () => {
    // The source reads hard and `count` (its own task) is busy: without the rule the sink sharing
    // translate's task would be I/O-bound, the source source-bound, and `count` the bottleneck.
    const ids = { ids: ['source', 'translate', 'count', 'sink'] }
    const j = job({ source: { busy: 10, bp: 900 }, translate: { ...SLOW.translate, busy: 10 }, count: { task: 2, busy: 820 }, sink: { task: 2, busy: 820 } }, ids)
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['slow-service'])
    const busySource = job({ source: { busy: 900 }, translate: SLOW.translate, sink: SLOW.sink }, IDS)
    expect(kinds(diagnose(busySource.view(), busySource.history()))).toEqual(['slow-service'])
  })

  it('an operator that makes no calls and waits is left to the other rules', () => {
    const j = job({ ...SLOW, translate: { task: 1, busy: 30, wait: 920 } }, IDS)
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).not.toContain('slow-service')
    expect(kinds(findings)).toContain('io-bound')
  })
})
