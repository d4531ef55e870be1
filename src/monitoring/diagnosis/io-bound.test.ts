import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { job, kinds, only, worker } from './test-support.ts'

describe('diagnose: waiting on I/O', () => {
  // Defect 8's job: `gen` chained into `db` on the main thread, the sink awaiting 10 ms per batch.
  const SLOW_DB = job(
    { gen: { kind: 'source', task: 0, busy: 30, wait: 960 }, db: { kind: 'sink', task: 0, busy: 30, wait: 960 } },
    { ids: ['gen', 'db'], workerCount: 0, workers: [worker(-1, { cpuMsPerSecond: 210 })] },
  )

  it('a sink awaiting its writes is I/O-bound, not a saturated thread or source-bound (defect 8)', () => {
    const findings = diagnose(SLOW_DB.view(), SLOW_DB.history())
    expect(kinds(findings)).toEqual(['io-bound'])
    const [f] = findings
    expect(f).toMatchObject({ severity: 'critical', operator: 'db', action: { kind: 'set-parallelism', operator: 'db', parallelism: 2 } })
    expect(f.title).toBe('the sink `db` waits on I/O 96 % of the time (960 ms/s awaiting its writes, 30 ms/s busy on its thread), so it cannot take records faster')
    expect(f.recommendation).toMatch(/^batch its writes \(fewer, larger requests\) or raise its parallelism from 1 to 2/)
    expect(f.evidence).toMatchObject({ waitingMsPerSecond: 960, waitingPercent: 96, busyMsPerSecond: 30, parallelism: 1, recommendedParallelism: 2 })
    expect(JSON.stringify(findings)).not.toMatch(/saturated|source-bound/)
  })

  it('names the waiting sink behind a backpressured upstream', () => {
    const j = job({ source: { bp: 800 }, parse: { bp: 800 }, enrich: { bp: 750 }, sink: { busy: 20, wait: 930 } })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['io-bound'])
    expect(findings[0].title).toContain('while `source`, `parse` and `enrich` upstream are backpressured')
    expect(findings[0].evidence.backpressuredUpstream).toBe('source, parse, enrich')
  })

  it('a sink waiting half the time with time to spare is information, with no action', () => {
    const j = job({ sink: { busy: 20, wait: 600 } })
    const [f] = only(diagnose(j.view(), j.history()), 'io-bound')
    expect(f).toMatchObject({ severity: 'info', operator: 'sink', action: null })
    expect(f.title).toMatch(/waits on I\/O 60 % of the time .*with time to spare$/)
  })

  it('a source awaiting its reads is I/O-bound on the source', () => {
    const j = job({ source: { busy: 40, wait: 900 } })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['io-bound'])
    expect(findings[0].operator).toBe('source')
    expect(findings[0].title).toMatch(/^the source `source` waits on I\/O 90 % of the time \(900 ms\/s awaiting its reads/)
    expect(findings[0].recommendation).toMatch(/read bigger batches.*splittable/)
  })
})
