/**
 * Watches one running job: once a second it takes the job's cumulative metrics, turns them into
 * rates and a JobView (docs/API.md), keeps ten minutes of per-second samples, latency windows of
 * the last 10 s, the diagnosis, objectives and alerts, and the exceptions. Everything the HTTP
 * server, /metrics, the dashboard and `sluice top` show comes from here. Off the hot path: it
 * only reads counters the tasks keep anyway.
 */
import type { JobDefinition } from '../graph/job.ts'
import type { JobHandle } from '../runtime/coordinator/run-options.ts'
import type { JobMetrics, TaskMetricsSnapshot } from '../metrics/task-metrics.ts'
import { physicalPlan, type PhysicalPlan } from '../graph/physical.ts'
import type { CheckpointStats } from '../runtime/checkpoint/stats.ts'
import { callsView } from './calls-view.ts'
import { checkpointView, recordView, restoreMessage } from './checkpoints-view.ts'
import { diagnose } from './diagnosis.ts'
import { addSparse, BUCKETS, percentiles } from '../metrics/histogram.ts'
import { CheckpointDurations } from '../metrics/checkpoint-durations.ts'
import { ObjectiveEvaluator, postAlert } from './objectives.ts'
import { ThreadStats } from '../metrics/thread-stats.ts'
import { hotKeysOf, type HotKeySummary } from '../metrics/top-k.ts'
import { connections, sourceProgress } from './source-progress.ts'
import { aggregate, kindOf, round, sampleOf, stateOf, whereFrom, workersOf } from './view-parts.ts'
import { isManualClock, systemClock, type Clock } from '../time/clock.ts'
import type { Alert, CheckpointsView, ExceptionEntry, Finding, JobView, Objective, OperatorView, Percentiles, Sample } from './types.ts'

const HISTORY_SECONDS = 600
/** Latency percentiles cover the markers of this many last samples. */
const LATENCY_WINDOW = 10

export interface MonitorOptions {
  /** Sampling period (ms). Default 1000. */
  readonly intervalMs?: number
  /** Where alert and failure lines go (default stderr). */
  readonly log?: (line: string) => void
  /**
   * The time of samples, rates, uptime and watermark lag. Default: the system clock, sampled by a
   * timer. A ManualClock (tests) is sampled when it is advanced to the next sample's time, so a
   * test steps the monitor instead of waiting for it.
   */
  readonly clock?: Clock
}

type Listener<T> = (v: T) => void

interface Cumulative {
  t: number
  metrics: JobMetrics
  /** Latency histograms per task key ("task#subtask"), dense. */
  latency: Map<string, Float64Array>
}

export class JobMonitor {
  readonly plan: PhysicalPlan
  private prev: Cumulative | null = null
  private readonly latencyRing: Cumulative[] = []
  private readonly samples: Sample[] = []
  private current: JobView
  private findings: Finding[] = []
  private readonly evaluator: ObjectiveEvaluator
  private readonly exceptionList: ExceptionEntry[] = []
  private readonly mainThread = new ThreadStats(-1)
  private timer: NodeJS.Timeout | null = null
  /** Unsubscribes from a ManualClock's advances. */
  private offAdvance: (() => void) | null = null
  private readonly clock: Clock
  private endedStatus: JobView['status'] | null = null
  private readonly snapshotListeners = new Set<Listener<JobView>>()
  private readonly alertListeners = new Set<Listener<Alert>>()
  private readonly endListeners = new Set<Listener<JobView>>()
  private readonly taskOrder: Map<string, number>
  private readonly log: (line: string) => void
  /** The restore last put into the exception history ("time:checkpointId"), so each is listed once. */
  private restoreSeen: string | null = null
  private restartCount = 0
  /** Durations of the checkpoints completed since the monitor started (for /metrics). */
  readonly checkpointDurations = new CheckpointDurations()

  constructor(
    readonly id: string,
    readonly pipeline: JobDefinition,
    readonly handle: JobHandle,
    private readonly options: MonitorOptions = {},
  ) {
    this.plan = physicalPlan(pipeline.graph, handle.parallelism, pipeline.maxParallelism)
    this.taskOrder = new Map()
    this.plan.chains.forEach((chain, i) => {
      for (const id of chain) this.taskOrder.set(id, i)
    })
    this.evaluator = new ObjectiveEvaluator(pipeline.objectives)
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`))
    this.clock = options.clock ?? systemClock
    const checkpoints = handle.checkpoints()
    this.current = this.buildView(null, null, this.clock.now(), checkpoints)
    this.noteRestore(checkpoints)
    handle.onRestart((r) => {
      this.restartCount++
      this.exceptionList.push({ time: r.time, ...whereFrom(r.error), message: `${r.error} — restarting from the latest checkpoint (restart ${r.restart} of ${r.attempts})`, kind: 'restart' })
    })
    handle.done.then(
      (r) => this.end(r.status),
      (e: unknown) => {
        this.exceptionList.push({ time: this.clock.now(), ...whereFrom(e), message: e instanceof Error ? e.message : String(e), kind: 'error' })
        this.end('failed')
      },
    )
  }

  start(): this {
    const every = this.options.intervalMs ?? 1000
    this.sample()
    const clock = this.clock
    if (isManualClock(clock)) {
      // One sample per advance that reaches the next sample's time (a jump of several intervals
      // gives one: its rates cover the whole jump).
      let due = clock.now() + every
      this.offAdvance = clock.onAdvance(() => {
        if (clock.now() < due) return
        due = clock.now() + every
        this.sample()
      })
      return this
    }
    this.timer = setInterval(() => this.sample(), every)
    this.timer.unref()
    return this
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.offAdvance?.()
    this.offAdvance = null
    this.mainThread.stop()
  }

  view(): JobView {
    return this.current
  }

  history(seconds: number): Sample[] {
    return this.samples.slice(-seconds)
  }

  diagnosis(): Finding[] {
    return this.findings
  }

  /** The objectives and every alert so far (firing or resolved), oldest first. */
  alerts(): { objectives: Objective[]; alerts: Alert[] } {
    return { objectives: this.evaluator.objectives, alerts: this.evaluator.history.map((a) => ({ ...a })) }
  }

  /** The job's cumulative metrics at the latest sample (null before the first): what /metrics exports. */
  latestMetrics(): JobMetrics | null {
    return this.prev?.metrics ?? null
  }

  /** Restarts of the job since this monitor started (the job view's `checkpoints.restarts` counts all). */
  get restarts(): number {
    return this.restartCount
  }

  /** Failures, restarts and restores, oldest first. */
  exceptions(): ExceptionEntry[] {
    return this.exceptionList
  }

  /** The checkpoint figures and the latest checkpoints (newest first), read now; null without checkpoints. */
  checkpoints(): CheckpointsView | null {
    const s = this.handle.checkpoints()
    const v = checkpointView(s)
    if (s === null || v === null) return null
    // Newest first by trigger time: the history is in the order checkpoints ended, and one may end
    // while the next is already under way (ids alone could repeat after a restart).
    return { ...v, history: s.history.map(recordView).sort((a, b) => b.triggeredAt - a.triggeredAt || b.id - a.id) }
  }

  /** A restore not listed yet (at start, or by the attempt after a restart) goes into the exception history. */
  private noteRestore(s: CheckpointStats | null): void {
    const r = s?.restore ?? null
    if (r === null) return
    const key = `${r.time}:${r.checkpointId}`
    if (key === this.restoreSeen) return
    this.restoreSeen = key
    this.exceptionList.push({ time: r.time, operator: null, subtask: null, message: restoreMessage(r, s?.restarts ?? 0), kind: 'restore' })
  }

  onSnapshot(l: Listener<JobView>): () => void {
    this.snapshotListeners.add(l)
    return () => this.snapshotListeners.delete(l)
  }

  onAlert(l: Listener<Alert>): () => void {
    this.alertListeners.add(l)
    return () => this.alertListeners.delete(l)
  }

  onEnd(l: Listener<JobView>): () => void {
    if (this.endedStatus !== null) {
      l(this.current)
      return () => {}
    }
    this.endListeners.add(l)
    return () => this.endListeners.delete(l)
  }

  get ended(): boolean {
    return this.endedStatus !== null
  }

  private end(status: JobView['status']): void {
    // A last sample with the final counters, then stop sampling.
    this.sample()
    this.endedStatus = status
    this.current = { ...this.current, status }
    this.stop()
    for (const l of this.endListeners) l(this.current)
  }

  /** Takes one sample now (also called by the timer). */
  sample(): void {
    if (this.endedStatus !== null) return
    const now = this.clock.now()
    const metrics = this.handle.metrics()
    metrics.threads = [...(metrics.threads ?? []), this.mainThread.snapshot()]
    const latency = new Map<string, Float64Array>()
    for (const t of metrics.tasks) {
      const d = new Float64Array(BUCKETS)
      addSparse(d, t.latency)
      latency.set(`${t.task}#${t.subtask}`, d)
    }
    const cur: Cumulative = { t: now, metrics, latency }
    this.latencyRing.push(cur)
    if (this.latencyRing.length > LATENCY_WINDOW + 1) this.latencyRing.shift()
    const checkpoints = this.handle.checkpoints()
    this.noteRestore(checkpoints)
    this.checkpointDurations.observe(checkpoints)
    const view = this.buildView(cur, this.prev, now, checkpoints)
    this.prev = cur
    this.current = view
    this.samples.push(sampleOf(view, now))
    if (this.samples.length > HISTORY_SECONDS) this.samples.shift()
    this.findings = diagnose(view, this.samples)
    view.topFinding = this.findings[0] ?? null
    const changed = this.evaluator.step(view, now)
    view.alerts = this.evaluator.firing()
    for (const a of changed) {
      this.log(`sluice: alert ${a.state}: ${a.objective}: ${a.message}`)
      for (const l of this.alertListeners) l(a)
      const hook = this.pipeline.objectives.webhook
      if (hook !== undefined) void postAlert(hook, { job: this.id, name: this.pipeline.name, ...a }, this.log)
    }
    for (const l of this.snapshotListeners) l(view)
  }

  /** POSTs an alert to the objectives' webhook; a failure is logged, never fatal to the job. */
  private buildView(cur: Cumulative | null, prev: Cumulative | null, now: number, checkpoints: CheckpointStats | null): JobView {
    const g = this.pipeline.graph
    const dt = cur !== null && prev !== null ? (cur.t - prev.t) / 1000 : 0
    const rate = (a: number, b: number): number => (dt > 0 ? Math.max(0, (a - b) / dt) : 0)
    const oldest = this.latencyRing[0]
    const tasksNow = cur?.metrics.tasks ?? []
    const prevTasks = new Map<string, TaskMetricsSnapshot>()
    for (const t of prev?.metrics.tasks ?? []) prevTasks.set(`${t.task}#${t.subtask}`, t)
    const taskOf = new Map<string, TaskMetricsSnapshot>()
    for (const t of tasksNow) for (const op of t.operators) taskOf.set(`${op}#${t.subtask}`, t)
    const prevOps = new Map<string, JobMetrics['operators'][number]>()
    for (const o of prev?.metrics.operators ?? []) prevOps.set(`${o.operator}#${o.subtask}`, o)
    const hot = new Map<string, HotKeySummary[]>()
    for (const t of tasksNow) for (const h of t.hotKeys) hot.set(h.operator, [...(hot.get(h.operator) ?? []), h])

    const windowLatency = (keys: readonly string[]): Percentiles | null => {
      if (cur === null) return null
      const d = new Float64Array(BUCKETS)
      for (const k of keys) {
        const a = cur.latency.get(k)
        if (a === undefined) continue
        const b = oldest !== cur ? oldest?.latency.get(k) : undefined
        for (let i = 0; i < BUCKETS; i++) d[i] += a[i] - (b?.[i] ?? 0)
      }
      return percentiles(d, null)
    }

    const workerOfSubtask = (subtask: number): number => (this.handle.workers > 0 ? subtask % this.handle.workers : -1)
    const operators: OperatorView[] = []
    const sinkTaskKeys: string[] = []
    for (const node of g.nodes.values()) {
      const p = this.plan.parallelism.get(node.id) as number
      const subtasks: OperatorView['subtasks'] = []
      for (let s = 0; s < p; s++) {
        const key = `${node.id}#${s}`
        const om = cur?.metrics.operators.find((o) => o.operator === node.id && o.subtask === s)
        const po = prevOps.get(key)
        const t = taskOf.get(key)
        const pt = t !== undefined ? prevTasks.get(`${t.task}#${t.subtask}`) : undefined
        const taskKey = t !== undefined ? `${t.task}#${t.subtask}` : null
        if (node.type === 'sink' && taskKey !== null) sinkTaskKeys.push(taskKey)
        const wm = t?.watermark ?? null
        subtasks.push({
          subtask: s,
          worker: workerOfSubtask(s),
          recordsIn: om?.recordsIn ?? 0,
          recordsOut: om?.recordsOut ?? 0,
          recordsInPerSecond: rate(om?.recordsIn ?? 0, po?.recordsIn ?? 0),
          recordsOutPerSecond: rate(om?.recordsOut ?? 0, po?.recordsOut ?? 0),
          bytesInPerSecond: t !== undefined && node.id === t.operators[0] ? rate(t.bytesIn, pt?.bytesIn ?? 0) : 0,
          bytesOutPerSecond: t !== undefined && node.id === t.operators[t.operators.length - 1] ? rate(t.bytesOut, pt?.bytesOut ?? 0) : 0,
          busyMsPerSecond: t !== undefined ? Math.min(1000, rate(t.busyMs, pt?.busyMs ?? 0)) : 0,
          waitingMsPerSecond: t !== undefined ? Math.min(1000, rate(t.waitingMs, pt?.waitingMs ?? 0)) : 0,
          backpressuredMsPerSecond: t !== undefined ? Math.min(1000, rate(t.backpressuredMs, pt?.backpressuredMs ?? 0)) : 0,
          idleMsPerSecond: t !== undefined ? Math.min(1000, rate(t.idleMs, pt?.idleMs ?? 0)) : 0,
          busyMs: round(t?.busyMs ?? 0),
          waitingMs: round(t?.waitingMs ?? 0),
          backpressuredMs: round(t?.backpressuredMs ?? 0),
          idleMs: round(t?.idleMs ?? 0),
          inputQueueUsage: t?.inputQueueUsage ?? null,
          outputQueueUsage: t?.outputQueueUsage ?? null,
          watermark: wm,
          watermarkLagMs: wm === null ? null : Math.max(0, now - wm),
          lateRecords: om?.lateDropped ?? 0,
          skippedRecords: om?.skipped ?? 0,
          deadLetteredRecords: om?.deadLettered ?? 0,
          errors: om?.errors ?? 0,
          stateEntries: om?.stateEntries ?? 0,
          stateBytes: om?.stateBytes ?? 0,
          pendingTimers: om?.pendingTimers ?? 0,
          latency: taskKey === null ? null : windowLatency([taskKey]),
        })
      }
      const taskKeys = subtasks.map((s) => {
        const t = taskOf.get(`${node.id}#${s.subtask}`)
        return t === undefined ? '' : `${t.task}#${t.subtask}`
      })
      const agg = aggregate(subtasks, windowLatency(taskKeys.filter((k) => k !== '')))
      const hk = hot.get(node.id)
      // A keyed operator (fed by a sampled keyBy exchange) always gets a list, empty when no key
      // certainly stands out (metrics/top-k.ts: hotKeysOf), and the sample size behind it.
      const sampled = hk === undefined ? null : hotKeysOf(hk)
      operators.push({
        id: node.id,
        label: node.label,
        kind: kindOf(node),
        parallelism: p,
        task: this.taskOrder.get(node.id) ?? 0,
        state: stateOf(agg),
        hotKeys: sampled?.keys ?? null,
        hotKeysSampled: sampled?.samples ?? null,
        calls: callsView(node.id, cur?.metrics ?? null, prev?.metrics ?? null, oldest?.metrics ?? null, dt),
        ...agg,
        subtasks,
      })
    }
    const byId = new Map(operators.map((o) => [o.id, o]))
    const edges = this.plan.edges.map((pe) => ({
      from: pe.edge.from,
      to: pe.edge.to,
      partitioning: pe.kind,
      chained: pe.chained,
      recordsPerSecond: round(byId.get(pe.edge.from)?.recordsOutPerSecond ?? 0),
    }))
    let recordsPerSecond = 0
    for (const o of operators) if (o.kind === 'source') recordsPerSecond += o.recordsOutPerSecond
    const status = this.endedStatus ?? (cur === null ? 'starting' : this.handle.status())
    return {
      t: now,
      id: this.id,
      name: this.pipeline.name,
      status: status === 'running' && cur === null ? 'starting' : status,
      startedAt: this.handle.startedAt,
      uptimeMs: now - this.handle.startedAt,
      parallelism: this.handle.parallelism,
      workerCount: this.handle.workers,
      recordsPerSecond: round(recordsPerSecond),
      latency: windowLatency(sinkTaskKeys),
      topFinding: this.findings[0] ?? null,
      graph: {
        nodes: operators.map((o) => ({ id: o.id, label: o.label, kind: o.kind, parallelism: o.parallelism, task: o.task })),
        edges,
      },
      operators,
      workers: workersOf(cur?.metrics.threads ?? [], prev?.metrics.threads ?? [], dt),
      alerts: this.evaluator.firing(),
      checkpoints: checkpointView(checkpoints),
      // Lag rates over the latency window: the oldest snapshot still kept (≈ 10 samples back).
      sources: cur === null ? [] : sourceProgress(g.nodes.values(), { t: cur.t, tasks: tasksNow }, oldest === undefined || oldest === cur ? null : { t: oldest.t, tasks: oldest.metrics.tasks }),
      connections: connections(g.nodes.values(), tasksNow),
    }
  }
}
