/**
 * Bottleneck diagnosis: reads a job's current view and its last seconds of history and says, in
 * plain words, what limits it and what to change. A pure function of its inputs: no clock, no I/O.
 *
 * Busy time is a task running its own code on its thread; time spent awaiting a sink's write or a
 * source's read is waiting, and a sink or source that mostly waits is I/O-bound (rule 1c), which
 * more CPU does not fix. Only busy time makes an operator busy or a thread saturated.
 *
 * Conditions that need persistence (busy, waiting, backpressured, skewed, stalled, growing) are judged over
 * the last `windowSamples` samples, and must hold on average *and* in at least `persistenceShare`
 * of those samples, so one noisy second does not flip a finding. Current values come from the view.
 */
import { connectionFindings, sourceLagFindings } from './diagnosis-sources.ts'
import type { Finding, JobView, OperatorView, Sample } from './types.ts'

/** Thresholds of the rules; every field has a default (`DEFAULT_DIAGNOSIS_OPTIONS`). */
export interface DiagnosisOptions {
  /** Samples (one per second) a persistent condition is judged over. */
  windowSamples?: number
  /** Fewer samples than this: the history-based rules stay silent. */
  minSamples?: number
  /** Share of the window's samples a condition must hold in, besides holding on average. */
  persistenceShare?: number
  /** An operator (or its hottest subtask) at or above this is busy. */
  busyMsPerSecond?: number
  /** An operator at or above this is backpressured. */
  backpressuredMsPerSecond?: number
  /** A sink or source awaiting external calls at least this much is I/O-bound (rule 1c). */
  waitingMsPerSecond?: number
  /** The busy time a parallelism recommendation aims for. */
  targetBusyMsPerSecond?: number
  /** A recommended parallelism is at most this many times the current one (and workers × 2). */
  maxScaleFactor?: number
  /** Skew: the hottest subtask takes at least this many times the median subtask... */
  skewMaxToMedian?: number
  /** ...and at least `skewShareFactor / parallelism` of the operator's input. */
  skewShareFactor?: number
  /** Below this input rate skew is judged on busy time instead of records. */
  skewMinRecordsPerSecond?: number
  /** Below this busy time (hottest subtask) an operator is too idle for skew to matter. */
  skewMinBusyMsPerSecond?: number
  /** A watermark lagging the wall clock by more than this (and not catching up) is reported. */
  watermarkLagMs?: number
  /** A watermark that advanced less than this share of the wall-clock time has stalled. */
  stalledAdvanceRatio?: number
  /** Samples state growth is judged over (at least `windowSamples` must exist). */
  stateGrowthSamples?: number
  /** State must grow by more than this share of its size... */
  stateGrowthRatio?: number
  /** ...and by more than this many entries over the window. */
  stateGrowthEntries?: number
  /** Checkpoint snapshots that stop a task for this share of the interval are reported (rule 8). */
  checkpointSyncShare?: number
  /** A thread whose tasks are busy (running code, not waiting) this much in total is saturated (rule 1b). */
  threadSaturatedMsPerSecond?: number
  /** ...and its heaviest task, taking at least this share of that time, is the bottleneck. */
  threadDominantShare?: number
  /** A saturated thread on the CPU for less than this share of its busy time is said to be blocked. */
  threadCpuShare?: number
  /** A worker whose event-loop delay p99 exceeds this is under pressure. */
  eventLoopDelayP99Ms?: number
  /** A worker that pauses for garbage collection more than this is under pressure. */
  gcPauseMsPerSecond?: number
  /** A source's lag (summed over its partitions) growing at least this fast over the window... */
  lagGrowthRecordsPerSecond?: number
  /** ...and by at least this many records means the job falls behind it. */
  lagGrowthRecords?: number
}

export const DEFAULT_DIAGNOSIS_OPTIONS: Required<DiagnosisOptions> = {
  windowSamples: 10,
  minSamples: 3,
  persistenceShare: 0.5,
  busyMsPerSecond: 800,
  backpressuredMsPerSecond: 500,
  waitingMsPerSecond: 500,
  targetBusyMsPerSecond: 700,
  maxScaleFactor: 4,
  skewMaxToMedian: 2,
  skewShareFactor: 1.5,
  skewMinRecordsPerSecond: 100,
  skewMinBusyMsPerSecond: 300,
  watermarkLagMs: 10_000,
  stalledAdvanceRatio: 0.1,
  stateGrowthSamples: 30,
  stateGrowthRatio: 0.2,
  stateGrowthEntries: 10_000,
  threadSaturatedMsPerSecond: 850,
  threadDominantShare: 0.5,
  threadCpuShare: 0.5,
  eventLoopDelayP99Ms: 250,
  gcPauseMsPerSecond: 250,
  checkpointSyncShare: 0.1,
  lagGrowthRecordsPerSecond: 10,
  lagGrowthRecords: 1000,
}

/**
 * Findings about a job, most severe first (critical, warning, info; then by how far past its
 * threshold each is); never empty: a job with nothing wrong gets one `healthy` finding.
 *
 * @example
 * const findings = diagnose(view, history.samples)
 * findings[0] // { kind: 'bottleneck', operator: 'enrich', action: { kind: 'set-parallelism', operator: 'enrich', parallelism: 2 }, ... }
 */
export function diagnose(view: JobView, history: readonly Sample[], options?: DiagnosisOptions): Finding[] {
  const o = { ...DEFAULT_DIAGNOSIS_OPTIONS, ...options }
  const sorted = [...history].sort((a, b) => a.t - b.t)
  const ctx: Context = {
    view, o,
    window: sorted.slice(-o.windowSamples),
    longWindow: sorted.slice(-Math.max(o.windowSamples, o.stateGrowthSamples)),
    ops: new Map(view.operators.map((op) => [op.id, op])),
  }
  const flink = bottlenecks(ctx)
  const named = new Set(flink.map((s) => s.finding.operator))
  const threads = saturatedThreads(ctx).filter((s) => !named.has(s.finding.operator))
  const io = ioBound(ctx)
  // A job whose sink or source waits on I/O is limited by that system, not by its sources'
  // reading; and a source whose thread is saturated by its chain is that finding's case.
  const inSaturatedChain = new Set(threads.flatMap((s) => s.covers ?? []))
  const sources = io.length > 0 || ctx.view.operators.some((op) => op.kind === 'source' && inSaturatedChain.has(op.id)) ? [] : sourceBound(ctx)
  const scored = [flink, threads, io, sources, ...[skews, watermarkStalls, stateGrowth, workerPressure, errors, checkpoints].map((rule) => rule(ctx))].flat()
  // The lag rule names the cause the other rules found, so it runs after them.
  scored.push(...sourceLagFindings(view, ctx.window, o, scored), ...connectionFindings(view))
  if (scored.length === 0) scored.push(healthy(ctx))
  scored.sort((a, b) => SEVERITY_RANK[a.finding.severity] - SEVERITY_RANK[b.finding.severity] || b.score - a.score)
  return scored.map((s) => s.finding)
}

const SEVERITY_RANK: Record<Finding['severity'], number> = { critical: 0, warning: 1, info: 2 }

interface Context {
  readonly view: JobView
  readonly o: Required<DiagnosisOptions>
  /** The last `windowSamples` samples, oldest first. */
  readonly window: readonly Sample[]
  readonly longWindow: readonly Sample[]
  readonly ops: ReadonlyMap<string, OperatorView>
}

/** A finding and how far past its threshold it is (1 = at the threshold), to order within a severity. */
interface Scored {
  finding: Finding
  score: number
  /** Operators whose time the finding accounts for (a saturated thread's chain). */
  covers?: readonly string[]
}

type OpSample = Sample['operators'][string]

// ---- rule 1: bottleneck (Flink's rule: backpressured upstream, busy and not backpressured itself)

function bottlenecks(ctx: Context): Scored[] {
  const loads = new Map<string, Load>()
  for (const op of ctx.view.operators) {
    const l = loadOf(ctx, op.id)
    if (l !== null) loads.set(op.id, l)
  }
  const backpressured = (id: string): boolean => loads.get(id)?.backpressured === true
  const upstreamOf = new Map<string, string[]>()
  for (const start of ctx.view.operators.map((op) => op.id).filter(backpressured)) {
    const seen = new Set([start])
    let frontier = [start]
    while (frontier.length > 0) {
      const next: string[] = []
      for (const e of frontier.flatMap((id) => outputs(ctx, id))) {
        if (seen.has(e.to)) continue
        seen.add(e.to)
        // Walk past backpressured and quiet operators to the first busy one: tasks that share a
        // thread wait for it (not for a full queue), so the ones between need not look backpressured.
        if (backpressured(e.to)) next.push(e.to)
        else if (loads.get(e.to)?.busy === true) upstreamOf.set(e.to, [...(upstreamOf.get(e.to) ?? []), start])
        else next.push(e.to)
      }
      frontier = next
    }
  }
  return [...upstreamOf].map(([id, upstream]) => bottleneckFinding(ctx, ctx.ops.get(id) as OperatorView, loads.get(id) as Load, upstream, loads))
}

function bottleneckFinding(ctx: Context, op: OperatorView, load: Load, upstream: string[], loads: Map<string, Load>): Scored {
  const upstreamBp = Math.max(...upstream.map((id) => loads.get(id)?.backpressuredMs ?? 0))
  const evidence: Finding['evidence'] = {
    busyMsPerSecond: Math.round(load.busyMs),
    hottestSubtaskBusyMsPerSecond: Math.round(load.hotBusyMs),
    upstreamBackpressuredMsPerSecond: Math.round(upstreamBp),
    recordsInPerSecond: round(op.recordsInPerSecond),
    parallelism: op.parallelism,
    backpressuredUpstream: upstream.join(', '),
  }
  const busy = `busy ${Math.round(Math.max(load.busyMs, load.hotBusyMs))} ms/s`
  const waiting = `${names(upstream)} upstream ${upstream.length > 1 ? 'are' : 'is'} backpressured`
  const score = Math.max(load.busyMs, load.hotBusyMs) / ctx.o.busyMsPerSecond
  const finding = (title: string, recommendation: string, action: Finding['action']): Scored =>
    ({ score, finding: { kind: 'bottleneck', severity: 'critical', title, operator: op.id, evidence, recommendation, action } })

  if (op.kind === 'sink') {
    return finding(`\`${op.id}\` is the bottleneck: the sink is ${busy} on its thread (encoding and handing over records, not awaiting writes) while ${waiting}`,
      `\`${op.id}\` spends its thread on each record: write with parallel writers (raise its parallelism) or bigger batches, or use a faster sink`, null)
  }
  if (hotKeyBlocksScaling(ctx, op, load)) {
    const keys = hotKeysText(op)
    if (keys !== null) evidence.hotKeys = keys
    evidence.hotSubtask = load.hotSubtask
    return finding(`\`${op.id}\` is the bottleneck: ${busy} on ${keys === null ? `hot subtask ${load.hotSubtask}` : `hot keys ${keys}`} while ${waiting}`,
      `enable two-phase aggregation for \`${op.id}\` (give its aggregate a merge() and do not set twoPhase: false) so each upstream subtask pre-aggregates the hot key; more parallelism will not spread one key`,
      { kind: 'enable-two-phase', operator: op.id })
  }
  const q = scaledParallelism(ctx, op.parallelism, load.busyMs)
  evidence.recommendedParallelism = q
  const oneThread = ctx.view.workerCount === 0 ? ', and run the job on worker threads (--workers): it runs on one thread now' : ''
  return finding(`\`${op.id}\` is the bottleneck: ${busy} while ${waiting}`,
    `raise parallelism of \`${op.id}\` from ${op.parallelism} to ${q}${oneThread}`, { kind: 'set-parallelism', operator: op.id, parallelism: q })
}

/** Q = ceil(P × busy / target), at least P + 1, at most P × maxScaleFactor and workers × 2. */
function scaledParallelism(ctx: Context, p: number, busyMs: number): number {
  const wanted = Math.ceil((p * busyMs) / ctx.o.targetBusyMsPerSecond)
  const byWorkers = ctx.view.workerCount > 0 ? ctx.view.workerCount * 2 : Infinity
  const cap = Math.max(p + 1, Math.min(p * ctx.o.maxScaleFactor, byWorkers))
  return Math.min(Math.max(wanted, p + 1), cap)
}

/**
 * A one-phase window aggregate behind a hash exchange whose hottest key alone would keep one subtask
 * above the target, or whose subtasks are skewed: more parallelism cannot help, pre-aggregation can.
 */
function hotKeyBlocksScaling(ctx: Context, op: OperatorView, load: Load): boolean {
  if (!isOnePhaseWindowAggregate(op) || !inputs(ctx, op.id).some((e) => e.partitioning === 'hash')) return false
  const top = op.hotKeys?.[0]
  const keyLoadMs = top === undefined ? 0 : top.share * op.parallelism * load.busyMs
  return keyLoadMs >= ctx.o.targetBusyMsPerSecond || skewOf(ctx, op) !== null
}

/** Two-phase window aggregates carry "(merge)" in their label; rolling aggregates have no two-phase form. */
function isOnePhaseWindowAggregate(op: OperatorView): boolean {
  return op.label.startsWith('window(') && /\.(aggregate|reduce)\b/.test(op.label) && !op.label.includes('merge')
}

// ---- rule 1b: a saturated thread. Tasks share threads (one per worker), so a slow operator need
// not fill its input queue: the thread it shares with its upstream is simply always busy, mostly
// with it. Then that operator (or chain) is the bottleneck even without backpressure.

function saturatedThreads(ctx: Context): Scored[] {
  if (ctx.window.length < ctx.o.minSamples) return []
  // Per thread: each task subtask's mean busy time over the window (chained operators share it).
  const perThread = new Map<number, Map<string, { busy: number; ops: OperatorView[]; subtask: number }>>()
  for (const op of ctx.view.operators) {
    const s = series(ctx.window, op.id)
    if (s.length < ctx.o.minSamples) continue
    op.subtasks.forEach((sub, i) => {
      const key = `${op.task}#${i}`
      const tasks = perThread.get(sub.worker) ?? (perThread.set(sub.worker, new Map()).get(sub.worker) as Map<string, { busy: number; ops: OperatorView[]; subtask: number }>)
      const t = tasks.get(key)
      if (t !== undefined) {
        t.ops.push(op)
        return
      }
      tasks.set(key, { busy: mean(s.map((x) => x.m.subtasks[i]?.busyMsPerSecond ?? x.m.busyMsPerSecond)), ops: [op], subtask: i })
    })
  }
  const out: Scored[] = []
  for (const [worker, tasks] of perThread) {
    const list = [...tasks.values()]
    const total = sum(list.map((t) => t.busy))
    if (total < ctx.o.threadSaturatedMsPerSecond) continue
    const top = list.sort((a, b) => b.busy - a.busy)[0]
    if (top.busy < total * ctx.o.threadDominantShare) continue
    const where = worker === -1 ? 'the main thread' : `worker ${worker}`
    const work = top.ops.filter((o) => o.kind === 'operator')
    // A task of sources alone is the source-bound rule's case.
    if (top.ops.every((o) => o.kind === 'source')) continue
    const op = work.length === 1 ? work[0] : (work[work.length - 1] ?? top.ops[0])
    const evidence: Finding['evidence'] = { worker, threadBusyMsPerSecond: Math.round(total), taskBusyMsPerSecond: Math.round(top.busy), task: top.ops.map((o) => o.id).join(' -> '), parallelism: op.parallelism }
    // The thread's own CPU time tells computing from blocking: busy time is wall time in the
    // tasks' steps, which a synchronous call (or another process taking the core) also fills.
    const cpu = threadCpu(ctx, worker)
    if (cpu !== null) evidence.threadCpuMsPerSecond = Math.round(cpu)
    const offCpu = cpu !== null && cpu < total * ctx.o.threadCpuShare
      ? `; only ${Math.round(cpu)} ms/s of it on the CPU, so synchronous calls block the thread or other processes take its core` : ''
    const score = total / ctx.o.threadSaturatedMsPerSecond
    if (work.length === 1 && top.ops.length === 1) {
      const q = scaledParallelism(ctx, op.parallelism, top.busy)
      const oneThread = ctx.view.workerCount === 0 ? ' on worker threads (--workers)' : ''
      evidence.recommendedParallelism = q
      out.push({ score, covers: top.ops.map((o) => o.id), finding: {
        kind: 'bottleneck', severity: 'critical', operator: op.id, evidence,
        title: `\`${op.id}\` is the bottleneck: it takes ${Math.round(top.busy)} of the ${Math.round(total)} busy ms/s of ${where}, which has no time left${offCpu}`,
        recommendation: `raise parallelism of \`${op.id}\` from ${op.parallelism} to ${q}${oneThread}, so its work spreads over more threads`,
        action: { kind: 'set-parallelism', operator: op.id, parallelism: q },
      } })
    } else {
      out.push({ score, covers: top.ops.map((o) => o.id), finding: {
        kind: 'bottleneck', severity: 'warning', operator: op.id, evidence,
        title: `${where} is saturated (${Math.round(total)} busy ms/s), ${Math.round(top.busy)} of them in the chain ${names(top.ops.map((o) => o.id))}${offCpu}`,
        recommendation: ctx.view.workerCount === 0
          ? `the job is CPU-bound on one thread: run it with --parallelism ${Math.max(2, op.parallelism * 2)} on worker threads, or break the chain with disableChaining() before its heaviest operator to see which one it is`
          : `raise the job's parallelism (the chain runs at ${op.parallelism}), or break the chain with disableChaining() before its heaviest operator to see which one it is`,
        action: null,
      } })
    }
  }
  return out
}

/** A thread's CPU ms/s over the window (samples without it: the current view's), or null when unknown. */
function threadCpu(ctx: Context, worker: number): number | null {
  const xs = ctx.window.flatMap((s) => s.workers?.find((w) => w.worker === worker)?.cpuMsPerSecond ?? [])
  if (xs.length > 0) return mean(xs)
  return ctx.view.workers.find((w) => w.worker === worker)?.cpuMsPerSecond ?? null
}

// ---- rule 1c: I/O-bound. A sink awaiting its writes (or a source its reads) leaves its thread free
// for other work, so neither more CPU nor another thread helps it; fewer, larger requests or more
// of them in flight at once (parallel subtasks, even on one thread) do.

function ioBound(ctx: Context): Scored[] {
  const ops = ctx.view.operators
  const sinkTasks = new Set(ops.filter((op) => op.kind === 'sink').map((op) => op.task))
  const out: Scored[] = []
  for (const op of ops) {
    // Operators chained into a task share its times: the calls it awaits are its sink's, or its source's when it has no sink.
    if (op.kind === 'operator' || (op.kind === 'source' && sinkTasks.has(op.task))) continue
    const load = loadOf(ctx, op.id)
    if (load === null || !load.waiting) continue
    const waitMs = Math.max(load.waitingMs, load.hotWaitingMs)
    const percent = Math.round(waitMs / 10)
    const above = ancestors(ctx, op.id)
    const upstream = ops.filter((o) => above.has(o.id) && loadOf(ctx, o.id)?.backpressured === true).map((o) => o.id)
    const limits = load.saturated || upstream.length > 0
    const sink = op.kind === 'sink'
    const evidence: Finding['evidence'] = {
      waitingMsPerSecond: Math.round(waitMs),
      waitingPercent: percent,
      busyMsPerSecond: Math.round(load.busyMs),
      parallelism: op.parallelism,
      [sink ? 'recordsInPerSecond' : 'recordsOutPerSecond']: round(sink ? op.recordsInPerSecond : op.recordsOutPerSecond),
    }
    if (upstream.length > 0) evidence.backpressuredUpstream = upstream.join(', ')
    const q = scaledParallelism(ctx, op.parallelism, load.busyMs + load.waitingMs)
    if (limits) evidence.recommendedParallelism = q
    const what = sink ? 'writes' : 'reads'
    const held = upstream.length > 0 ? ` while ${names(upstream)} upstream ${upstream.length > 1 ? 'are' : 'is'} backpressured` : limits ? ', so it cannot take records faster' : ', with time to spare'
    const more = limits ? ` from ${op.parallelism} to ${q}` : ''
    out.push({
      score: waitMs / ctx.o.waitingMsPerSecond,
      finding: {
        kind: 'io-bound', severity: limits ? 'critical' : 'info', operator: op.id, evidence,
        title: `the ${sink ? 'sink' : 'source'} \`${op.id}\` waits on I/O ${percent} % of the time (${Math.round(waitMs)} ms/s awaiting its ${what}, ${Math.round(load.busyMs)} ms/s busy on its thread)${held}`,
        recommendation: sink
          ? `batch its writes (fewer, larger requests) or raise its parallelism${more} so more writes are in flight at once; the system it writes to is the limit, so more CPU or threads will not help`
          : `read bigger batches (fewer, larger requests) or, if \`${op.id}\` is splittable (several files or partitions), raise its parallelism${more} so more reads are in flight at once; more CPU will not help`,
        action: limits && sink ? { kind: 'set-parallelism', operator: op.id, parallelism: q } : null,
      },
    })
  }
  return out
}

// ---- rule 2: source-bound

function sourceBound(ctx: Context): Scored[] {
  const sources = ctx.view.operators.filter((op) => op.kind === 'source')
  const loads = sources.map((op) => loadOf(ctx, op.id))
  if (sources.length === 0 || loads.some((l) => l === null || !l.busy || l.backpressured)) return []
  // Operators chained into a source's task share its busy time; they are not "downstream" of it.
  const sourceTasks = new Set(sources.map((op) => op.task))
  for (const op of ctx.view.operators) {
    if (op.kind === 'source' || sourceTasks.has(op.task)) continue
    const l = loadOf(ctx, op.id)
    if (l !== null && (l.busy || l.backpressured)) return []
  }
  const busiest = sources.map((op, i) => ({ op, load: loads[i] as Load })).sort((a, b) => b.load.busyMs - a.load.busyMs)[0]
  const { op, load } = busiest
  const q = scaledParallelism(ctx, op.parallelism, load.busyMs)
  return [{
    score: load.busyMs / ctx.o.busyMsPerSecond,
    finding: {
      kind: 'source-bound', severity: 'info', operator: op.id,
      title: `the job is source-bound: ${names(sources.map((s) => s.id))} ${sources.length > 1 ? 'are' : 'is'} busy ${Math.round(load.busyMs)} ms/s reading while nothing downstream is busy or backpressured, so the sources cannot read faster`,
      evidence: { busyMsPerSecond: Math.round(load.busyMs), recordsPerSecond: round(ctx.view.recordsPerSecond), parallelism: op.parallelism, sources: sources.length },
      recommendation: `the source cannot keep up: if \`${op.id}\` is splittable (several files or partitions), raise its parallelism from ${op.parallelism} to ${q}; otherwise add partitions or use a faster source`,
      action: null,
    },
  }]
}

// ---- rule 3: skew

interface Skew { hotSubtask: number; hot: number; median: number; share: number; metric: 'recordsInPerSecond' | 'busyMsPerSecond' }

function skewOf(ctx: Context, op: OperatorView): Skew | null {
  const s = series(ctx.window, op.id)
  const p = op.parallelism
  if (p < 2 || op.kind === 'source' || s.length < ctx.o.minSamples) return null
  const avg = (pick: (x: OpSample['subtasks'][number]) => number): number[] =>
    Array.from({ length: p }, (_, i) => mean(s.map((x) => (x.m.subtasks[i] === undefined ? 0 : pick(x.m.subtasks[i])))))
  const records = avg((x) => x.recordsInPerSecond)
  const busy = avg((x) => x.busyMsPerSecond)
  const [metric, values] = sum(records) >= ctx.o.skewMinRecordsPerSecond ? ['recordsInPerSecond', records] as const
    : Math.max(...busy) >= ctx.o.skewMinBusyMsPerSecond ? ['busyMsPerSecond', busy] as const : [null, []] as const
  if (metric === null) return null
  const hot = Math.max(...values)
  const median = [...values].sort((a, b) => a - b)[(p - 1) >> 1] // the lower middle: with two subtasks, the smaller
  const share = hot / sum(values)
  if (hot < ctx.o.skewMaxToMedian * median || share < ctx.o.skewShareFactor / p) return null
  return { hotSubtask: values.indexOf(hot), hot, median, share, metric }
}

function skews(ctx: Context): Scored[] {
  return ctx.view.operators.flatMap((op) => {
    const skew = skewOf(ctx, op)
    if (skew === null) return []
    const unit = skew.metric === 'recordsInPerSecond' ? 'records/s' : 'ms/s busy'
    const keys = hotKeysText(op)
    const evidence: Finding['evidence'] = {
      parallelism: op.parallelism,
      hotSubtask: skew.hotSubtask,
      [`hotSubtask${cap(skew.metric)}`]: round(skew.hot),
      [`median${cap(skew.metric)}`]: round(skew.median),
      hotSubtaskSharePercent: Math.round(skew.share * 100),
    }
    if (keys !== null) evidence.hotKeys = keys
    const topKey = op.hotKeys?.[0]?.key
    const twoPhase = isOnePhaseWindowAggregate(op)
    return [{
      score: (skew.share * op.parallelism) / ctx.o.skewShareFactor,
      finding: {
        kind: 'skew', severity: 'warning', operator: op.id, evidence,
        title: `\`${op.id}\` is skewed: subtask ${skew.hotSubtask} gets ${Math.round(skew.share * 100)}% of its load (${round(skew.hot)} ${unit} against a median of ${round(skew.median)})${keys === null ? '' : `, hot keys ${keys}`}`,
        recommendation: `${twoPhase ? 'enable two-phase aggregation (pre-aggregate before the exchange)' : 'pre-aggregate before the keyBy (two-phase)'}, salt the hot key${topKey === undefined ? '' : ` \`${topKey}\``} (add a small random suffix, then combine the partial results), or key by something finer`,
        action: twoPhase ? { kind: 'enable-two-phase', operator: op.id } : null,
      },
    }]
  })
}

function hotKeysText(op: OperatorView): string | null {
  const top = (op.hotKeys ?? []).slice(0, 3)
  return top.length === 0 ? null : top.map((k) => `\`${k.key}\` (${Math.round(k.share * 100)}%)`).join(', ')
}

// ---- rule 4: watermark stalled or falling behind

interface WatermarkTrouble { stalled: boolean; lagMs: number | null; advanceMs: number | null; elapsedMs: number }

function watermarkStalls(ctx: Context): Scored[] {
  const troubled = new Map<string, WatermarkTrouble>()
  for (const op of ctx.view.operators) {
    const t = watermarkTrouble(ctx, op)
    if (t !== null) troubled.set(op.id, t)
  }
  // Downstream of a held watermark every watermark is held too: report only where it starts.
  return [...troubled].filter(([id]) => ![...ancestors(ctx, id)].some((a) => troubled.has(a))).map(([id, t]) => {
    const op = ctx.ops.get(id) as OperatorView
    const heldDownstream = [...troubled.keys()].filter((d) => ancestors(ctx, d).has(id))
    return watermarkFinding(ctx, op, t, heldDownstream)
  })
}

function watermarkTrouble(ctx: Context, op: OperatorView): WatermarkTrouble | null {
  const s = series(ctx.window, op.id)
  if (s.length < ctx.o.minSamples) return null
  const rate = (m: OpSample): number => (op.kind === 'source' ? m.recordsOutPerSecond : m.recordsInPerSecond)
  if (share(s.map((x) => rate(x.m)), (r) => r > 0) < ctx.o.persistenceShare) return null
  const lags = s.flatMap((x) => (x.m.watermarkLagMs === null ? [] : [{ t: x.t, lag: x.m.watermarkLagMs }]))
  const elapsedMs = s[s.length - 1].t - s[0].t
  if (lags.length === 0) {
    // Records flow but no watermark ever came, though an upstream operator has one: an input never emitted any.
    const upstreamHasOne = [...ancestors(ctx, op.id)].some((a) => typeof ctx.ops.get(a)?.watermark === 'number')
    return op.watermark === null && upstreamHasOne ? { stalled: true, lagMs: null, advanceMs: null, elapsedMs } : null
  }
  if (lags.length < ctx.o.minSamples) return null
  const first = lags[0]
  const last = lags[lags.length - 1]
  const span = last.t - first.t
  if (span <= 0 || last.lag < ctx.o.watermarkLagMs) return null
  const advanceMs = span - (last.lag - first.lag)
  const steps = lags.slice(1).map((x, i) => x.lag - lags[i].lag)
  const rising = last.lag > first.lag && share(steps, (d) => d > 0) >= ctx.o.persistenceShare
  const stalled = advanceMs <= span * ctx.o.stalledAdvanceRatio
  return stalled || rising ? { stalled, lagMs: op.watermarkLagMs ?? last.lag, advanceMs, elapsedMs: span } : null
}

function watermarkFinding(ctx: Context, op: OperatorView, t: WatermarkTrouble, heldDownstream: string[]): Scored {
  const seconds = Math.round(t.elapsedMs / 1000)
  const evidence: Finding['evidence'] = { windowSeconds: seconds }
  if (t.lagMs !== null) evidence.watermarkLagMs = Math.round(t.lagMs)
  if (t.advanceMs !== null) evidence.watermarkAdvanceMs = Math.round(Math.max(0, t.advanceMs))
  evidence.recordsInPerSecond = round(op.kind === 'source' ? op.recordsOutPerSecond : op.recordsInPerSecond)
  if (heldDownstream.length > 0) evidence.alsoHeldBack = heldDownstream.join(', ')
  const holder = op.kind === 'source' ? op : holdingSource(ctx, op.id)
  const idle = holder === null ? null : idleInput(ctx, holder)
  if (holder !== null && holder.id !== op.id) evidence.heldBy = holder.id
  const input = op.kind === 'source' ? undefined : slowestInput(ctx, op.id)
  if (input !== undefined && input.id !== holder?.id) evidence.heldByInput = input.id
  if (idle !== null) evidence.idleInput = idle

  const what = t.stalled ? `has not advanced for ${seconds} s while records flow` : `falls behind the wall clock (lag ${round(t.lagMs ?? 0)} ms and rising)`
  const cause = idle !== null ? `: ${idle} reads nothing and holds it back`
    : holder !== null && holder.id !== op.id ? `: \`${holder.id}\` holds it back` : ''
  const recommendation = idle !== null && holder !== null
    ? `give the watermark strategy of \`${holder.id}\` an idle timeout, e.g. boundedOutOfOrderness({ ..., idleTimeoutMs: 30_000 }), so an input that reads nothing stops holding back the watermark`
    : t.stalled
      ? `check the watermark strategy of \`${holder?.id ?? op.id}\`: its event times do not advance (timestamps from the past, or a maxOutOfOrdernessMs far too large); windows and timers downstream will not fire`
      : `the watermark lags more and more: the sources read slower than events arrive (see any bottleneck finding) or event times run behind; windows fire late until it catches up`
  return {
    score: (t.lagMs ?? ctx.o.watermarkLagMs) / ctx.o.watermarkLagMs,
    finding: {
      kind: 'watermark-stalled', severity: t.stalled ? 'critical' : 'warning', operator: op.id, evidence, recommendation, action: null,
      title: `the watermark of \`${op.id}\` ${what}${cause}`,
    },
  }
}

/** The input with the smallest watermark (none counts as smallest). */
function slowestInput(ctx: Context, id: string): OperatorView | undefined {
  const ins = inputs(ctx, id).map((e) => ctx.ops.get(e.from)).filter((x): x is OperatorView => x !== undefined)
  return ins.sort((a, b) => (a.watermark ?? -Infinity) - (b.watermark ?? -Infinity))[0]
}

/** Walks up through the slowest inputs to the source that holds the watermark. */
function holdingSource(ctx: Context, id: string): OperatorView | null {
  const seen = new Set<string>()
  let at = ctx.ops.get(id)
  while (at !== undefined && at.kind !== 'source' && !seen.has(at.id)) {
    seen.add(at.id)
    at = slowestInput(ctx, at.id)
  }
  return at?.kind === 'source' ? at : null
}

/** "source `x`" when a source reads nothing while the others flow, "partition N of `x`" for an idle subtask. */
function idleInput(ctx: Context, source: OperatorView): string | null {
  const sources = ctx.view.operators.filter((op) => op.kind === 'source')
  const flowing = (op: OperatorView): boolean => share(series(ctx.window, op.id).map((x) => x.m.recordsOutPerSecond), (r) => r > 0) >= ctx.o.persistenceShare
  if (!flowing(source) && sources.some((s) => s !== source && flowing(s))) return `source \`${source.id}\``
  const subs = source.subtasks
  const idle = subs.find((s) => s.recordsOutPerSecond === 0)
  return idle !== undefined && subs.some((s) => s.recordsOutPerSecond > 0) ? `partition ${idle.subtask} of \`${source.id}\`` : null
}

// ---- rule 5: state growth

function stateGrowth(ctx: Context): Scored[] {
  return ctx.view.operators.flatMap((op) => {
    const s = series(ctx.longWindow, op.id)
    if (s.length < ctx.o.windowSamples || s.length < 2) return []
    const entries = s.map((x) => x.m.stateEntries)
    const growth = entries[entries.length - 1] - entries[0]
    const ratio = entries[0] > 0 ? growth / entries[0] : Infinity
    const monotonic = entries.every((e, i) => i === 0 || e >= entries[i - 1])
    if (!monotonic || growth <= ctx.o.stateGrowthEntries || ratio <= ctx.o.stateGrowthRatio) return []
    const seconds = (s[s.length - 1].t - s[0].t) / 1000
    const perSecond = round(growth / seconds)
    return [{
      score: ratio === Infinity ? 10 : ratio / ctx.o.stateGrowthRatio,
      finding: {
        kind: 'state-growth', severity: 'warning', operator: op.id, action: null,
        title: `state of \`${op.id}\` grows by ${perSecond} entries/s (${entries[0]} to ${entries[entries.length - 1]} in ${Math.round(seconds)} s) and never shrinks`,
        evidence: {
          stateEntries: op.stateEntries, stateBytes: op.stateBytes, stateGrowthEntriesPerSecond: perSecond,
          stateGrowthPercent: ratio === Infinity ? 'new' : Math.round(ratio * 100), windowSeconds: Math.round(seconds),
        },
        recommendation: `give the state of \`${op.id}\` a TTL if old keys never come back, use shorter windows, or check that its windows close (its watermark advances)`,
      },
    }]
  })
}

// ---- rule 6: event-loop and GC pressure (current values only: samples carry no worker metrics)

function workerPressure(ctx: Context): Scored[] {
  return ctx.view.workers.flatMap((w): Scored[] => {
    const where = w.worker === -1 ? 'the main thread' : `worker ${w.worker}`
    const running = ctx.view.operators.filter((op) => op.subtasks.some((s) => s.worker === w.worker)).map((op) => op.id)
    const runs = running.length === 0 ? '' : ` (runs ${names(running)})`
    const out: Scored[] = []
    const delay = w.eventLoopDelayP99Ms
    if (delay !== null && delay > ctx.o.eventLoopDelayP99Ms) {
      out.push({
        score: delay / ctx.o.eventLoopDelayP99Ms,
        finding: {
          kind: 'event-loop', severity: 'warning', operator: null, action: null,
          title: `the event loop of ${where}${runs} is delayed ${Math.round(delay)} ms at p99`,
          evidence: { worker: w.worker, eventLoopDelayP99Ms: Math.round(delay), ...(w.eventLoopDelayMaxMs === null ? {} : { eventLoopDelayMaxMs: Math.round(w.eventLoopDelayMaxMs) }) },
          recommendation: `a long synchronous step blocks ${where}: use smaller batches, split heavy per-record work, or spread its operators over more workers`,
        },
      })
    }
    if (w.gcPauseMsPerSecond > ctx.o.gcPauseMsPerSecond) {
      const heapPercent = w.heapLimitBytes > 0 ? Math.round((w.heapUsedBytes / w.heapLimitBytes) * 100) : null
      out.push({
        score: w.gcPauseMsPerSecond / ctx.o.gcPauseMsPerSecond,
        finding: {
          kind: 'gc', severity: 'warning', operator: null, action: null,
          title: `${where}${runs} spends ${Math.round(w.gcPauseMsPerSecond)} ms/s in garbage collection`,
          evidence: { worker: w.worker, gcPauseMsPerSecond: Math.round(w.gcPauseMsPerSecond), heapUsedBytes: w.heapUsedBytes, heapLimitBytes: w.heapLimitBytes, ...(heapPercent === null ? {} : { heapUsedPercent: heapPercent }) },
          recommendation: `hold less state in objects, keep fewer records buffered, use smaller batches, or give it more heap (node --max-old-space-size)`,
        },
      })
    }
    return out
  })
}

// ---- rule 7: failing records (counters since start: samples carry no per-second error counts)

function errors(ctx: Context): Scored[] {
  const seconds = Math.max(1, ctx.view.uptimeMs / 1000)
  return ctx.view.operators.flatMap((op) => {
    const failed = Math.max(op.errors, op.skippedRecords + op.deadLetteredRecords)
    if (failed === 0) return []
    const perSecond = round(failed / seconds)
    const how = op.deadLetteredRecords > 0 ? 'dead-lettered' : op.skippedRecords > 0 ? 'skipped' : 'failed on'
    return [{
      score: failed / seconds,
      finding: {
        kind: 'errors', severity: 'warning', operator: op.id, action: null,
        title: `\`${op.id}\` ${how} ${failed} records (${perSecond}/s since the job started)`,
        evidence: { errors: op.errors, skippedRecords: op.skippedRecords, deadLetteredRecords: op.deadLetteredRecords, failedPerSecond: perSecond },
        recommendation: op.deadLetteredRecords > 0
          ? `look at the dead-letter output of \`${op.id}\`: each entry has the record, where it came from and why it failed`
          : `records that fail in \`${op.id}\` are dropped; set onError: 'dead-letter' on it to see which records fail and why`,
      },
    }]
  })
}

// ---- rule 8: checkpoints failing, or their snapshots taking much of the tasks' time

function checkpoints(ctx: Context): Scored[] {
  const c = ctx.view.checkpoints
  if (c === null) return []
  const out: Scored[] = []
  // A checkpoint in flight when a task ends (a bounded job finishing) fails harmlessly.
  const f = ctx.view.status === 'running' && c.lastFailure !== null && !/task (ended|had ended)/.test(c.lastFailure.reason) ? c.lastFailure : null
  if (f !== null) {
    const timedOut = /timed out/.test(f.reason)
    const why = f.reason.replace(/^[A-Z_]+: /, '').split(': ')[0]
    out.push({
      score: 1 + c.failed / Math.max(1, c.completed),
      finding: {
        kind: 'checkpoints', severity: c.completed === 0 ? 'critical' : 'warning', operator: null, action: null,
        title: `checkpoints are failing: checkpoint ${f.id} failed (${why}); ${c.failed} failed, ${c.completed} completed`,
        evidence: { failed: c.failed, completed: c.completed, lastFailedId: f.id, timeoutMs: c.timeoutMs, ...(c.lastStartDelayMs === null ? {} : { lastStartDelayMs: c.lastStartDelayMs }) },
        recommendation: timedOut
          ? 'a barrier waits behind the records queued ahead of it, so backpressure slows checkpoints down: remove the bottleneck (see the other findings), lower channelCapacity, or raise --checkpoint-timeout'
          : `${f.reason}; after a failure the job resumes from checkpoint ${c.lastId === 0 ? '(none yet: from the start)' : c.lastId}`,
      },
    })
  }
  if (c.lastSyncMs !== null && c.intervalMs > 0 && c.lastSyncMs > ctx.o.checkpointSyncShare * c.intervalMs) {
    const share = c.lastSyncMs / c.intervalMs
    out.push({
      score: share / ctx.o.checkpointSyncShare,
      finding: {
        kind: 'checkpoints', severity: 'warning', operator: null, action: null,
        title: `checkpoint snapshots stop a task for ${Math.round(c.lastSyncMs)} ms every ${round(c.intervalMs / 1000)} s (${Math.round(share * 100)} % of its time)`,
        evidence: { lastSyncMs: Math.round(c.lastSyncMs), intervalMs: c.intervalMs, ...(c.lastSizeBytes === null ? {} : { lastSizeBytes: c.lastSizeBytes }) },
        recommendation: `take checkpoints less often (--checkpoint-interval ${Math.ceil((c.lastSyncMs / ctx.o.checkpointSyncShare) / 1000)}s keeps it under ${Math.round(ctx.o.checkpointSyncShare * 100)} %), or keep less state (a TTL, shorter windows)`,
      },
    })
  }
  return out
}

// ---- nothing found

function healthy(ctx: Context): Scored {
  const { view } = ctx
  const evidence: Finding['evidence'] = { recordsPerSecond: round(view.recordsPerSecond) }
  if (view.latency !== null) evidence.latencyP99Ms = Math.round(view.latency.p99)
  const busiest = view.operators.map((op) => ({ op, load: loadOf(ctx, op.id) })).filter((x) => x.load !== null).sort((a, b) => (b.load as Load).busyMs - (a.load as Load).busyMs)[0]
  if (busiest !== undefined) {
    evidence.busiestOperator = busiest.op.id
    evidence.busiestBusyMsPerSecond = Math.round((busiest.load as Load).busyMs)
  }
  evidence.historySeconds = ctx.window.length
  const p99 = view.latency === null ? '' : `, p99 latency ${Math.round(view.latency.p99)} ms`
  return {
    score: 0,
    finding: {
      kind: 'healthy', severity: 'info', operator: null, action: null, evidence,
      title: `the job is healthy: ${round(view.recordsPerSecond)} records/s${p99}, no bottleneck, skew or stalled watermark`,
      recommendation: 'nothing to change',
    },
  }
}

// ---- shared measurements

interface Load {
  /** Mean over subtasks, averaged over the window. */
  busyMs: number
  hotBusyMs: number
  hotSubtask: number
  /** Awaiting external calls: mean over subtasks, and the subtask waiting most, averaged over the window. */
  waitingMs: number
  hotWaitingMs: number
  backpressuredMs: number
  busy: boolean
  waiting: boolean
  /** Busy and waiting together leave it no time: it takes records as fast as it can. */
  saturated: boolean
  backpressured: boolean
}

function loadOf(ctx: Context, id: string): Load | null {
  const s = series(ctx.window, id)
  if (s.length < ctx.o.minSamples) return null
  const busyBySubtask = (m: OpSample): number[] => (m.subtasks.length > 0 ? m.subtasks.map((x) => x.busyMsPerSecond) : [m.busyMsPerSecond])
  const meanBusy = s.map((x) => mean(busyBySubtask(x.m)))
  const hotBusy = s.map((x) => Math.max(...busyBySubtask(x.m)))
  const bp = s.map((x) => x.m.backpressuredMsPerSecond)
  const width = Math.max(...s.map((x) => busyBySubtask(x.m).length))
  const perSubtask = Array.from({ length: width }, (_, i) => mean(s.map((x) => busyBySubtask(x.m)[i] ?? 0)))
  const hot = Math.max(...perSubtask)
  // Samples from before waiting was measured have none.
  const waitingBySubtask = (m: OpSample): number[] => (m.subtasks.length > 0 ? m.subtasks.map((x) => x.waitingMsPerSecond ?? 0) : [m.waitingMsPerSecond ?? 0])
  const meanWaiting = s.map((x) => mean(waitingBySubtask(x.m)))
  const hotWaiting = s.map((x) => Math.max(...waitingBySubtask(x.m)))
  const occupied = s.map((x) => Math.max(...busyBySubtask(x.m).map((b, i) => b + (waitingBySubtask(x.m)[i] ?? 0))))
  const { busyMsPerSecond: busyAt, backpressuredMsPerSecond: bpAt, waitingMsPerSecond: waitAt } = ctx.o
  return {
    busyMs: mean(meanBusy),
    hotBusyMs: hot,
    hotSubtask: perSubtask.indexOf(hot),
    waitingMs: mean(meanWaiting),
    hotWaitingMs: mean(hotWaiting),
    backpressuredMs: mean(bp),
    busy: sustained(ctx, meanBusy, busyAt) || sustained(ctx, hotBusy, busyAt),
    waiting: sustained(ctx, meanWaiting, waitAt) || sustained(ctx, hotWaiting, waitAt),
    saturated: sustained(ctx, occupied, busyAt),
    backpressured: sustained(ctx, bp, bpAt),
  }
}

/** Holds on average and in at least `persistenceShare` of the samples. */
function sustained(ctx: Context, values: readonly number[], threshold: number): boolean {
  return values.length > 0 && mean(values) >= threshold && share(values, (v) => v >= threshold) >= ctx.o.persistenceShare
}

function series(window: readonly Sample[], id: string): { t: number; m: OpSample }[] {
  return window.flatMap((s) => (s.operators[id] === undefined ? [] : [{ t: s.t, m: s.operators[id] }]))
}

function inputs(ctx: Context, id: string): JobView['graph']['edges'] {
  return ctx.view.graph.edges.filter((e) => e.to === id)
}

function outputs(ctx: Context, id: string): JobView['graph']['edges'] {
  return ctx.view.graph.edges.filter((e) => e.from === id)
}

function ancestors(ctx: Context, id: string): Set<string> {
  const found = new Set<string>()
  const stack = [id]
  while (stack.length > 0) {
    for (const e of inputs(ctx, stack.pop() as string)) {
      if (!found.has(e.from)) {
        found.add(e.from)
        stack.push(e.from)
      }
    }
  }
  return found
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)
const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : sum(xs) / xs.length)
const share = (xs: readonly number[], pred: (x: number) => boolean): number => (xs.length === 0 ? 0 : xs.filter(pred).length / xs.length)
const cap = (s: string): string => s[0].toUpperCase() + s.slice(1)
/** "`a`", "`a` and `b`", "`a`, `b` and `c`". */
function names(ids: readonly string[]): string {
  const quoted = ids.map((id) => `\`${id}\``)
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`
}

/** Whole numbers from 100 up, one decimal from 1, two below. */
function round(n: number): number {
  const a = Math.abs(n)
  return a >= 100 ? Math.round(n) : a >= 1 ? Math.round(n * 10) / 10 : Math.round(n * 100) / 100
}
