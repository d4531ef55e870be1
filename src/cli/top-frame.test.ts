import { describe, expect, it } from 'vitest'
import type { CallsView, JobView, OperatorView } from '../monitoring/types.ts'
import { stripAnsi } from './ansi.ts'
import { renderTop } from './top-frame.ts'

function operator(id: string, calls: CallsView | null): OperatorView {
  return {
    id, label: 'map', kind: 'operator', parallelism: 2, task: 0, state: 'waiting', hotKeys: null, subtasks: [], calls,
    recordsIn: 0, recordsOut: 0, recordsInPerSecond: 76, recordsOutPerSecond: 76, bytesInPerSecond: 0, bytesOutPerSecond: 0,
    busyMsPerSecond: 20, waitingMsPerSecond: 930, backpressuredMsPerSecond: 0, idleMsPerSecond: 50, busyMs: 0, waitingMs: 0, backpressuredMs: 0, idleMs: 0,
    inputQueueUsage: null, outputQueueUsage: null, watermark: null, watermarkLagMs: null, lateRecords: 0, skippedRecords: 0, deadLetteredRecords: 0, errors: 0,
    stateEntries: 0, stateBytes: 0, pendingTimers: 0, latency: null,
  }
}

const calls = (o: Partial<CallsView> = {}): CallsView => ({
  callsPerSecond: 76, recordsPerSecond: 76, inFlight: 64, capacity: 64, concurrency: 32, maxBatch: 1, held: 70, fullRatio: 0.95,
  timeoutsPerSecond: 0, retriesPerSecond: 0, failuresPerSecond: 0, calls: 4000, timeouts: 0, retries: 0, failures: 0,
  cacheHitRatio: null, cacheEntries: 0, latency: { p50: 400, p90: 700, p99: 840, max: 900, count: 760 }, ...o,
})

function jobView(operators: OperatorView[]): JobView {
  return {
    t: 1_767_225_665_400, checkpoints: null, id: 'translate', name: 'translate', status: 'running', startedAt: 1_767_225_600_000, uptimeMs: 65_400,
    parallelism: 2, workerCount: 0, recordsPerSecond: 76, latency: null, topFinding: null,
    graph: { nodes: [], edges: [] }, operators, workers: [], alerts: [], sources: [], connections: [],
  }
}

describe('renderTop: asynchronous operators', () => {
  it('shows a calls line per asynchronous operator: rate, in flight of the slots, full share, p99', () => {
    const lines = renderTop(jobView([operator('parse', null), operator('translate', calls())]), { width: 120, color: false })
    expect(lines.filter((l) => l.startsWith('calls '))).toEqual(['calls translate  76/s  64/64 in flight  full 95%  p99 840ms'])
  })

  it('adds the batch size, timeouts, failures and the cache hit ratio when there are some', () => {
    const c = calls({ maxBatch: 100, timeoutsPerSecond: 12.34, failuresPerSecond: 0.25, cacheHitRatio: 0.873, fullRatio: 0.5, latency: null })
    const [line] = renderTop(jobView([operator('lookup', c)]), { width: 160, color: true }).filter((l) => stripAnsi(l).startsWith('calls '))
    expect(stripAnsi(line)).toBe('calls lookup  76/s  64/64 in flight  full 50%  p99 -  batch ≤100  12 timeouts/s  0.3 failed/s  cache 87% hits')
  })
})
