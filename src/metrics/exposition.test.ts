import { describe, expect, it } from 'vitest'
import { Exposition } from './exposition.ts'
import { PROMETHEUS_BOUNDS_MS } from './histogram.ts'
import type { MetricDef } from './names.ts'

const counter: MetricDef = { name: 'x_things_total', type: 'counter', help: 'Things.\nMany \\ of them.', labels: ['job', 'operator'] }
const gauge: MetricDef = { name: 'x_level_ratio', type: 'gauge', help: 'A level.', labels: [] }
const hist: MetricDef = { name: 'x_wait_seconds', type: 'histogram', help: 'Waits.', labels: ['job'] }

describe('Exposition', () => {
  it('writes HELP and TYPE for every family, samples grouped in the order added, labels escaped', () => {
    const e = new Exposition([counter, gauge, hist])
    e.add(counter, { job: 'a', operator: 'say "hi"\\\n' }, 3)
    e.add(gauge, {}, 0.25)
    e.add(counter, { operator: 'o', job: 'b' }, 1e21)
    e.add(gauge, {}, Number.NaN)
    expect(e.text()).toBe([
      '# HELP x_things_total Things.\\nMany \\\\ of them.',
      '# TYPE x_things_total counter',
      'x_things_total{job="a",operator="say \\"hi\\"\\\\\\n"} 3',
      'x_things_total{job="b",operator="o"} 1e+21',
      '# HELP x_level_ratio A level.',
      '# TYPE x_level_ratio gauge',
      'x_level_ratio 0.25',
      '# HELP x_wait_seconds Waits.',
      '# TYPE x_wait_seconds histogram',
      '',
    ].join('\n'))
  })

  it('writes a histogram as _bucket{le} (cumulative, +Inf = count), _sum and _count', () => {
    const e = new Exposition([hist])
    const buckets = [...PROMETHEUS_BOUNDS_MS.map((_, i) => Math.min(i, 5)), 7]
    e.addHistogram(hist, { job: 'j' }, { buckets, sumSeconds: 1.5 })
    const lines = e.text().split('\n')
    expect(lines[2]).toBe('x_wait_seconds_bucket{job="j",le="0.0001"} 0')
    expect(lines[3]).toBe('x_wait_seconds_bucket{job="j",le="0.0002"} 1')
    expect(lines[2 + 20]).toBe(`x_wait_seconds_bucket{job="j",le="${(0.1 * 2 ** 20) / 1000}"} 5`)
    expect(lines.slice(23)).toEqual(['x_wait_seconds_bucket{job="j",le="+Inf"} 7', 'x_wait_seconds_sum{job="j"} 1.5', 'x_wait_seconds_count{job="j"} 7', ''])
  })

  it('refuses a metric it was not given, a missing label, or a value of the wrong type', () => {
    const e = new Exposition([counter, hist])
    expect(() => e.add(gauge, {}, 1)).toThrow(/INTERNAL: metric x_level_ratio is not in this exposition/)
    expect(() => e.add(counter, { job: 'a' }, 1)).toThrow(/label operator missing/)
    expect(() => e.add(hist, { job: 'a' }, 1)).toThrow(/x_wait_seconds is a histogram/)
    expect(() => e.addHistogram(hist, { job: 'a' }, { buckets: [1], sumSeconds: 0 })).toThrow(/1 buckets, expected 22/)
  })
})
