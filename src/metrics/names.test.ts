import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { METRICS, seriesNames } from './names.ts'

const doc = readFileSync(new URL('../../docs/METRICS.md', import.meta.url), 'utf8')
/** The page without its list of renamed and removed series (which names the old ones). */
const current = doc.replace(/\n## Renamed and removed series\n[\s\S]*?(?=\n## )/, '\n')

describe('metric names', () => {
  it('follow the Prometheus conventions: sluice_ prefix, snake case, base units, counters end in _total', () => {
    for (const m of METRICS) {
      expect(m.name).toMatch(/^sluice_[a-z0-9_]+$/)
      expect(m.name.endsWith('_total'), m.name).toBe(m.type === 'counter')
      expect(m.name, m.name).not.toMatch(/_(ms|milliseconds|microseconds|minutes|hours|kilobytes|megabytes)(_|$)/)
      if (m.type === 'histogram') expect(m.name, m.name).toMatch(/_seconds$/)
      expect(m.labels, m.name).not.toContain('le')
      expect(m.help, m.name).toMatch(/^[A-Z0-9].*\.$/)
    }
    expect(new Set(METRICS.map((m) => m.name)).size).toBe(METRICS.length)
  })

  it('docs/METRICS.md lists every metric in a table, and names no other', () => {
    for (const m of METRICS) expect(current, m.name).toMatch(new RegExp(`^\\| [^|]*\`${m.name}(\\{[^}]*\\})?\``, 'm'))
    const known = new Set(METRICS.flatMap(seriesNames).concat(METRICS.map((m) => m.name)))
    const named = [...current.matchAll(/\bsluice_[a-z0-9_]+\b/g)].map((x) => x[0])
    expect(named.length).toBeGreaterThan(METRICS.length)
    expect(named.filter((n) => !known.has(n))).toEqual([])
  })

  it('docs/METRICS.md lists each renamed or removed series with what replaced it', () => {
    const renamed = doc.slice(doc.indexOf('## Renamed and removed series'))
    for (const gone of ['sluice_busy_ratio', 'sluice_exchange_in_bytes_per_second', 'sluice_job_records_per_second', 'sluice_gc_pause_ratio', 'sluice_latency_p50_seconds']) {
      expect(renamed).toContain(gone)
    }
  })
})
