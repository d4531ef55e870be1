import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { job, kinds } from './test-support.ts'

describe('diagnose: sources', () => {
  it('a busy source with nothing busy or backpressured downstream is source-bound', () => {
    const j = job({ source: { busy: 920 } })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['source-bound'])
    expect(findings[0]).toMatchObject({ severity: 'info', operator: 'source', action: null })
    expect(findings[0].title).toContain('source-bound')
    expect(findings[0].evidence.busyMsPerSecond).toBe(920)
    expect(findings[0].recommendation).toMatch(/splittable.*from 1 to 2.*faster source/)
  })

  it('a slow, mostly idle source is not a problem', () => {
    const j = job({ source: { busy: 20, out: 5 }, parse: { busy: 5, in: 5, out: 5 }, enrich: { busy: 5, in: 5, out: 5 }, sink: { busy: 5, in: 5 } })
    expect(kinds(diagnose(j.view(), j.history()))).toEqual(['healthy'])
  })
})
