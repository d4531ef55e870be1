import { describe, expect, it } from 'vitest'
import { diagnose } from './diagnosis.ts'
import { job, kinds, SLOW_ENRICH, worker } from './diagnosis/test-support.ts'

describe('diagnose: overall', () => {
  it('a healthy job gets exactly one healthy finding with its throughput and p99', () => {
    const j = job()
    const findings = diagnose(j.view(), j.history())
    expect(findings).toHaveLength(1)
    expect(findings[0]).toMatchObject({ kind: 'healthy', severity: 'info', operator: null, action: null })
    expect(findings[0].evidence).toMatchObject({ recordsPerSecond: 1000, latencyP99Ms: 45, busiestOperator: 'source', busiestBusyMsPerSecond: 200 })
  })

  it('a job without history is still answered', () => {
    const j = job()
    expect(kinds(diagnose(j.view(), []))).toEqual(['healthy'])
  })

  it('sorts findings most severe first, then by how far past the threshold', () => {
    const j = job(
      { ...SLOW_ENRICH, parse: { ...SLOW_ENRICH.parse, errors: 6, skipped: 6 } },
      { workers: [worker(0, { gcPauseMsPerSecond: 300 }), worker(1, { gcPauseMsPerSecond: 600 })] },
    )
    const findings = diagnose(j.view(), j.history())
    expect(findings.map((f) => [f.kind, f.severity])).toEqual([
      ['bottleneck', 'critical'], ['gc', 'warning'], ['gc', 'warning'], ['errors', 'warning'],
    ])
    expect(findings.filter((f) => f.kind === 'gc').map((f) => f.evidence.worker)).toEqual([1, 0])
  })

  it('gives every evidence item a label in words and a unit, never a raw key', () => {
    const j = job(
      { ...SLOW_ENRICH, parse: { ...SLOW_ENRICH.parse, errors: 6, skipped: 6 } },
      { workers: [worker(-1, { gcPauseMsPerSecond: 600, eventLoopDelayP99Ms: 400 })] },
    )
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(expect.arrayContaining(['bottleneck', 'gc', 'event-loop', 'errors']))
    for (const f of findings) {
      expect(f.evidenceText?.map((e) => e.key)).toEqual(Object.keys(f.evidence))
      for (const e of f.evidenceText ?? []) expect(e.label, e.key).not.toMatch(/[a-z][A-Z]/)
    }
    const gc = findings.find((f) => f.kind === 'gc')
    expect(gc?.evidenceText?.slice(0, 2)).toEqual([
      { key: 'worker', label: 'thread', text: 'main thread' },
      { key: 'gcPauseMsPerSecond', label: 'garbage collection', text: '600 ms/s' },
    ])
  })
})
