import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { edge, job, kinds, only, type Overrides } from './test-support.ts'

describe('diagnose: watermarks', () => {
  it('names the idle source that holds the watermark and recommends an idle timeout', () => {
    const ids = ['source', 'clicks', 'parse', 'enrich', 'sink']
    const edges = [edge('source', 'parse'), edge('clicks', 'parse'), edge('parse', 'enrich'), edge('enrich', 'sink')]
    const j = job({ clicks: { out: 0, busy: 0 } }, { ids, edges })
    // `clicks` emitted nothing since its last watermark: everything below it lags one more second per second.
    const held = (s: number): Overrides => {
      const lagMs = 12_000 + s * 1000
      return { clicks: { lagMs }, parse: { lagMs }, enrich: { lagMs }, sink: { lagMs } }
    }
    const findings = diagnose(j.view(held(9)), j.history(10, held))
    expect(kinds(findings)).toEqual(['watermark-stalled'])
    const [f] = findings
    expect(f).toMatchObject({ severity: 'critical', operator: 'parse' })
    expect(f.evidence).toMatchObject({ heldBy: 'clicks', idleInput: 'source `clicks`', watermarkLagMs: 21_000, watermarkAdvanceMs: 0, alsoHeldBack: 'enrich, sink' })
    expect(f.title).toContain('`clicks`')
    expect(f.recommendation).toContain('idleTimeoutMs')
  })

  it('names an idle partition of a parallel source', () => {
    const held = (s: number): Overrides => {
      const lagMs = 15_000 + s * 1000
      return { source: { lagMs }, parse: { lagMs }, enrich: { lagMs }, sink: { lagMs } }
    }
    const j = job({ source: { parallelism: 2, subtasks: [{ out: 1000 }, { out: 0 }] } })
    const [f] = diagnose(j.view(held(9)), j.history(10, held))
    expect(f).toMatchObject({ kind: 'watermark-stalled', operator: 'source' })
    expect(f.evidence.idleInput).toBe('partition 1 of `source`')
  })

  it('an input that never emitted a watermark holds its consumer from the start', () => {
    const ids = ['source', 'clicks', 'parse', 'enrich', 'sink']
    const edges = [edge('source', 'parse'), edge('clicks', 'parse'), edge('parse', 'enrich'), edge('enrich', 'sink')]
    const never = { lagMs: null }
    const j = job({ clicks: { out: 0, busy: 0, ...never }, parse: never, enrich: never, sink: never }, { ids, edges })
    const [f] = diagnose(j.view(), j.history())
    expect(f).toMatchObject({ kind: 'watermark-stalled', severity: 'critical', operator: 'parse' })
    expect(f.evidence).toMatchObject({ heldBy: 'clicks', idleInput: 'source `clicks`' })
    expect(f.evidence.heldByInput).toBeUndefined() // `clicks` is the input itself
  })

  it('a watermark that advances but falls further behind is a warning', () => {
    const behind = (s: number): Overrides => {
      const lagMs = 12_000 + s * 500
      return { source: { lagMs }, parse: { lagMs }, enrich: { lagMs }, sink: { lagMs } }
    }
    const j = job()
    const [f] = diagnose(j.view(behind(9)), j.history(10, behind))
    expect(f).toMatchObject({ kind: 'watermark-stalled', severity: 'warning', operator: 'source' })
    expect(f.evidence).toMatchObject({ watermarkLagMs: 16_500, watermarkAdvanceMs: 4500 })
    expect(f.evidence.idleInput).toBeUndefined()
  })

  it('a lag that is high but steady is not reported', () => {
    const j = job({ parse: { lagMs: 30_000 }, enrich: { lagMs: 30_000 }, sink: { lagMs: 30_000 } })
    expect(only(diagnose(j.view(), j.history()), 'watermark-stalled')).toEqual([])
  })
})
