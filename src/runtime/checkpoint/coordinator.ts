/**
 * The checkpoint coordinator of a job running in one thread: every `intervalMs` it asks each source
 * task for a barrier; barriers flow with the records, tasks align them across their inputs,
 * snapshot their operators and pre-commit their sinks, and acknowledge. When every task has, the
 * checkpoint is written durably (storage.ts) and only then are the sinks' pre-commits committed.
 *
 * Recovery: before the tasks open, the newest complete checkpoint (if any) is handed to them —
 * operator state by operator id (key groups re-split if the parallelism changed), source positions
 * by source subtask, and the sinks' last commits, so two-phase-commit sinks drop what was written
 * after it. A job that finishes clears its checkpoints, so the same command starts afresh.
 *
 * Under backpressure a barrier waits behind the records already queued: channels are bounded, so
 * alignment takes at most the time to drain one channel's capacity at the current rate. A
 * checkpoint still in flight when the next is due is not overlapped: the next waits.
 */
import { SluiceError } from '../../errors.ts'
import type { LogicalGraph } from '../../graph/logical.ts'
import { SourceTask } from '../source-task.ts'
import type { CheckpointListener, Task, TaskCheckpointParts, TaskRestore } from '../task.ts'
import { CheckpointStorage, type Checkpoint, type TaskSnapshot } from './storage.ts'

export interface CheckpointOptions {
  /** Directory of the checkpoint files. */
  readonly dir: string
  /** Time between checkpoints, ms. */
  readonly intervalMs: number
  /** Completed checkpoints kept. Default 3. */
  readonly retain?: number
  /** Restore even if some operator state in the checkpoint has no operator to go to. */
  readonly allowNonRestoredState?: boolean
}

export interface CheckpointStats {
  completed: number
  failed: number
  lastId: number
  lastDurationMs: number | null
  lastSizeBytes: number | null
  lastAlignmentMs: number | null
  restoredFrom: number | null
}

interface InFlight {
  readonly id: number
  readonly triggeredAt: number
  readonly started: number
  readonly acks: Map<Task, TaskCheckpointParts>
}

export class CheckpointCoordinator implements CheckpointListener {
  readonly storage: CheckpointStorage
  readonly stats: CheckpointStats = { completed: 0, failed: 0, lastId: 0, lastDurationMs: null, lastSizeBytes: null, lastAlignmentMs: null, restoredFrom: null }
  private tasks: Task[] = []
  private inFlight: InFlight | null = null
  private timer: NodeJS.Timeout | null = null
  private nextId = 1
  private failure: ((e: unknown) => void) | null = null

  constructor(
    private readonly o: CheckpointOptions,
    private readonly job: string,
    private readonly graph: LogicalGraph,
    private readonly parallelism: number,
    private readonly maxParallelism: number,
    private readonly log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {
    if (!Number.isFinite(o.intervalMs) || o.intervalMs < 10) throw new SluiceError('JOB_INVALID_OPTION', `checkpoint interval must be at least 10 ms, got ${o.intervalMs}`)
    this.storage = new CheckpointStorage(o.dir, o.retain ?? 3, log)
  }

  /**
   * Wires the tasks and hands them what to restore from: the newest complete checkpoint, or an
   * empty restore (sinks start from nothing) when there is none. Call before the tasks open.
   */
  attach(tasks: Task[], fail: (e: unknown) => void): Checkpoint | null {
    this.tasks = tasks
    this.failure = fail
    for (const t of tasks) {
      t.checkpoints = this
      t.maxParallelism = this.maxParallelism
    }
    for (const n of this.graph.nodes.values()) {
      if (n.type === 'source' && n.source.replayable !== true) this.log(`sluice: source "${n.id}" (${n.source.kind}) cannot be read again: after a failure, records it read since the last checkpoint are lost`)
      if (n.type === 'sink' && n.sink.exactlyOnce !== true) this.log(`sluice: sink "${n.id}" (${n.sink.kind}) is not exactly-once: after a failure it may repeat records written since the last checkpoint`)
    }
    const c = this.storage.latest()
    if (c !== null) this.validate(c)
    for (const t of tasks) t.restore = restoreFor(t, c)
    if (c !== null) {
      this.nextId = c.id + 1
      this.stats.restoredFrom = c.id
      this.log(`sluice: resuming from checkpoint ${c.id} (taken ${new Date(c.triggeredAt).toISOString()}) in ${this.o.dir}`)
    }
    return c
  }

  private validate(c: Checkpoint): void {
    if (c.maxParallelism !== this.maxParallelism) {
      throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `checkpoint ${c.id} was taken with maxParallelism ${c.maxParallelism}, this job has ${this.maxParallelism}; key groups cannot be re-split between them`)
    }
    const known = new Set(this.graph.nodes.keys())
    const orphans = [...new Set(c.tasks.flatMap((t) => Object.keys(t.operators)))].filter((id) => !known.has(id))
    if (orphans.length > 0 && this.o.allowNonRestoredState !== true) {
      throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `checkpoint ${c.id} has state for ${orphans.map((x) => `"${x}"`).join(', ')}, which this job no longer has; pass --allow-non-restored-state to drop it`)
    }
    for (const n of this.graph.nodes.values()) {
      if (n.type !== 'source') continue
      const subtasks = c.tasks.filter((t) => n.id in t.sources).length
      const now = this.tasks.filter((t) => t instanceof SourceTask && t.id === n.id).length
      if (subtasks > 0 && subtasks !== now) {
        throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `source "${n.id}" ran as ${subtasks} subtasks in checkpoint ${c.id} and would run as ${now} now; a source's positions belong to its split, so keep its parallelism (other operators may rescale)`)
      }
    }
  }

  start(): void {
    this.timer = setInterval(() => this.trigger(), this.o.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.inFlight = null
  }

  /** Starts a checkpoint now if none is in flight and every task runs; returns its id, or null. */
  trigger(): number | null {
    if (this.inFlight !== null) {
      // A task that ended cannot acknowledge: that checkpoint will not complete.
      if (this.tasks.some((t) => t.state !== 'running')) {
        this.stats.failed++
        this.inFlight = null
      }
      return null
    }
    if (this.tasks.some((t) => t.state !== 'running')) return null
    const id = this.nextId++
    this.inFlight = { id, triggeredAt: Date.now(), started: performance.now(), acks: new Map() }
    for (const t of this.tasks) if (t instanceof SourceTask) t.triggerCheckpoint(id)
    return id
  }

  ack(task: Task, checkpointId: number, parts: TaskCheckpointParts): void {
    const f = this.inFlight
    if (f === null || f.id !== checkpointId) return
    f.acks.set(task, parts)
    if (f.acks.size < this.tasks.length) return
    this.inFlight = null
    void this.complete(f).catch((e: unknown) => this.failure?.(e))
  }

  private async complete(f: InFlight): Promise<void> {
    const tasks: TaskSnapshot[] = []
    for (const [t, p] of f.acks) tasks.push({ task: t.id, subtask: t.subtask, operators: p.operators, sources: p.sources, sinks: p.sinks, watermark: p.watermark })
    const c: Checkpoint = { id: f.id, job: this.job, triggeredAt: f.triggeredAt, parallelism: this.parallelism, maxParallelism: this.maxParallelism, savepoint: false, tasks }
    this.storage.write(c)
    // Only a durable checkpoint may be committed: a crash before this line replays to the previous one.
    for (const [t, p] of f.acks) await t.commitSinks(p.sinks)
    this.stats.completed++
    this.stats.lastId = f.id
    this.stats.lastDurationMs = performance.now() - f.started
    this.stats.lastSizeBytes = sizeOf(tasks)
  }

  /** The job completed: its checkpoints are no longer needed. */
  finished(): void {
    this.stop()
    this.storage.clear()
  }
}

function sizeOf(tasks: readonly TaskSnapshot[]): number {
  let n = 0
  for (const t of tasks) for (const b of Object.values(t.operators)) n += b.length
  return n
}

/** What task `t` restores from checkpoint `c` (null: a fresh start, sinks begin empty). */
function restoreFor(t: Task, c: Checkpoint | null): TaskRestore {
  const operators = new Map<string, Uint8Array[]>()
  const sources = new Map<string, unknown>()
  const sinks = new Map<string, unknown>()
  let watermark = Number.NEGATIVE_INFINITY
  const ids = new Set<string>([t.id, ...t.operatorLinks.map((l) => l.id)])
  for (const l of t.operatorLinks) if (l.sink !== null) sinks.set(l.id, null)
  if (c === null) return { operators, sources, sinks, watermark }
  let lowest = Number.POSITIVE_INFINITY
  for (const s of c.tasks) {
    let mine = false
    for (const [op, bytes] of Object.entries(s.operators)) {
      if (!ids.has(op)) continue
      mine = true
      const list = operators.get(op) ?? []
      list.push(bytes)
      operators.set(op, list)
    }
    if (s.subtask === t.subtask) {
      for (const [src, pos] of Object.entries(s.sources)) if (src === t.id) sources.set(src, pos)
      for (const [sink, commit] of Object.entries(s.sinks)) if (ids.has(sink)) sinks.set(sink, commit)
    }
    if ((mine || ids.has(s.task)) && s.watermark !== null && s.watermark < lowest) lowest = s.watermark
  }
  if (Number.isFinite(lowest)) watermark = lowest
  return { operators, sources, sinks, watermark }
}
