/**
 * The single-threaded scheduler. It runs the tasks' mailbox steps round-robin (sinks first, so
 * channels drain before sources refill them), fires due processing-time callbacks, flushes dead
 * letters, and sleeps when no task can move until a promise settles, the clock advances, or a
 * timer is due. It yields to the event loop every few milliseconds so I/O and stop() get a turn.
 */
import { SluiceError, describeCause, isSluiceError } from '../../errors.ts'
import { isManualClock, type Clock } from '../../time/clock.ts'
import type { DeadLetterRouter } from './dead-letters.ts'
import type { ConnectorConnection, JobMetrics, OperatorMetrics, OperatorMetricsSnapshot, TaskMetricsSnapshot } from '../../metrics/task-metrics.ts'
import { jobWarnings, type JobWarning } from '../../metrics/job-warnings.ts'
import type { PartitionProgress } from '../../connectors/spi.ts'
import { SourceTask } from './source-task.ts'
import { estimateStateBytes } from '../../state/state-size.ts'
import type { Scheduler, Task } from './task.ts'

export type JobStatus = 'running' | 'finished' | 'stopped' | 'failed'

export interface JobResult {
  readonly status: 'finished' | 'stopped'
  readonly durationMs: number
  /** Of durationMs, the time spent starting (worker threads loading the job); 0 in-thread. */
  readonly startupMs: number
  readonly metrics: JobMetrics
  /** What let the run finish while doing nothing useful: a source or operator that rejected every record (see jobWarnings). */
  readonly warnings: readonly JobWarning[]
}

const WAIT_INPUT = 0
const WAIT_OUTPUT = 1
/** An external call in flight: a sink's write, flush or pre-commit, or a source's read. */
const WAIT_EXTERNAL = 2

/** How often to poll a source that had nothing to read. */
const POLL_INTERVAL_MS = 5
/** Longest stretch of work between yields to the event loop. */
const YIELD_AFTER_MS = 8

export class JobRunner implements Scheduler {
  status: JobStatus = 'running'
  private tasks: Task[] = []
  private wakeUp: (() => void) | null = null
  /** Set by a wake() that came while nothing slept; the next wait returns at once. */
  private woken = false
  private failure: unknown = null
  private stopRequested = false
  private startedAt = 0
  /** Per task: its own time in steps since the last accounting, and what it waits on (see account). */
  private spent = new Float64Array(0)
  private waitingOn = new Uint8Array(0)
  /** Since when time is not yet accounted; -1 while the loop is not waiting (then the loop accounts it). */
  private unaccountedSince = -1

  constructor(
    readonly clock: Clock,
    readonly deadLetters: DeadLetterRouter,
  ) {}

  setTasks(tasks: Task[]): void {
    this.tasks = tasks
  }

  wake(): void {
    const w = this.wakeUp
    this.wakeUp = null
    // A wake-up while the loop is not sleeping (e.g. during an await in the loop) must not be lost.
    if (w === null) this.woken = true
    else w()
  }

  fail(error: unknown): void {
    if (this.failure === null) this.failure = error
    this.wake()
  }

  stop(): void {
    this.stopRequested = true
    this.wake()
  }

  /** Opens the tasks (restoring their state), calls `onRunning` once every task runs, and runs them to the end. */
  async run(onRunning?: () => void): Promise<JobResult> {
    this.startedAt = performance.now()
    const unsubscribe = isManualClock(this.clock) ? this.clock.onAdvance(() => this.wake()) : null
    try {
      for (const t of this.tasks) await t.open()
      onRunning?.()
      await this.loop()
      if (this.failure !== null) throw this.failure
      if (this.stopRequested && !this.allFinished()) {
        await this.shutdown(true)
        this.status = 'stopped'
      } else {
        for (const t of this.tasks) if (t instanceof SourceTask) await t.closeReader()
        this.status = 'finished'
      }
      // After the shutdown: stopped tasks release the letters they held since their last barrier.
      await this.deadLetters.flush()
      const metrics = this.metrics()
      return { status: this.status, durationMs: performance.now() - this.startedAt, startupMs: 0, metrics, warnings: jobWarnings(metrics) }
    } catch (e) {
      this.status = 'failed'
      await this.shutdown(false)
      try {
        await this.deadLetters.flush()
      } catch {
        // The primary failure is what the caller needs.
      }
      throw isSluiceError(e) ? e : new SluiceError('INTERNAL', describeCause(e), { cause: e })
    } finally {
      unsubscribe?.()
    }
  }

  private allFinished(): boolean {
    for (const t of this.tasks) {
      if (t.state !== 'finished') return false
      // Messages still queued for another thread must reach its ring before this thread ends.
      for (const o of t.outputs) if (o.drained === false) return false
    }
    return true
  }

  /**
   * Promises that settle when another thread moves a cross-thread channel this thread waits on,
   * or null when a channel is ready already. Checking a channel can itself take in a message
   * that arrived since the last step (or flush a pending one); then sleeping would lose it.
   */
  private crossThreadWaits(): Promise<void>[] | null {
    const waits: Promise<void>[] = []
    for (const t of this.tasks) {
      for (const i of t.inputs) {
        const ch = i.channel
        if (ch.waitForActivity === undefined || i.ended) continue
        if (!ch.isEmpty) {
          // A batch a full async head cannot take is no work yet: a completed call wakes the loop,
          // and so does a new message (it may be a barrier the head takes past the queue).
          if (t.heldBackByCalls(i)) {
            if (ch.waitForMore !== undefined) waits.push(ch.waitForMore())
            continue
          }
          return null
        }
        waits.push(ch.waitForActivity())
      }
      for (const o of t.outputs) {
        if (o.waitForActivity === undefined) continue
        if (o.full) waits.push(o.waitForActivity())
        else if (o.drained === false) return null
      }
      if (t.blockedOnOutput && !t.outputsFull()) return null
    }
    return this.allFinished() ? null : waits
  }

  private async shutdown(flushSinks: boolean): Promise<void> {
    for (const t of this.tasks) {
      try {
        await t.abort(flushSinks)
      } catch {
        // Keep releasing the other tasks.
      }
    }
  }

  private async loop(): Promise<void> {
    const tasks = this.tasks
    const spent = (this.spent = new Float64Array(tasks.length))
    const waitingOn = (this.waitingOn = new Uint8Array(tasks.length))
    let lastYield = performance.now()
    let roundStart = lastYield
    for (;;) {
      if (this.failure !== null || this.stopRequested) return
      let progressed = false
      const now = this.clock.now()
      for (let i = tasks.length - 1; i >= 0; i--) {
        const t = tasks[i]
        const t0 = performance.now()
        let did = false
        if (t.nextProcessingTime() <= now) {
          t.fireProcessingTime(now)
          did = true
        }
        if (t.step()) did = true
        if (did) {
          progressed = true
          spent[i] += performance.now() - t0
        }
      }
      if (this.deadLetters.hasPending) await this.deadLetters.flush()
      if (this.allFinished()) return
      const t1 = performance.now()
      // What each task waits on, taken before waiting (a sink's write may settle during it). In
      // this one thread, a task also waits while the others run: that time counts by the same rule
      // (which thread is saturated, and by whom, is the diagnosis' question).
      for (let i = 0; i < tasks.length; i++) {
        const t = tasks[i]
        waitingOn[i] = t.pending !== null ? WAIT_EXTERNAL : t.state === 'running' && t.outputsFull() ? WAIT_OUTPUT : t.waitingOnCalls() ? WAIT_EXTERNAL : WAIT_INPUT
      }
      this.unaccountedSince = roundStart
      if (!progressed) {
        await this.waitForWork()
      } else if (t1 - lastYield > YIELD_AFTER_MS) {
        await new Promise<void>((r) => setImmediate(r))
        lastYield = performance.now()
      } else {
        this.unaccountedSince = -1
        continue
      }
      // metrics() may have accounted part of the wait meanwhile (a long one: a stalled service).
      roundStart = this.unaccountedSince
      this.unaccountedSince = -1
      const end = performance.now()
      this.account(end - roundStart, spent, waitingOn)
      roundStart = end
    }
  }

  /**
   * Splits the wall time since the last accounting over each task's states, so that busy, waiting,
   * backpressured and idle add up to the elapsed time even though the tasks share this thread: a
   * task's own steps are busy (its code on this thread); the rest of the time it was waiting on an
   * external call (a sink's write, a source's read: the thread is free meanwhile, so this is not
   * busy, unlike Flink, whose sink thread blocks), on a full output (backpressured), or for input
   * (idle).
   */
  private account(elapsed: number, spent: Float64Array, waitingOn: Uint8Array): void {
    const tasks = this.tasks
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i]
      const own = spent[i]
      spent[i] = 0
      const rest = elapsed > own ? elapsed - own : 0
      const m = t.metrics
      m.busyMs += own
      const w = waitingOn[i]
      if (w === WAIT_EXTERNAL) m.waitingMs += rest
      else if (w === WAIT_OUTPUT) m.backpressuredMs += rest
      else m.idleMs += rest
    }
  }

  private waitForWork(): Promise<void> {
    let deadline = Number.POSITIVE_INFINITY
    let poll = false
    for (const t of this.tasks) {
      const p = t.nextProcessingTime()
      if (p < deadline) deadline = p
      if (t instanceof SourceTask && t.state === 'running' && t.pending === null) {
        if (t.polledEmpty) poll = true
        const idle = t.idleDeadline()
        if (idle < deadline) deadline = idle
      }
    }
    const crossWaits = this.crossThreadWaits()
    // Ready at once: still go through the event loop (setImmediate), or timers and messages starve.
    if (crossWaits === null || this.woken) {
      this.woken = false
      return new Promise<void>((r) => setImmediate(r))
    }
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | null = null
      this.wakeUp = () => {
        if (timer !== null) clearTimeout(timer)
        resolve()
      }
      let delay = Number.POSITIVE_INFINITY
      if (poll) delay = POLL_INTERVAL_MS
      if (deadline !== Number.POSITIVE_INFINITY && !isManualClock(this.clock)) {
        delay = Math.min(delay, Math.max(0, deadline - this.clock.now()))
      }
      if (delay !== Number.POSITIVE_INFINITY) timer = setTimeout(() => this.wake(), delay)
      for (const w of crossWaits) void w.then(() => this.wake())
    })
  }

  metrics(): JobMetrics {
    // While the loop waits, the time so far counts now, by what each task waits on: a snapshot
    // taken during a long wait (a stalled service, a slow sink) shows it as it happens.
    if (this.unaccountedSince >= 0) {
      const now = performance.now()
      this.account(now - this.unaccountedSince, this.spent, this.waitingOn)
      this.unaccountedSince = now
    }
    const operators: OperatorMetricsSnapshot[] = []
    const tasks: TaskMetricsSnapshot[] = []
    for (const t of this.tasks) {
      const ids: string[] = []
      if (t instanceof SourceTask) {
        const m = t.sourceMetrics
        ids.push(t.id)
        operators.push({ operator: t.id, task: t.id, subtask: t.subtask, recordsIn: 0, recordsOut: m.recordsOut, errors: m.errors, skipped: m.skipped, deadLettered: m.deadLettered, lateDropped: 0, sideOutputDropped: 0, ...rejected(m), stateEntries: 0, stateBytes: 0, pendingTimers: 0 })
      }
      for (const l of t.operatorLinks) {
        const m = l.metrics
        ids.push(l.id)
        const entries = l.op.stateEntries?.() ?? 0
        const stateBytes = entries > 0 && l.op.stateSample !== undefined ? estimateStateBytes(l.op.stateSample(STATE_SAMPLE), entries) : 0
        operators.push({ operator: l.id, task: t.id, subtask: t.subtask, recordsIn: m.recordsIn, recordsOut: m.recordsOut, errors: m.errors, skipped: m.skipped, deadLettered: m.deadLettered, lateDropped: m.lateDropped, sideOutputDropped: m.sideOutputDropped, ...rejected(m), stateEntries: entries, stateBytes, pendingTimers: l.op.pendingTimers?.() ?? 0, ...(m.calls === null ? {} : { calls: m.calls.snapshot(performance.now()) }) })
      }
      tasks.push(taskSnapshot(t, ids))
    }
    return { operators, tasks }
  }
}

function rejected(m: OperatorMetrics): { firstRejected?: string } {
  return m.firstRejected === '' ? {} : { firstRejected: m.firstRejected }
}

/** State entries sized per snapshot to estimate state bytes. */
const STATE_SAMPLE = 32

function taskSnapshot(t: Task, ids: string[]): TaskMetricsSnapshot {
  const wm = t.metrics.watermark
  let bytesIn = 0
  let inUsage: number | null = null
  for (const i of t.inputs) {
    bytesIn += i.channel.bytes ?? 0
    const u = Math.min(1, i.channel.usage)
    if (inUsage === null || u > inUsage) inUsage = u
  }
  let bytesOut = 0
  let outUsage: number | null = null
  for (const o of t.outputs) {
    bytesOut += o.bytes ?? 0
    // A channel may hold one batch past its capacity (or one oversized message): report at most full.
    const u = Math.min(1, o.usage)
    if (outUsage === null || u > outUsage) outUsage = u
  }
  const hotKeys: TaskMetricsSnapshot['hotKeys'] = []
  const routes = [...t.mainRoutes]
  for (const l of t.operatorLinks) for (const rs of l.sideRoutes.values()) routes.push(...rs)
  for (const r of routes) if (r.hotKeys !== null) hotKeys.push({ operator: r.target, ...r.hotKeys.summary(HOT_KEYS_REPORTED) })
  const lat = t.metrics.latency
  const connections: ConnectorConnection[] = []
  let partitions: PartitionProgress[] | null = null
  if (t instanceof SourceTask) {
    const p = t.progress()
    if (p !== null) partitions = [...p]
    const c = t.connection()
    if (c !== null) connections.push({ connector: t.id, ...c })
  }
  for (const l of t.operatorLinks) {
    const c = l.external?.connection() ?? null
    if (c !== null) connections.push({ connector: l.id, ...c })
  }
  return {
    task: t.id, subtask: t.subtask, parallelism: t.parallelism, operators: ids,
    busyMs: t.metrics.busyMs, waitingMs: t.metrics.waitingMs, backpressuredMs: t.metrics.backpressuredMs, idleMs: t.metrics.idleMs,
    watermark: Number.isFinite(wm) ? wm : null,
    latency: lat.sparse(), latencySumMs: lat.sumMs, latencyMaxMs: lat.maxMs,
    bytesIn, bytesOut, inputQueueUsage: inUsage, outputQueueUsage: outUsage, hotKeys,
    ...(partitions === null ? {} : { partitions }),
    ...(connections.length === 0 ? {} : { connections }),
  }
}

/** Keys per route in a snapshot (of the 64 the summary tracks). */
const HOT_KEYS_REPORTED = 20
