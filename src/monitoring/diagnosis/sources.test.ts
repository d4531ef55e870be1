import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import type { ConnectionView, JobView, PartitionView, Sample, SourceProgressView } from '../types.ts'
import { job, kinds, only, SLOW_ENRICH, T0 } from './test-support.ts'

// ---- brokers: lag per partition and connection state

/** A source `source` reading `partitions` partitions; `lags[s]` is the total lag at second s. */
function withLag(view: JobView, history: Sample[], lags: readonly number[], partitions = 4, connections: ConnectionView[] = []): { view: JobView; history: Sample[] } {
  const last = lags[lags.length - 1]
  const rate = (last - lags[0]) / (lags.length - 1)
  const parts: PartitionView[] = Array.from({ length: partitions }, (_, i) => ({
    partition: `orders/${i}`, subtask: 0, position: `offset ${1000 * i}`,
    // Partition 3 carries half the lag.
    lag: i === 3 ? last / 2 : last / 2 / (partitions - 1), lagPerSecond: i === 3 ? rate / 2 : rate / 2 / (partitions - 1),
  }))
  const source: SourceProgressView = { source: 'source', kind: 'kafka', lag: last, lagPerSecond: rate, windowSeconds: lags.length - 1, partitionCount: partitions, worst: parts[3], partitions: parts }
  return {
    view: { ...view, sources: [source], connections },
    history: history.map((s, i) => ({ ...s, sources: { source: { lag: lags[i] ?? null, lagPerSecond: null } } })),
  }
}

const growing = (perSecond: number, from = 5000): number[] => Array.from({ length: 10 }, (_, s) => from + perSecond * s)

function connection(o: Partial<ConnectionView> = {}): ConnectionView {
  return { connector: 'source', kind: 'kafka', role: 'source', subtask: 0, state: 'connected', lastError: null, since: T0, ...o }
}

describe('diagnose: source lag', () => {
  it('a lag that grows is "falling behind" and names the bottleneck the other rules found', () => {
    const j = job(SLOW_ENRICH)
    const { view, history } = withLag(j.view(), j.history(), growing(12_000))
    const findings = diagnose(view, history)
    const [lag] = only(findings, 'source-lag')
    expect(lag.title).toBe('the job is falling behind `source`: lag +12 k records/s (113 k records behind, most in `orders/3`); the bottleneck is `enrich` (busy 950 ms/s while `source` and `parse` upstream are backpressured)')
    expect(lag).toMatchObject({ severity: 'warning', operator: 'source', action: null })
    expect(lag.evidence).toMatchObject({ lag: 113_000, lagGrowthRecordsPerSecond: 12_000, windowSeconds: 9, partitions: 4, worstPartition: 'orders/3', worstPartitionLag: 56_500, bottleneck: 'enrich' })
    // What to do is the bottleneck's remedy.
    expect(lag.recommendation).toBe(only(findings, 'bottleneck')[0].recommendation)
    // The bottleneck (critical) still comes first.
    expect(findings[0].kind).toBe('bottleneck')
  })

  it('names a slow service as the cause when an operator waits on its calls', () => {
    const j = job({
      source: { busy: 40, bp: 900 },
      translate: { task: 1, busy: 30, wait: 920, calls: { full: 0.95, concurrency: 64, inFlight: 64, p99: 840 } },
      sink: { task: 1, busy: 30, wait: 920 },
    }, { ids: ['source', 'translate', 'sink'] })
    const { view, history } = withLag(j.view(), j.history(), growing(2000))
    const findings = diagnose(view, history)
    const [lag] = only(findings, 'source-lag')
    expect(lag.title).toMatch(/; the bottleneck: `translate` waits on its calls: p99 840 ms, 64 of 64 in flight: /)
    expect(lag.recommendation).toBe(only(findings, 'slow-service')[0].recommendation)
  })

  it('without a bottleneck, says the source fetches too slowly and recommends a subtask per partition', () => {
    const j = job()
    const { view, history } = withLag(j.view(), j.history(), growing(300), 8)
    const [lag] = only(diagnose(view, history), 'source-lag')
    expect(lag.title).toBe('the job is falling behind `source`: lag +300 records/s (7.7 k records behind, most in `orders/3`); no operator is busy or backpressured, so the records arrive faster than `source` fetches them')
    expect(lag.recommendation).toBe('read `source` with more subtasks: raise its parallelism from 1 to 2 (`.parallelism(2)` on the stream of `source`; at most one per partition, 8)')
  })

  it('a reconnecting reader is the cause of its own lag, with its last error', () => {
    const j = job()
    const down = connection({ state: 'reconnecting', lastError: 'connect ECONNREFUSED 127.0.0.1:9092', since: T0 + 46_000 })
    const { view, history } = withLag(j.view(), j.history(), growing(500), 4, [down])
    const findings = diagnose(view, history)
    expect(only(findings, 'source-lag')[0].title).toMatch(/; its reader is reconnecting \(connect ECONNREFUSED 127\.0\.0\.1:9092\)$/)
    expect(kinds(findings)).toContain('connection')
  })

  it('a lag that is high but steady, or shrinking, is not reported', () => {
    const j = job()
    const steady = withLag(j.view(), j.history(), Array.from({ length: 10 }, (_, s) => 90_000 + (s % 2) * 400))
    expect(kinds(diagnose(steady.view, steady.history))).toEqual(['healthy'])
    const catchingUp = withLag(j.view(), j.history(), growing(-2000, 50_000))
    expect(kinds(diagnose(catchingUp.view, catchingUp.history))).toEqual(['healthy'])
  })

  it('a lag known only every few seconds (a reader that polls the end) still counts as growing', () => {
    const j = job()
    const stepped = [1000, 1000, 1000, 4000, 4000, 4000, 7000, 7000, 7000, 10_000]
    const { view, history } = withLag(j.view(), j.history(), stepped)
    expect(only(diagnose(view, history), 'source-lag')[0].evidence.lagGrowthRecordsPerSecond).toBe(1000)
  })

  it('one jump in an otherwise flat lag is not falling behind; too few samples say nothing', () => {
    const j = job()
    const jump = withLag(j.view(), j.history(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 5000])
    expect(kinds(diagnose(jump.view, jump.history))).toEqual(['healthy'])
    const short = withLag(j.view(), j.history(2), [0, 50_000])
    expect(kinds(diagnose(short.view, short.history))).toEqual(['healthy'])
  })

  it('a job that is not running has no lag finding', () => {
    const j = job()
    const { view, history } = withLag(j.view(), j.history(), growing(1000))
    expect(kinds(diagnose({ ...view, status: 'finished' }, history))).toEqual(['healthy'])
  })
})

describe('diagnose: connections', () => {
  it('a reconnecting connector is a warning with how long and its last error, credentials masked', () => {
    const j = job()
    const view = { ...j.view(), connections: [
      connection({ connector: 'sink', role: 'sink', kind: 'postgres', subtask: 0, state: 'reconnecting', since: T0 + 46_000, lastError: 'connect ECONNREFUSED postgres://app:s3cret@db:5432/test' }),
      connection({ connector: 'sink', role: 'sink', kind: 'postgres', subtask: 1 }),
    ] }
    const [f] = only(diagnose(view, j.history()), 'connection')
    expect(f.title).toBe('the sink `sink` (postgres) is reconnecting to its server (subtask 0 of 2) for 14 s: connect ECONNREFUSED postgres://app:***@db:5432/test')
    expect(f).toMatchObject({ severity: 'warning', operator: 'sink', action: null })
    expect(f.evidence).toEqual({ state: 'reconnecting', kind: 'postgres', subtasksDown: 1, subtasks: 2, forSeconds: 14, lastError: 'connect ECONNREFUSED postgres://app:***@db:5432/test' })
    expect(JSON.stringify(f)).not.toContain('s3cret')
  })

  it('a connector that gave up is critical and says to fix the cause and restart', () => {
    const j = job()
    const view = { ...j.view(), connections: [connection({ state: 'failed', since: T0 - 60_000, lastError: 'SASL authentication failed' })] }
    const findings = diagnose(view, j.history())
    expect(findings[0]).toMatchObject({ kind: 'connection', severity: 'critical', operator: 'source' })
    expect(findings[0].title).toBe('the source `source` (kafka) has lost its server and stopped retrying for 2 min: SASL authentication failed')
    expect(findings[0].recommendation).toMatch(/^fix what the last error names/)
  })

  it('connected connectors say nothing', () => {
    const j = job()
    expect(kinds(diagnose({ ...j.view(), connections: [connection(), connection({ subtask: 1 })] }, j.history()))).toEqual(['healthy'])
  })
})
