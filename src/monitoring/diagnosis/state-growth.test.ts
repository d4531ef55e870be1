import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { job, kinds, only, type Overrides } from './test-support.ts'

describe('diagnose: state growth', () => {
  it('reports state that grows steadily', () => {
    const j = job({ enrich: { state: 108_000 } })
    const findings = diagnose(j.view(), j.history(30, (s) => ({ enrich: { state: 50_000 + s * 2000 } })))
    expect(kinds(findings)).toEqual(['state-growth'])
    expect(findings[0]).toMatchObject({ severity: 'warning', operator: 'enrich' })
    expect(findings[0].evidence).toMatchObject({ stateGrowthEntriesPerSecond: 2000, stateGrowthPercent: 116, stateEntries: 108_000 })
    expect(findings[0].title).toContain('2000 entries/s')
    expect(findings[0].recommendation).toContain('TTL')
  })

  it('is not judged before 30 s of history: a young windowed job grows until its first window closes', () => {
    const j = job({ enrich: { state: 68_000 } })
    expect(only(diagnose(j.view(), j.history(29, (s) => ({ enrich: { state: 50_000 + s * 2000 } }))), 'state-growth')).toEqual([])
  })

  it('state that windows clear (a saw-tooth) is not growth', () => {
    const j = job()
    const sawTooth = (s: number): Overrides => ({ enrich: { state: 20_000 + (s % 5) * 8000 } })
    expect(only(diagnose(j.view(), j.history(30, sawTooth)), 'state-growth')).toEqual([])
  })
})
