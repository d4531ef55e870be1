import { describe, expect, it } from 'vitest'
import type { JobView, OperatorView } from '../monitoring/types.ts'
import { progressLine, short, statusLine } from './monitoring.ts'

const source = (recordsOut: number): OperatorView => ({ id: 'src', kind: 'source', recordsOut } as OperatorView)
const view = (o: Partial<JobView>): JobView => ({ operators: [source(0)], recordsPerSecond: 0, uptimeMs: 0, latency: null, topFinding: null, ...o } as JobView)

describe('CLI progress and status lines', () => {
  it('a progress bar shows done/total, the rate and the time left', () => {
    const line = progressLine(view({ operators: [source(6_100_000)], recordsPerSecond: 2_000_000 }), 10_000_000)
    expect(line).toBe('[███████████████░░░░░░░░░] 61% 6.1M/10.0M records, 2.0M/s, ETA 2 s')
    expect(progressLine(view({ operators: [source(0)] }), 100)).toBe('[░░░░░░░░░░░░░░░░░░░░░░░░] 0% 0/100 records, 0/s, ETA -')
    expect(progressLine(view({ operators: [source(150)], recordsPerSecond: 10 }), 100)).toMatch(/^\[█{24}\] 100% 100\/100 records/)
  })

  it('a status line shows uptime, rate, total, p99 and a finding that is not "healthy"', () => {
    const finding = { kind: 'bottleneck', severity: 'critical', title: '`enrich` is the bottleneck' } as JobView['topFinding']
    const line = statusLine(view({ uptimeMs: 65_000, recordsPerSecond: 1_234_567, operators: [source(80_000_000)], latency: { p50: 1, p90: 2, p99: 12.34, max: 20, count: 9 }, topFinding: finding }))
    expect(line).toBe('   65 s     1.2M records/s  total 80.0M  p99 12.3 ms  critical: `enrich` is the bottleneck')
    expect(statusLine(view({ topFinding: { ...(finding as NonNullable<JobView['topFinding']>), kind: 'healthy' } }))).not.toMatch(/healthy/)
  })

  it('shortens numbers', () => {
    expect([short(999), short(12_345), short(2_500_000), short(3e9)]).toEqual(['999', '12K', '2.5M', '3.0G'])
  })
})
