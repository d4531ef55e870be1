import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { edge, job, kinds, only } from './test-support.ts'

describe('diagnose: skew', () => {
  const edges = [edge('source', 'parse'), edge('parse', 'enrich', 'hash'), edge('enrich', 'sink')]
  const hotKeys = [
    { key: 'user-42', count: 5500, share: 0.55 }, { key: 'user-7', count: 500, share: 0.05 },
    { key: 'user-9', count: 300, share: 0.03 }, { key: 'user-1', count: 100, share: 0.01 },
  ]

  it('names the hot subtask and the top three hot keys', () => {
    const j = job({ enrich: { parallelism: 4, hotKeys, hotKeysSampled: 12_800, subtasks: [{ in: 700 }, { in: 100 }, { in: 100 }, { in: 100 }] } }, { edges })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['skew'])
    const [f] = findings
    expect(f).toMatchObject({ severity: 'warning', operator: 'enrich', action: null })
    expect(f.evidence).toMatchObject({ hotSubtask: 0, hotSubtaskRecordsInPerSecond: 700, medianRecordsInPerSecond: 100, hotSubtaskSharePercent: 70 })
    expect(f.evidence.hotKeys).toBe('`user-42` (55 %), `user-7` (5 %), `user-9` (3 %) of 12,800 sampled records')
    expect(f.evidence.hotKeysSampled).toBe(12_800)
    expect(f.title).toContain('`user-42` (55 %), `user-7` (5 %), `user-9` (3 %) of 12,800 sampled records')
    expect(f.recommendation).toMatch(/pre-aggregate.*salt the hot key `user-42`.*key by something finer/)
  })

  it('balanced subtasks are not skewed', () => {
    const j = job({ enrich: { parallelism: 4, subtasks: [{ in: 300 }, { in: 250 }, { in: 220 }, { in: 230 }] } }, { edges })
    expect(only(diagnose(j.view(), j.history()), 'skew')).toEqual([])
  })
})
