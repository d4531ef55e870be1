import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import { edge, job, kinds, only, SLOW_ENRICH, type Overrides } from './test-support.ts'

describe('diagnose: bottleneck', () => {
  it('names the busy operator downstream of the backpressured ones, not the backpressured `parse`', () => {
    const j = job(SLOW_ENRICH)
    const findings = diagnose(j.view(), j.history())
    const bottlenecks = only(findings, 'bottleneck')
    expect(bottlenecks.map((f) => f.operator)).toEqual(['enrich'])
    const [f] = bottlenecks
    expect(findings[0]).toBe(f)
    expect(f.severity).toBe('critical')
    expect(f.title).toContain('`enrich`')
    expect(f.evidence).toMatchObject({ busyMsPerSecond: 950, upstreamBackpressuredMsPerSecond: 700, backpressuredUpstream: 'source, parse', parallelism: 1 })
  })

  it('recommends ceil(P × busy / 700) as the new parallelism', () => {
    const j = job({ ...SLOW_ENRICH, enrich: { busy: 980, parallelism: 2 } })
    const [f] = only(diagnose(j.view(), j.history()), 'bottleneck')
    expect(f.action).toEqual({ kind: 'set-parallelism', operator: 'enrich', parallelism: 3 }) // ceil(2 × 980 / 700)
    expect(f.recommendation).toBe('raise parallelism of `enrich` from 2 to 3 (`.parallelism(3)` on the stream of `enrich`)')
    expect(f.evidence.recommendedParallelism).toBe(3)
  })

  it('caps the parallelism at twice the workers, and asks for worker threads when there are none', () => {
    const capped = job({ ...SLOW_ENRICH, enrich: { busy: 1000, parallelism: 3 } }, { workerCount: 2 })
    expect(only(diagnose(capped.view(), capped.history()), 'bottleneck')[0].action).toEqual({ kind: 'set-parallelism', operator: 'enrich', parallelism: 4 })
    const single = job(SLOW_ENRICH, { workerCount: 0 })
    const [f] = only(diagnose(single.view(), single.history()), 'bottleneck')
    expect(f.action).toEqual({ kind: 'set-parallelism', operator: 'enrich', parallelism: 2 })
    expect(f.recommendation).toBe('raise parallelism of `enrich` from 1 to 2 (`.parallelism(2)` on the stream of `enrich`), and run the job on worker threads (`--workers 2`; from code, `run({ workers: 2 })`): it runs on one thread now')
  })

  it('a sink busy on its thread behind backpressure is the bottleneck', () => {
    const j = job({ source: { bp: 800 }, parse: { bp: 800 }, enrich: { bp: 750 }, sink: { busy: 930 } })
    const bottlenecks = only(diagnose(j.view(), j.history()), 'bottleneck')
    expect(bottlenecks.map((f) => f.operator)).toEqual(['sink'])
    expect(bottlenecks[0].title).toContain('the sink')
    expect(bottlenecks[0].recommendation).toMatch(/parallel writers \(`\{ parallelism: 2 \}` in the options of `.to\('sink', …\)`, .*faster sink/)
    expect(bottlenecks[0].action).toBeNull()
    expect(bottlenecks[0].evidence.busyMsPerSecond).toBe(930)
  })

  const HOT_WINDOW: Overrides = {
    source: { bp: 600 },
    parse: { bp: 800 },
    enrich: {
      label: 'window(tumbling 10000ms event).aggregate', parallelism: 4, busy: 300,
      subtasks: [{ busy: 990, in: 2600 }, { busy: 120, in: 500 }, { busy: 100, in: 450 }, { busy: 110, in: 450 }],
      hotKeys: [{ key: 'auction-7', count: 6200, share: 0.62 }, { key: 'auction-3', count: 400, share: 0.04 }],
    },
  }
  const hashed = { edges: [edge('source', 'parse'), edge('parse', 'enrich', 'hash'), edge('enrich', 'sink')] }

  it('a one-phase window aggregate on a hot key gets two-phase aggregation, not more parallelism', () => {
    const j = job(HOT_WINDOW, hashed)
    const findings = diagnose(j.view(), j.history())
    const [f] = only(findings, 'bottleneck')
    expect(f.operator).toBe('enrich')
    expect(f.action).toEqual({ kind: 'enable-two-phase', operator: 'enrich' })
    expect(f.recommendation).toContain('two-phase')
    expect(f.evidence).toMatchObject({ hottestSubtaskBusyMsPerSecond: 990, hotSubtask: 0 })
    expect(f.evidence.hotKeys).toContain('`auction-7` (62 %)')
    expect(only(findings, 'skew').map((s) => s.operator)).toEqual(['enrich'])
  })

  it('a window aggregate that already merges partials gets more parallelism instead', () => {
    const merged = { ...HOT_WINDOW, enrich: { ...HOT_WINDOW.enrich, label: 'window(tumbling 10000ms event).aggregate(merge)' } }
    const j = job(merged, hashed)
    const [f] = only(diagnose(j.view(), j.history()), 'bottleneck')
    expect(f.action?.kind).toBe('set-parallelism')
  })

  it('one noisy second in the history does not make a bottleneck, even when it is the current second', () => {
    const j = job()
    const noisy = (s: number): Overrides => (s === 9 ? SLOW_ENRICH : {})
    const findings = diagnose(j.view(SLOW_ENRICH), j.history(10, noisy))
    expect(kinds(findings)).toEqual(['healthy'])
  })

  it('too little history gives no bottleneck', () => {
    const j = job(SLOW_ENRICH)
    expect(only(diagnose(j.view(), j.history(2)), 'bottleneck')).toEqual([])
  })
})
