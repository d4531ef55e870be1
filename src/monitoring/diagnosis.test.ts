import { describe, expect, it } from 'vitest'
import { diagnose } from './diagnosis.ts'
import type { ConnectionView, Finding, JobView, OperatorView, PartitionView, Sample, SourceProgressView, WorkerView } from './types.ts'

// ---- builders: a job described per operator; the view is "now", the history one sample per second

const T0 = 1_700_000_000_000

interface SubtaskSpec { busy: number; wait: number; bp: number; in: number; out: number }

interface Spec {
  kind: OperatorView['kind']
  label: string
  parallelism: number
  task: number
  /** ms/s: busy (own code on the thread), waiting (external calls in flight), backpressured. */
  busy: number; wait: number; bp: number; in: number; out: number
  lagMs: number | null
  state: number
  hotKeys: OperatorView['hotKeys']
  errors: number; skipped: number; deadLettered: number
  /** Per-subtask values; operator values then follow the docs (sums for rates, max for times). */
  subtasks: Partial<SubtaskSpec>[] | null
}

type Edge = JobView['graph']['edges'][number]

const LINEAR = ['source', 'parse', 'enrich', 'sink']

function defaults(id: string, i: number): Spec {
  const kind = id === 'sink' ? 'sink' : id === 'source' || id === 'clicks' ? 'source' : 'operator'
  return {
    kind, label: kind === 'source' ? 'source(generator)' : kind === 'sink' ? 'sink(file)' : `map`, parallelism: 1, task: i,
    busy: kind === 'source' ? 200 : 150, wait: 0, bp: 0, in: kind === 'source' ? 0 : 1000, out: 1000,
    lagMs: 2000, state: 0, hotKeys: null, errors: 0, skipped: 0, deadLettered: 0, subtasks: null,
  }
}

interface JobShape {
  ids?: string[]
  edges?: Edge[]
  workers?: WorkerView[]
  workerCount?: number
  uptimeMs?: number
}

type Overrides = Record<string, Partial<Spec>>

/**
 * A job: `spec` gives each operator's steady values; `history(seconds, at)` repeats them one sample
 * per second, with `at(second)` changing some; the view is the last second.
 */
function job(overrides: Overrides = {}, shape: JobShape = {}) {
  const ids = shape.ids ?? LINEAR
  const edges = shape.edges ?? ids.slice(1).map((to, i) => edge(ids[i], to))
  const specs = (change: Overrides = {}): Record<string, Spec> =>
    Object.fromEntries(ids.map((id, i) => [id, { ...defaults(id, i), ...overrides[id], ...change[id] }]))
  const history = (seconds = 10, at: (second: number) => Overrides = () => ({})): Sample[] =>
    Array.from({ length: seconds }, (_, s) => sample(T0 + s * 1000, specs(at(s))))
  const view = (now: Overrides = {}): JobView => {
    const s = specs(now)
    const operators = ids.map((id) => operatorView(id, s[id]))
    return {
      t: T0 + 60_000, checkpoints: null, id: 'j1', name: 'test', status: 'running', startedAt: T0 - 60_000, uptimeMs: shape.uptimeMs ?? 60_000,
      parallelism: 1, workerCount: shape.workerCount ?? 4,
      recordsPerSecond: operators.filter((o) => o.kind === 'source').reduce((n, o) => n + o.recordsOutPerSecond, 0),
      latency: { p50: 20, p90: 35, p99: 45, max: 60, count: 1000 },
      topFinding: null,
      graph: { nodes: operators.map(({ id, label, kind, parallelism, task }) => ({ id, label, kind, parallelism, task })), edges },
      operators,
      workers: shape.workers ?? [worker(0)],
      alerts: [],
      sources: [],
      connections: [],
    }
  }
  return { view, history }
}

function edge(from: string, to: string, partitioning: Edge['partitioning'] = 'forward'): Edge {
  return { from, to, partitioning, chained: false, recordsPerSecond: 1000 }
}

function worker(index: number, o: Partial<WorkerView> = {}): WorkerView {
  return { worker: index, eventLoopDelayP99Ms: 5, eventLoopDelayMaxMs: 12, gcPauseMsPerSecond: 3, heapUsedBytes: 50e6, heapLimitBytes: 2e9, cpuMsPerSecond: null, cpuMs: null, ...o }
}

function subtasksOf(spec: Spec): SubtaskSpec[] {
  const p = spec.parallelism
  return spec.subtasks?.map((s) => ({ busy: spec.busy, wait: spec.wait, bp: spec.bp, in: spec.in / p, out: spec.out / p, ...s }))
    ?? Array.from({ length: p }, () => ({ busy: spec.busy, wait: spec.wait, bp: spec.bp, in: spec.in / p, out: spec.out / p }))
}

function totals(spec: Spec) {
  const subs = subtasksOf(spec)
  const sumOf = (f: (s: SubtaskSpec) => number): number => subs.reduce((n, s) => n + f(s), 0)
  const maxOf = (f: (s: SubtaskSpec) => number): number => Math.max(...subs.map(f))
  return { subs, busy: maxOf((s) => s.busy), wait: maxOf((s) => s.wait), bp: maxOf((s) => s.bp), in: sumOf((s) => s.in), out: sumOf((s) => s.out) }
}

function operatorView(id: string, spec: Spec): OperatorView {
  const t = totals(spec)
  const metrics = (busy: number, wait: number, bp: number, rIn: number, rOut: number) => ({
    recordsIn: rIn * 60, recordsOut: rOut * 60, recordsInPerSecond: rIn, recordsOutPerSecond: rOut, bytesInPerSecond: 0, bytesOutPerSecond: 0,
    busyMsPerSecond: busy, waitingMsPerSecond: wait, backpressuredMsPerSecond: bp, idleMsPerSecond: Math.max(0, 1000 - busy - wait - bp),
    busyMs: busy * 60, waitingMs: wait * 60, backpressuredMs: bp * 60, idleMs: Math.max(0, 1000 - busy - wait - bp) * 60,
    inputQueueUsage: null, outputQueueUsage: null,
    watermark: spec.lagMs === null ? null : T0 + 9000 - spec.lagMs, watermarkLagMs: spec.lagMs,
    lateRecords: 0, skippedRecords: 0, deadLetteredRecords: 0, errors: 0, stateEntries: 0, stateBytes: 0, pendingTimers: 0, latency: null,
  })
  return {
    ...metrics(t.busy, t.wait, t.bp, t.in, t.out),
    skippedRecords: spec.skipped, deadLetteredRecords: spec.deadLettered, errors: spec.errors, stateEntries: spec.state, stateBytes: spec.state * 100,
    id, label: spec.label, kind: spec.kind, parallelism: spec.parallelism, task: spec.task,
    state: t.wait > t.busy && t.wait >= t.bp ? 'waiting' : t.busy >= t.bp ? 'busy' : 'backpressured', hotKeys: spec.hotKeys,
    subtasks: t.subs.map((s, i) => ({ ...metrics(s.busy, s.wait, s.bp, s.in, s.out), subtask: i, worker: i % 2 })),
  }
}

function sample(t: number, specs: Record<string, Spec>): Sample {
  const operators: Sample['operators'] = {}
  for (const [id, spec] of Object.entries(specs)) {
    const x = totals(spec)
    operators[id] = {
      recordsInPerSecond: x.in, recordsOutPerSecond: x.out, busyMsPerSecond: x.busy, waitingMsPerSecond: x.wait, backpressuredMsPerSecond: x.bp,
      idleMsPerSecond: Math.max(0, 1000 - x.busy - x.wait - x.bp), inputQueueUsage: null, watermarkLagMs: spec.lagMs,
      latencyP50Ms: null, latencyP90Ms: null, latencyP99Ms: null, stateEntries: spec.state,
      subtasks: x.subs.map((s) => ({ busyMsPerSecond: s.busy, waitingMsPerSecond: s.wait, backpressuredMsPerSecond: s.bp, recordsInPerSecond: s.in })),
    }
  }
  return { t, recordsPerSecond: 1000, latencyP99Ms: 45, operators }
}

const kinds = (fs: Finding[]): string[] => fs.map((f) => f.kind)
const only = (fs: Finding[], kind: Finding['kind']): Finding[] => fs.filter((f) => f.kind === kind)

// A backpressured front half waiting for a saturated `enrich`.
const SLOW_ENRICH: Overrides = {
  source: { busy: 250, bp: 700 },
  parse: { busy: 300, bp: 650 },
  enrich: { busy: 950 },
}

describe('diagnose: bottleneck', () => {
  it('in a saturated thread without backpressure, names the operator taking most of it', () => {
    // All four tasks share worker 0; nothing is backpressured, but the thread has no time left.
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } })
    const findings = diagnose(j.view(), j.history())
    expect(findings[0]).toMatchObject({ kind: 'bottleneck', severity: 'critical', operator: 'enrich', action: { kind: 'set-parallelism', operator: 'enrich', parallelism: 2 } })
    expect(findings[0].evidence).toMatchObject({ worker: 0, threadBusyMsPerSecond: 970, taskBusyMsPerSecond: 880 })
    expect(findings[0].title).toMatch(/takes 880 of the 970 busy ms\/s of worker 0/)
  })

  it('a busy thread shared evenly has no single bottleneck', () => {
    const j = job({ source: { busy: 250 }, parse: { busy: 250 }, enrich: { busy: 250 }, sink: { busy: 250 } })
    expect(kinds(diagnose(j.view(), j.history()))).not.toContain('bottleneck')
  })

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
    expect(f.recommendation).toBe('raise parallelism of `enrich` from 2 to 3')
    expect(f.evidence.recommendedParallelism).toBe(3)
  })

  it('caps the parallelism at twice the workers, and asks for worker threads when there are none', () => {
    const capped = job({ ...SLOW_ENRICH, enrich: { busy: 1000, parallelism: 3 } }, { workerCount: 2 })
    expect(only(diagnose(capped.view(), capped.history()), 'bottleneck')[0].action).toEqual({ kind: 'set-parallelism', operator: 'enrich', parallelism: 4 })
    const single = job(SLOW_ENRICH, { workerCount: 0 })
    const [f] = only(diagnose(single.view(), single.history()), 'bottleneck')
    expect(f.action).toEqual({ kind: 'set-parallelism', operator: 'enrich', parallelism: 2 })
    expect(f.recommendation).toContain('--workers')
  })

  it('a sink busy on its thread behind backpressure is the bottleneck', () => {
    const j = job({ source: { bp: 800 }, parse: { bp: 800 }, enrich: { bp: 750 }, sink: { busy: 930 } })
    const bottlenecks = only(diagnose(j.view(), j.history()), 'bottleneck')
    expect(bottlenecks.map((f) => f.operator)).toEqual(['sink'])
    expect(bottlenecks[0].title).toContain('the sink')
    expect(bottlenecks[0].recommendation).toMatch(/parallel writers.*faster sink/)
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
    expect(f.evidence.hotKeys).toContain('`auction-7` (62%)')
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

describe('diagnose: waiting on I/O', () => {
  // Defect 8's job: `gen` chained into `db` on the main thread, the sink awaiting 10 ms per batch.
  const SLOW_DB = job(
    { gen: { kind: 'source', task: 0, busy: 30, wait: 960 }, db: { kind: 'sink', task: 0, busy: 30, wait: 960 } },
    { ids: ['gen', 'db'], workerCount: 0, workers: [worker(-1, { cpuMsPerSecond: 210 })] },
  )

  it('a sink awaiting its writes is I/O-bound, not a saturated thread or source-bound (defect 8)', () => {
    const findings = diagnose(SLOW_DB.view(), SLOW_DB.history())
    expect(kinds(findings)).toEqual(['io-bound'])
    const [f] = findings
    expect(f).toMatchObject({ severity: 'critical', operator: 'db', action: { kind: 'set-parallelism', operator: 'db', parallelism: 2 } })
    expect(f.title).toBe('the sink `db` waits on I/O 96 % of the time (960 ms/s awaiting its writes, 30 ms/s busy on its thread), so it cannot take records faster')
    expect(f.recommendation).toMatch(/^batch its writes \(fewer, larger requests\) or raise its parallelism from 1 to 2/)
    expect(f.evidence).toMatchObject({ waitingMsPerSecond: 960, waitingPercent: 96, busyMsPerSecond: 30, parallelism: 1, recommendedParallelism: 2 })
    expect(JSON.stringify(findings)).not.toMatch(/saturated|source-bound/)
  })

  it('names the waiting sink behind a backpressured upstream', () => {
    const j = job({ source: { bp: 800 }, parse: { bp: 800 }, enrich: { bp: 750 }, sink: { busy: 20, wait: 930 } })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['io-bound'])
    expect(findings[0].title).toContain('while `source`, `parse` and `enrich` upstream are backpressured')
    expect(findings[0].evidence.backpressuredUpstream).toBe('source, parse, enrich')
  })

  it('a sink waiting half the time with time to spare is information, with no action', () => {
    const j = job({ sink: { busy: 20, wait: 600 } })
    const [f] = only(diagnose(j.view(), j.history()), 'io-bound')
    expect(f).toMatchObject({ severity: 'info', operator: 'sink', action: null })
    expect(f.title).toMatch(/waits on I\/O 60 % of the time .*with time to spare$/)
  })

  it('a source awaiting its reads is I/O-bound on the source', () => {
    const j = job({ source: { busy: 40, wait: 900 } })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['io-bound'])
    expect(findings[0].operator).toBe('source')
    expect(findings[0].title).toMatch(/^the source `source` waits on I\/O 90 % of the time \(900 ms\/s awaiting its reads/)
    expect(findings[0].recommendation).toMatch(/read bigger batches.*splittable/)
  })

  it('a thread saturated on the CPU is still CPU-bound, with its CPU time as evidence', () => {
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } }, { workers: [worker(0, { cpuMsPerSecond: 940 })] })
    const [f] = diagnose(j.view(), j.history())
    expect(f).toMatchObject({ kind: 'bottleneck', operator: 'enrich', evidence: { threadBusyMsPerSecond: 970, threadCpuMsPerSecond: 940 } })
    expect(f.title).toBe('`enrich` is the bottleneck: it takes 880 of the 970 busy ms/s of worker 0, which has no time left')
  })

  it('judges the thread\'s CPU time over the window, not the last second alone', () => {
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } }, { workers: [worker(0, { cpuMsPerSecond: 0 })] })
    const history = j.history().map((s) => ({ ...s, workers: [{ worker: 0, cpuMsPerSecond: 900 }] }))
    const [f] = diagnose(j.view(), history)
    expect(f.evidence.threadCpuMsPerSecond).toBe(900)
    expect(f.title).not.toContain('on the CPU')
  })

  it('a source whose chain saturates its thread is that finding, not source-bound', () => {
    const chain = { task: 0, busy: 950 }
    const j = job({ source: chain, parse: chain, sink: chain }, { ids: ['source', 'parse', 'sink'] })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['bottleneck'])
    expect(findings[0].title).toMatch(/^worker 0 is saturated \(950 busy ms\/s\), 950 of them in the chain `source`, `parse` and `sink`/)
  })

  it('a saturated thread far off the CPU is said to be blocked', () => {
    const j = job({ source: { busy: 40 }, parse: { busy: 30 }, enrich: { busy: 880 }, sink: { busy: 20 } }, { workers: [worker(0, { cpuMsPerSecond: 150 })] })
    const [f] = diagnose(j.view(), j.history())
    expect(f.title).toContain('only 150 ms/s of it on the CPU, so synchronous calls block the thread')
  })
})

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

describe('diagnose: skew', () => {
  const edges = [edge('source', 'parse'), edge('parse', 'enrich', 'hash'), edge('enrich', 'sink')]
  const hotKeys = [
    { key: 'user-42', count: 5500, share: 0.55 }, { key: 'user-7', count: 500, share: 0.05 },
    { key: 'user-9', count: 300, share: 0.03 }, { key: 'user-1', count: 100, share: 0.01 },
  ]

  it('names the hot subtask and the top three hot keys', () => {
    const j = job({ enrich: { parallelism: 4, hotKeys, subtasks: [{ in: 700 }, { in: 100 }, { in: 100 }, { in: 100 }] } }, { edges })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings)).toEqual(['skew'])
    const [f] = findings
    expect(f).toMatchObject({ severity: 'warning', operator: 'enrich', action: null })
    expect(f.evidence).toMatchObject({ hotSubtask: 0, hotSubtaskRecordsInPerSecond: 700, medianRecordsInPerSecond: 100, hotSubtaskSharePercent: 70 })
    expect(f.evidence.hotKeys).toBe('`user-42` (55%), `user-7` (5%), `user-9` (3%)')
    expect(f.title).toContain('`user-42` (55%)')
    expect(f.recommendation).toMatch(/pre-aggregate.*salt the hot key `user-42`.*key by something finer/)
  })

  it('balanced subtasks are not skewed', () => {
    const j = job({ enrich: { parallelism: 4, subtasks: [{ in: 300 }, { in: 250 }, { in: 220 }, { in: 230 }] } }, { edges })
    expect(only(diagnose(j.view(), j.history()), 'skew')).toEqual([])
  })
})

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

describe('diagnose: state, workers, errors', () => {
  it('reports state that grows steadily', () => {
    const j = job({ enrich: { state: 68_000 } })
    const findings = diagnose(j.view(), j.history(10, (s) => ({ enrich: { state: 50_000 + s * 2000 } })))
    expect(kinds(findings)).toEqual(['state-growth'])
    expect(findings[0]).toMatchObject({ severity: 'warning', operator: 'enrich' })
    expect(findings[0].evidence).toMatchObject({ stateGrowthEntriesPerSecond: 2000, stateGrowthPercent: 36, stateEntries: 68_000 })
    expect(findings[0].title).toContain('2000 entries/s')
    expect(findings[0].recommendation).toContain('TTL')
  })

  it('state that windows clear (a saw-tooth) is not growth', () => {
    const j = job()
    const sawTooth = (s: number): Overrides => ({ enrich: { state: 20_000 + (s % 5) * 8000 } })
    expect(only(diagnose(j.view(), j.history(10, sawTooth)), 'state-growth')).toEqual([])
  })

  it('reports event-loop delay and GC pauses with the worker index', () => {
    const j = job({}, { workers: [worker(-1), worker(0, { eventLoopDelayP99Ms: 540 }), worker(1, { gcPauseMsPerSecond: 380, heapUsedBytes: 1.8e9 })] })
    const findings = diagnose(j.view(), j.history())
    expect(kinds(findings).sort()).toEqual(['event-loop', 'gc'])
    expect(only(findings, 'event-loop')[0].evidence).toMatchObject({ worker: 0, eventLoopDelayP99Ms: 540 })
    expect(only(findings, 'event-loop')[0].title).toContain('worker 0')
    expect(only(findings, 'gc')[0].evidence).toMatchObject({ worker: 1, gcPauseMsPerSecond: 380, heapUsedPercent: 90 })
    expect(only(findings, 'gc')[0].recommendation).toContain('heap')
  })

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

describe('diagnose: checkpoints', () => {
  const checkpoints = (o: Partial<NonNullable<JobView['checkpoints']>>): JobView['checkpoints'] => ({
    intervalMs: 1000, timeoutMs: 600_000, completed: 10, failed: 0, lastId: 10, lastFailure: null,
    lastDurationMs: 120, lastSizeBytes: 200_000, lastAlignmentMs: 0, lastStartDelayMs: 5, lastSyncMs: 10,
    restarts: 0, restoredFrom: null, restore: null, ...o,
  })
  const withCheckpoints = (c: JobView['checkpoints'], status: JobView['status'] = 'running'): JobView => ({ ...job().view(), checkpoints: c, status })

  it('stays silent for checkpoints that complete quickly', () => {
    expect(kinds(diagnose(withCheckpoints(checkpoints({})), job().history()))).toEqual(['healthy'])
  })

  it('reports checkpoints timing out under backpressure, with what to do', () => {
    const reason = 'timed out after 30000 ms with 1 of 2 tasks acknowledged: a barrier waits behind the records queued before it'
    const findings = diagnose(withCheckpoints(checkpoints({ failed: 3, lastFailure: { id: 13, triggeredAt: T0, reason } })), job().history())
    const f = findings.find((x) => x.kind === 'checkpoints')
    expect(f?.severity).toBe('warning')
    expect(f?.title).toBe('checkpoints are failing: checkpoint 13 failed (timed out after 30000 ms with 1 of 2 tasks acknowledged); 3 failed, 10 completed')
    expect(f?.recommendation).toMatch(/remove the bottleneck .*lower channelCapacity, or raise --checkpoint-timeout/)
    // None completed yet: critical, since a failure would replay from the start.
    const none = diagnose(withCheckpoints(checkpoints({ completed: 0, lastId: 0, failed: 2, lastFailure: { id: 2, triggeredAt: T0, reason } })), job().history())
    expect(none[0]).toMatchObject({ kind: 'checkpoints', severity: 'critical' })
  })

  it('ignores a checkpoint that failed because the job was ending, and failures of a job that is not running', () => {
    const ended = checkpoints({ failed: 1, lastFailure: { id: 11, triggeredAt: T0, reason: 'a task ended before acknowledging' } })
    expect(kinds(diagnose(withCheckpoints(ended), job().history()))).toEqual(['healthy'])
    const io = checkpoints({ failed: 1, lastFailure: { id: 11, triggeredAt: T0, reason: 'CHECKPOINT_IO: cannot write checkpoint 11 to /x: ENOSPC' } })
    expect(kinds(diagnose(withCheckpoints(io), job().history()))).toEqual(['checkpoints'])
    expect(kinds(diagnose(withCheckpoints(io, 'finished'), job().history()))).toEqual(['healthy'])
  })

  it('reports snapshots that stop a task for a large share of the interval, and the interval that fixes it', () => {
    const findings = diagnose(withCheckpoints(checkpoints({ lastSyncMs: 400, lastSizeBytes: 120e6 })), job().history())
    const f = findings.find((x) => x.kind === 'checkpoints')
    expect(f?.title).toBe('checkpoint snapshots stop a task for 400 ms every 1 s (40 % of its time)')
    expect(f?.recommendation).toMatch(/--checkpoint-interval 4s keeps it under 10 %/)
  })
})

describe('diagnose: overall', () => {
  it('a healthy job gets exactly one healthy finding with its throughput and p99', () => {
    const j = job()
    const findings = diagnose(j.view(), j.history())
    expect(findings).toHaveLength(1)
    expect(findings[0]).toMatchObject({ kind: 'healthy', severity: 'info', operator: null, action: null })
    expect(findings[0].evidence).toMatchObject({ recordsPerSecond: 1000, latencyP99Ms: 45, busiestOperator: 'source', busiestBusyMsPerSecond: 200 })
  })

  it('a job without history is still answered', () => {
    const j = job()
    expect(kinds(diagnose(j.view(), []))).toEqual(['healthy'])
  })

  it('sorts findings most severe first, then by how far past the threshold', () => {
    const j = job(
      { ...SLOW_ENRICH, parse: { ...SLOW_ENRICH.parse, errors: 6, skipped: 6 } },
      { workers: [worker(0, { gcPauseMsPerSecond: 300 }), worker(1, { gcPauseMsPerSecond: 600 })] },
    )
    const findings = diagnose(j.view(), j.history())
    expect(findings.map((f) => [f.kind, f.severity])).toEqual([
      ['bottleneck', 'critical'], ['gc', 'warning'], ['gc', 'warning'], ['errors', 'warning'],
    ])
    expect(findings.filter((f) => f.kind === 'gc').map((f) => f.evidence.worker)).toEqual([1, 0])
  })
})

// ---- brokers: lag per partition and connection state

/** A source `source` reading `partitions` partitions; `lags[s]` is the total lag at second s. */
function withLag(view: JobView, history: Sample[], lags: readonly number[], partitions = 4, connections: ConnectionView[] = []): { view: JobView; history: Sample[] } {
  const last = lags[lags.length - 1]
  const rate = (last - lags[0]) / (lags.length - 1)
  const parts: PartitionView[] = Array.from({ length: partitions }, (_, i) => ({
    partition: `orders/${i}`, subtask: 0, position: `offset ${1000 * i}`,
    // Partition 3 carries half the lag.
    lag: i === 3 ? last / 2 : last / 2 / (partitions - 1), lagPerSecond: i === 3 ? rate / 2 : rate / 2 / (partitions - 1),
  }))
  const source: SourceProgressView = { source: 'source', kind: 'kafka', lag: last, lagPerSecond: rate, windowSeconds: lags.length - 1, partitionCount: partitions, worst: parts[3], partitions: parts }
  return {
    view: { ...view, sources: [source], connections },
    history: history.map((s, i) => ({ ...s, sources: { source: { lag: lags[i] ?? null, lagPerSecond: null } } })),
  }
}

const growing = (perSecond: number, from = 5000): number[] => Array.from({ length: 10 }, (_, s) => from + perSecond * s)

function connection(o: Partial<ConnectionView> = {}): ConnectionView {
  return { connector: 'source', kind: 'kafka', role: 'source', subtask: 0, state: 'connected', lastError: null, since: T0, ...o }
}

describe('diagnose: source lag', () => {
  it('a lag that grows is "falling behind" and names the bottleneck the other rules found', () => {
    const j = job(SLOW_ENRICH)
    const { view, history } = withLag(j.view(), j.history(), growing(12_000))
    const findings = diagnose(view, history)
    const [lag] = only(findings, 'source-lag')
    expect(lag.title).toBe('the job is falling behind `source`: lag +12 k records/s (113 k records behind, most in `orders/3`); the bottleneck is `enrich` (busy 950 ms/s while `source` and `parse` upstream are backpressured)')
    expect(lag).toMatchObject({ severity: 'warning', operator: 'source', action: null })
    expect(lag.evidence).toMatchObject({ lag: 113_000, lagGrowthRecordsPerSecond: 12_000, windowSeconds: 9, partitions: 4, worstPartition: 'orders/3', worstPartitionLag: 56_500, bottleneck: 'enrich' })
    // What to do is the bottleneck's remedy.
    expect(lag.recommendation).toBe(only(findings, 'bottleneck')[0].recommendation)
    // The bottleneck (critical) still comes first.
    expect(findings[0].kind).toBe('bottleneck')
  })

  it('without a bottleneck, says the source fetches too slowly and recommends a subtask per partition', () => {
    const j = job()
    const { view, history } = withLag(j.view(), j.history(), growing(300), 8)
    const [lag] = only(diagnose(view, history), 'source-lag')
    expect(lag.title).toBe('the job is falling behind `source`: lag +300 records/s (7.7 k records behind, most in `orders/3`); no operator is busy or backpressured, so the records arrive faster than `source` fetches them')
    expect(lag.recommendation).toBe('read `source` with more subtasks: raise its parallelism from 1 to 2 (at most one per partition, 8)')
  })

  it('a reconnecting reader is the cause of its own lag, with its last error', () => {
    const j = job()
    const down = connection({ state: 'reconnecting', lastError: 'connect ECONNREFUSED 127.0.0.1:9092', since: T0 + 46_000 })
    const { view, history } = withLag(j.view(), j.history(), growing(500), 4, [down])
    const findings = diagnose(view, history)
    expect(only(findings, 'source-lag')[0].title).toMatch(/; its reader is reconnecting \(connect ECONNREFUSED 127\.0\.0\.1:9092\)$/)
    expect(kinds(findings)).toContain('connection')
  })

  it('a lag that is high but steady, or shrinking, is not reported', () => {
    const j = job()
    const steady = withLag(j.view(), j.history(), Array.from({ length: 10 }, (_, s) => 90_000 + (s % 2) * 400))
    expect(kinds(diagnose(steady.view, steady.history))).toEqual(['healthy'])
    const catchingUp = withLag(j.view(), j.history(), growing(-2000, 50_000))
    expect(kinds(diagnose(catchingUp.view, catchingUp.history))).toEqual(['healthy'])
  })

  it('a lag known only every few seconds (a reader that polls the end) still counts as growing', () => {
    const j = job()
    const stepped = [1000, 1000, 1000, 4000, 4000, 4000, 7000, 7000, 7000, 10_000]
    const { view, history } = withLag(j.view(), j.history(), stepped)
    expect(only(diagnose(view, history), 'source-lag')[0].evidence.lagGrowthRecordsPerSecond).toBe(1000)
  })

  it('one jump in an otherwise flat lag is not falling behind; too few samples say nothing', () => {
    const j = job()
    const jump = withLag(j.view(), j.history(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 5000])
    expect(kinds(diagnose(jump.view, jump.history))).toEqual(['healthy'])
    const short = withLag(j.view(), j.history(2), [0, 50_000])
    expect(kinds(diagnose(short.view, short.history))).toEqual(['healthy'])
  })

  it('a job that is not running has no lag finding', () => {
    const j = job()
    const { view, history } = withLag(j.view(), j.history(), growing(1000))
    expect(kinds(diagnose({ ...view, status: 'finished' }, history))).toEqual(['healthy'])
  })
})

describe('diagnose: connections', () => {
  it('a reconnecting connector is a warning with how long and its last error, credentials masked', () => {
    const j = job()
    const view = { ...j.view(), connections: [
      connection({ connector: 'sink', role: 'sink', kind: 'postgres', subtask: 0, state: 'reconnecting', since: T0 + 46_000, lastError: 'connect ECONNREFUSED postgres://app:s3cret@db:5432/test' }),
      connection({ connector: 'sink', role: 'sink', kind: 'postgres', subtask: 1 }),
    ] }
    const [f] = only(diagnose(view, j.history()), 'connection')
    expect(f.title).toBe('the sink `sink` (postgres) is reconnecting to its server (subtask 0 of 2) for 14 s: connect ECONNREFUSED postgres://app:***@db:5432/test')
    expect(f).toMatchObject({ severity: 'warning', operator: 'sink', action: null })
    expect(f.evidence).toEqual({ state: 'reconnecting', kind: 'postgres', subtasksDown: 1, subtasks: 2, forSeconds: 14, lastError: 'connect ECONNREFUSED postgres://app:***@db:5432/test' })
    expect(JSON.stringify(f)).not.toContain('s3cret')
  })

  it('a connector that gave up is critical and says to fix the cause and restart', () => {
    const j = job()
    const view = { ...j.view(), connections: [connection({ state: 'failed', since: T0 - 60_000, lastError: 'SASL authentication failed' })] }
    const findings = diagnose(view, j.history())
    expect(findings[0]).toMatchObject({ kind: 'connection', severity: 'critical', operator: 'source' })
    expect(findings[0].title).toBe('the source `source` (kafka) has lost its server and stopped retrying for 2 min: SASL authentication failed')
    expect(findings[0].recommendation).toMatch(/^fix what the last error names/)
  })

  it('connected connectors say nothing', () => {
    const j = job()
    expect(kinds(diagnose({ ...j.view(), connections: [connection(), connection({ subtask: 1 })] }, j.history()))).toEqual(['healthy'])
  })
})
