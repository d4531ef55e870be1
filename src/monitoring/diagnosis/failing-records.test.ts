import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { job, kinds } from './test-support.ts'

describe('diagnose: failing records', () => {
  it('reports dead-lettered records per second and points at the dead-letter output', () => {
    const j = job({ parse: { errors: 300, deadLettered: 300 } }, { uptimeMs: 60_000 })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['errors'])
    expect(findings[0]).toMatchObject({ severity: 'warning', operator: 'parse' })
    expect(findings[0].evidence).toMatchObject({ deadLetteredRecords: 300, failedPerSecond: 5 })
    expect(findings[0].title).toContain('`parse` dead-lettered 300 records')
    expect(findings[0].recommendation).toContain('dead-letter output')
  })
})
