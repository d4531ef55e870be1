// docs/grafana/sluice-dashboard.json: well-formed, every query parses as PromQL (promtool) and
// names only series /metrics writes (src/metrics/names.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { METRICS, seriesNames } from '../src/metrics/names.ts'
import { promtoolCheckExpressions } from './support/promtool.ts'

interface Target { expr: string; refId: string; datasource: { uid: string } }
interface Panel { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { type: string; uid: string }; targets?: Target[]; panels?: Panel[] }
interface Dashboard { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; type: string; query: string | { query: string }; datasource?: { uid: string } }[] } }

const file = new URL('../docs/grafana/sluice-dashboard.json', import.meta.url)
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Dashboard
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])])
const queries = panels.filter((p) => p.type !== 'row')
const exprs = queries.flatMap((p) => p.targets ?? []).map((t) => t.expr)
const known = new Set(METRICS.flatMap(seriesNames))

/** The series an expression reads (PromQL functions and keywords are not sluice_ names). */
const seriesIn = (expr: string): string[] => [...expr.matchAll(/\bsluice_[a-z0-9_]+\b/g)].map((m) => m[0])

describe('the Grafana dashboard', () => {
  it('is a dashboard with a uid, unique panel ids, panels within the 24-column grid, each query on the chosen data source', () => {
    expect(dashboard).toMatchObject({ uid: 'sluice-overview', title: 'Sluice' })
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length)
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24)
      expect(p.gridPos.h, p.title).toBeGreaterThan(0)
    }
    expect(queries.length).toBeGreaterThanOrEqual(20)
    for (const p of queries) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' })
      const targets = p.targets ?? []
      expect(targets.length, p.title).toBeGreaterThan(0)
      expect(new Set(targets.map((t) => t.refId)).size, p.title).toBe(targets.length)
      for (const t of targets) expect(t.datasource.uid, p.title).toBe('${datasource}')
    }
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([['datasource', 'datasource'], ['job', 'query']])
  })

  it('queries only series that /metrics writes, and covers the ones the issue asks for', () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'job')
    const used = [...exprs, typeof variable?.query === 'object' ? variable.query.query : String(variable?.query)].flatMap(seriesIn)
    for (const e of exprs) expect(seriesIn(e).length, e).toBeGreaterThan(0)
    expect(used.filter((n) => !known.has(n))).toEqual([])
    for (const needed of ['sluice_records_in_total', 'sluice_records_out_total', 'sluice_task_busy_seconds_total', 'sluice_task_backpressured_seconds_total', 'sluice_task_idle_seconds_total',
      'sluice_end_to_end_latency_seconds_bucket', 'sluice_source_lag_records', 'sluice_checkpoint_duration_seconds_bucket', 'sluice_checkpoints_failed_total',
      'sluice_dead_lettered_records_total', 'sluice_connector_up']) {
      expect(used, needed).toContain(needed)
    }
    // Quantiles come from histograms, summed by le before histogram_quantile.
    for (const e of exprs.filter((x) => x.includes('histogram_quantile'))) expect(e).toMatch(/histogram_quantile\(0\.\d+, sum by \(([a-z]+, )*le\) \(rate\(sluice_\w+_bucket\{/)
  })

  it('every query parses as PromQL (promtool check rules, Grafana variables replaced)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-grafana-'))
    try {
      const plain = exprs.map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$job', '.+'))
      for (const e of plain) expect(e).not.toContain('$')
      const check = promtoolCheckExpressions(plain, join(dir, 'rules.json'))
      expect(check.output).toMatch(new RegExp(`SUCCESS: ${plain.length} rules found`))
      expect(check.status).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
