import { describe, expect, it } from 'vitest'
import { CallMetrics } from '../metrics/call-metrics.ts'
import type { JobMetrics, OperatorMetricsSnapshot } from '../metrics/task-metrics.ts'
import { callsView } from './calls-view.ts'

function row(operator: string, subtask: number, calls?: CallMetrics, now = 0): OperatorMetricsSnapshot {
  return {
    operator, task: operator, subtask, recordsIn: 0, recordsOut: 0, errors: 0, skipped: 0, deadLettered: 0, lateDropped: 0, sideOutputDropped: 0,
    stateEntries: 0, stateBytes: 0, pendingTimers: 0, ...(calls === undefined ? {} : { calls: calls.snapshot(now) }),
  }
}

const metrics = (...operators: OperatorMetricsSnapshot[]): JobMetrics => ({ operators, tasks: [] })

/** Adds `n` finished calls of `ms` each, `records` records per call. */
function call(m: CallMetrics, n: number, ms: number, records = 1): void {
  for (let i = 0; i < n; i++) m.latency.record(ms)
  m.calls += n
  m.succeeded += n
  m.callRecords += n * records
}

describe('callsView', () => {
  it('is null for an operator that makes no calls', () => {
    expect(callsView('map', metrics(row('map', 0)), null, null, 1)).toBeNull()
  })

  it('sums rates and gauges over subtasks; full is the fullest subtask; percentiles over the window', () => {
    const a = new CallMetrics(64, 1)
    const b = new CallMetrics(64, 1)
    call(a, 100, 5)
    const oldest = metrics(row('translate', 0, a, 0), row('translate', 1, b, 0))
    call(a, 100, 40)
    const prev = metrics(row('translate', 0, a, 1000), row('translate', 1, b, 1000))
    // The last second: subtask 0 makes 200 calls of 800 ms, full for 900 ms; subtask 1 makes 50 calls, full 200 ms.
    call(a, 200, 800)
    a.setInFlight(64, 1000)
    a.setInFlight(63, 1900)
    a.timeouts += 12
    a.retries += 6
    a.failures += 3
    a.held = 70
    call(b, 50, 800)
    b.setInFlight(64, 1100)
    b.setInFlight(10, 1300)
    b.held = 12
    const cur = metrics(row('map', 0), row('translate', 0, a, 2000), row('translate', 1, b, 2000))
    const v = callsView('translate', cur, prev, oldest, 1)
    expect(v).toMatchObject({
      callsPerSecond: 250, recordsPerSecond: 250, inFlight: 73, capacity: 128, concurrency: 64, maxBatch: 1, held: 82,
      fullRatio: 0.9, timeoutsPerSecond: 12, retriesPerSecond: 6, failuresPerSecond: 3,
      calls: 450, timeouts: 12, retries: 6, failures: 3, cacheHitRatio: null, cacheEntries: 0,
    })
    // The window starts at `oldest`: the first 100 calls (5 ms) are out of it; 100 of 40 ms and 250 of 800 ms are in.
    expect(v?.latency?.count).toBe(350)
    expect(v?.latency?.p50).toBeGreaterThan(700)
    expect(v?.latency?.p50).toBeLessThan(900)
  })

  it('a subtask still full at the sample counts the time up to it', () => {
    const a = new CallMetrics(8, 100)
    const prev = metrics(row('enrich', 0, a, 0))
    a.setInFlight(8, 500)
    const v = callsView('enrich', metrics(row('enrich', 0, a, 1000)), prev, prev, 1)
    expect(v).toMatchObject({ fullRatio: 0.5, inFlight: 8, capacity: 8, maxBatch: 100, latency: null })
  })

  it('gives the cache hit ratio over the window when there were lookups, and counts from zero after a restart', () => {
    const before = new CallMetrics(4, 100)
    before.calls = 500
    before.cacheHits = 900
    before.cacheMisses = 100
    const oldest = metrics(row('lookup', 0, before, 0))
    const after = new CallMetrics(4, 100)
    after.calls = 20
    after.cacheHits = 30
    after.cacheMisses = 10
    after.cacheEntries = 10
    call(after, 3, 2)
    const v = callsView('lookup', metrics(row('lookup', 0, after, 0)), oldest, oldest, 1)
    expect(v).toMatchObject({ cacheHitRatio: 0.75, cacheEntries: 10, callsPerSecond: 0 })
    expect(v?.latency?.count).toBe(3)
  })
})
