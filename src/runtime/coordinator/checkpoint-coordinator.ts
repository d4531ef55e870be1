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
import { SluiceError, type ErrorCode } from '../../errors.ts'
import type { LogicalGraph } from '../../graph/logical.ts'
import { snapshotBuffers } from '../../state/value-codec.ts'
import type { RecordCounts } from '../../metrics/task-metrics.ts'
import type { DeadLetterWriters } from '../task/dead-letters.ts'
import type { CheckpointListener, Task, TaskCheckpointParts } from '../task/task.ts'
import { FINAL_CHECKPOINT } from '../task/task-types.ts'
import { DEFAULT_CHECKPOINT_TIMEOUT_MS, DEFAULT_SAVEPOINT_WAIT_MS, type CheckpointOptions } from '../checkpoint/options.ts'
import { CHECKPOINT_HISTORY, type CheckpointRecord, type CheckpointStats } from '../checkpoint/stats.ts'
import { checkCompatible, checkpointBytes } from '../checkpoint/compatibility.ts'
import { savepointName } from '../checkpoint/savepoints.ts'
import { LocalParticipants, type CheckpointParticipants } from './local-participants.ts'
import { addPart, inFlightOf, recordOf, type InFlight, type SavepointRequest } from './in-flight.ts'
import { restoreFor } from '../task/restore.ts'
import { CheckpointStorage, readCheckpointFile, writeCheckpointFile, type Checkpoint } from '../checkpoint/storage.ts'

export class CheckpointCoordinator {
  readonly storage: CheckpointStorage
  readonly stats: CheckpointStats = { intervalMs: 0, timeoutMs: 0, completed: 0, failed: 0, lastId: 0, lastDurationMs: null, lastSizeBytes: null, lastAlignmentMs: null, lastStartDelayMs: null, lastSyncMs: null, restoredFrom: null, restore: null, history: [] }
  private participants: CheckpointParticipants | null = null
  private inFlight: InFlight | null = null
  private timer: NodeJS.Timeout | null = null
  private nextId = 1
  private failure: ((e: unknown) => void) | null = null
  /** The checkpoint file being written, if any. */
  private writing: Promise<string> | null = null
  /** What the checkpoint restored from had counted (see RecordCounts). */
  private restoredCounts: RecordCounts = {}
  /** The final checkpoint, once a task has reached the end of its input (see FINAL_CHECKPOINT). */
  private final: InFlight | null = null
  /** The completion of the last checkpoint whose acknowledgements were all in. */
  private completion: Promise<void> = Promise.resolve()

  constructor(
    private readonly o: CheckpointOptions,
    private readonly job: string,
    private readonly graph: LogicalGraph,
    private readonly parallelism: number,
    private readonly maxParallelism: number,
    private readonly log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {
    if (!Number.isFinite(o.intervalMs) || o.intervalMs < 10) throw new SluiceError('CHECKPOINT_OPTION_INVALID', `checkpoint interval must be at least 10 ms, got ${o.intervalMs}`)
    if (o.timeoutMs !== undefined && !(o.timeoutMs >= 10)) throw new SluiceError('CHECKPOINT_OPTION_INVALID', `checkpoint timeout must be at least 10 ms, got ${o.timeoutMs}`)
    this.stats.intervalMs = o.intervalMs
    this.stats.timeoutMs = o.timeoutMs ?? DEFAULT_CHECKPOINT_TIMEOUT_MS
    this.storage = new CheckpointStorage(o.dir, o.retain ?? 3, log)
  }

  /**
   * Loads what to restore from — the newest complete checkpoint, checked against this job — and
   * says what the job's guarantee is. Call before the tasks open; give each task `restoreFor(t, c)`.
   */
  load(participants: CheckpointParticipants, fail: (e: unknown) => void): Checkpoint | null {
    this.participants = participants
    this.failure = fail
    for (const n of this.graph.nodes.values()) {
      if (n.type === 'source' && n.source.replayable !== true) this.log(`sluice: source "${n.id}" (${n.source.kind}) cannot be read again: after a failure, records it read since the last checkpoint are lost`)
      if (n.type === 'sink' && n.sink.exactlyOnce !== true) this.log(`sluice: sink "${n.id}" (${n.sink.kind}) is not exactly-once: after a failure it may repeat records written since the last checkpoint`)
    }
    const t0 = performance.now()
    const c = this.o.fromSavepoint !== undefined ? readCheckpointFile(this.o.fromSavepoint) : this.storage.latest()
    if (c !== null) {
      checkCompatible(c, this.graph, this.maxParallelism, participants.sourceSubtasks, this.o.allowNonRestoredState === true)
      this.nextId = c.id + 1
      this.stats.restoredFrom = c.id
      this.restoredCounts = c.counts ?? {}
      this.stats.restore = { time: Date.now(), checkpointId: c.id, savepoint: this.o.fromSavepoint ?? null, takenAt: c.triggeredAt, loadMs: performance.now() - t0, sizeBytes: checkpointBytes(c.tasks), counts: this.restoredCounts }
      this.log(this.o.fromSavepoint !== undefined
        ? `sluice: starting from savepoint ${this.o.fromSavepoint} (taken ${new Date(c.triggeredAt).toISOString()})`
        : `sluice: resuming from checkpoint ${c.id} (taken ${new Date(c.triggeredAt).toISOString()}) in ${this.o.dir}${c.final === true ? ': the final one, taken at the end of the input; the run only makes its output final and ends' : ''}`)
    }
    return c
  }

  /** One thread: wires the local tasks to this coordinator and gives them their restore. */
  attach(tasks: Task[], deadLetters: DeadLetterWriters | null, fail: (e: unknown) => void): Checkpoint | null {
    const listener: CheckpointListener = { ack: (t, id, parts) => this.ack(t.id, t.subtask, id, parts) }
    for (const t of tasks) {
      t.checkpoints = listener
      t.maxParallelism = this.maxParallelism
    }
    const c = this.load(new LocalParticipants(tasks, deadLetters), fail)
    for (const t of tasks) t.restore = restoreFor(t, c)
    return c
  }

  /**
   * Checks a few times per interval. A checkpoint starts when `intervalMs` has passed since the
   * last one started and half of it since the last one ended: a checkpoint that takes longer than
   * the interval must not be followed at once by the next (they would starve the job).
   */
  start(): void {
    this.lastEnd = performance.now()
    this.timer = setInterval(() => this.trigger(), Math.max(5, Math.min(250, this.o.intervalMs / 4)))
    this.timer.unref()
  }

  private lastStart = Number.NEGATIVE_INFINITY
  private lastEnd = 0

  /**
   * No further checkpoint starts; one still collecting acknowledgements is abandoned (one being
   * written completes). Call before the job closes its dead-letter sinks.
   */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.isStopped = true
    const f = this.inFlight
    // One being written settles when its write does (and writes its dead letters first).
    if (f !== null && !f.completing) {
      this.abandon(f)
      f.savepoint?.reject(new SluiceError('JOB_NOT_RUNNING', `savepoint ${f.id} was not taken: the job stopped running first`))
    }
    this.inFlight = null
    for (const sp of this.savepoints.splice(0)) sp.reject(new SluiceError('JOB_NOT_RUNNING', 'cannot take a savepoint: the job stopped running first'))
  }

  private isStopped = false

  /**
   * Checkpoint `f` will not complete. The dead letters its tasks handed over came before their
   * barriers, and those tasks will not hand them over again: they go with the next checkpoint.
   */
  private abandon(f: InFlight): void {
    if (this.inFlight === f) this.inFlight = null
    // One completing has handed its letters to the sinks already.
    if (!f.completing && f.letters.length > 0) this.participants?.deadLetters?.carry(f.letters)
  }

  /** Savepoints asked for and not started yet: each goes before the next periodic checkpoint. */
  private readonly savepoints: SavepointRequest[] = []

  /** Savepoints that waited longer than savepointWaitMs for the tasks to run fail. */
  private expireSavepoints(now: number): void {
    for (let i = this.savepoints.length - 1; i >= 0; i--) {
      const sp = this.savepoints[i]
      if (now < sp.waitUntil) continue
      this.savepoints.splice(i, 1)
      sp.reject(new SluiceError('SAVEPOINT_FAILED', `cannot take a savepoint: the job's tasks were not all running within ${Math.round(this.savepointWaitMs)} ms (still opening, or some have ended); ask again`))
    }
  }

  private get savepointWaitMs(): number {
    return this.o.savepointWaitMs ?? DEFAULT_SAVEPOINT_WAIT_MS
  }

  /**
   * Starts a checkpoint now if none is in flight and every task runs — a savepoint asked for
   * first, else a periodic checkpoint when due; returns its id, or null.
   */
  trigger(): number | null {
    const p = this.participants
    if (p === null || this.isStopped || this.final !== null) return null
    const f = this.inFlight
    if (f !== null) {
      // A task that ended cannot acknowledge: that checkpoint will not complete.
      if (!f.completing && !p.allRunning()) this.fail(f, 'a task ended before acknowledging', 'JOB_NOT_RUNNING')
      else if (!f.completing && performance.now() - f.started > this.stats.timeoutMs) {
        const why = `timed out after ${Math.round(this.stats.timeoutMs)} ms with ${f.acks.size} of ${p.taskCount} tasks acknowledged: a barrier waits behind the records queued before it, so under backpressure it is as slow as the slowest operator; speed that operator up (or give it more parallelism), lower channelCapacity, or raise the timeout`
        this.fail(f, why)
        this.log(`sluice: checkpoint ${f.id} ${why}`)
      }
      return null
    }
    const now = performance.now()
    if (!p.allRunning()) {
      // Tasks still opening (a start, a restart) run soon; ones that ended mean the job is ending,
      // and stop() then answers the requests.
      this.expireSavepoints(now)
      return null
    }
    const sp = this.savepoints.shift()
    if (sp !== undefined) {
      this.lastStart = now
      return this.begin(p, sp)
    }
    if (now - this.lastStart < this.o.intervalMs || now - this.lastEnd < this.o.intervalMs / 2) return null
    this.lastStart = now
    return this.begin(p, null)
  }

  private begin(p: CheckpointParticipants, savepoint: InFlight['savepoint']): number {
    const id = this.nextId++
    this.inFlight = inFlightOf(id, savepoint, this.restoredCounts)
    p.triggerSources(id)
    return id
  }

  /**
   * Takes a savepoint into `dir` (kept until removed by hand; restore it with `fromSavepoint`):
   * a checkpoint taken now, or as soon as the one in flight ends (before any further periodic
   * one), or once the tasks run (waiting at most `savepointWaitMs`). Resolves with its path. A
   * savepoint that fails fails alone (SAVEPOINT_FAILED): the job runs on. JOB_NOT_RUNNING: the
   * job stopped running first.
   */
  savepoint(dir: string): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.isStopped) {
        reject(new SluiceError('JOB_NOT_RUNNING', 'cannot take a savepoint: the job is not running'))
        return
      }
      this.savepoints.push({ dir, waitUntil: performance.now() + this.savepointWaitMs, resolve, reject })
      this.trigger()
    })
  }

  /**
   * A participant cannot take checkpoint `id`: it is abandoned — counted as failed when a task has
   * ended, and retried at the next tick when the tasks were still opening.
   */
  decline(id: number, failed = true): void {
    const f = this.inFlight
    if (f?.id !== id || f.completing) return
    if (failed) {
      this.fail(f, 'a task had ended', 'JOB_NOT_RUNNING')
    } else {
      this.abandon(f)
      this.lastStart = Number.NEGATIVE_INFINITY
      if (f.savepoint !== null) this.savepoints.unshift(f.savepoint)
    }
  }

  /**
   * Checkpoint `f` will not complete: counted, kept in the history, and the next may start. A
   * savepoint's caller learns why: SAVEPOINT_FAILED, or JOB_NOT_RUNNING when the job is ending.
   */
  private fail(f: InFlight, why: string, code: ErrorCode = 'SAVEPOINT_FAILED'): void {
    this.abandon(f)
    f.savepoint?.reject(new SluiceError(code, `savepoint ${f.id} failed: ${why}${code === 'SAVEPOINT_FAILED' ? '; the job keeps running' : ''}`))
    this.lastEnd = performance.now()
    this.stats.failed++
    this.record(f, 'failed', null, why)
  }

  private record(f: InFlight, status: CheckpointRecord['status'], sizeBytes: number | null, failure: string | null): CheckpointRecord {
    const r = recordOf(f, status, sizeBytes, failure, this.participants?.taskCount ?? 0)
    const h = this.stats.history
    h.push(r)
    if (h.length > CHECKPOINT_HISTORY) h.splice(0, h.length - CHECKPOINT_HISTORY)
    return r
  }

  /** A task subtask's part of checkpoint `checkpointId`. */
  ack(task: string, subtask: number, checkpointId: number, parts: TaskCheckpointParts): void {
    if (checkpointId === FINAL_CHECKPOINT) {
      this.finalAck(task, subtask, parts)
      return
    }
    const f = this.inFlight
    const p = this.participants
    if (f === null || p === null || f.id !== checkpointId || f.completing) {
      // An abandoned checkpoint's part: its letters still belong before the next barrier.
      if (parts.letters.length > 0) p?.deadLetters?.carry(parts.letters)
      return
    }
    if (!addPart(f, task, subtask, parts, p.taskCount)) return
    // Still in flight (no next checkpoint starts) until written and committed.
    const completion = this.complete(f, p).then(
      () => {
        if (this.inFlight === f) this.inFlight = null
        if (this.savepoints.length > 0) this.trigger()
      },
      (e: unknown) => {
        this.fail(f, e instanceof Error ? e.message : String(e))
        // A savepoint that could not be written fails alone (the job's checkpoints are elsewhere);
        // a failed commit leaves the sinks in doubt, and a failed checkpoint write restarts the job.
        if (f.savepoint === null || f.written) this.failure?.(e)
        else if (this.savepoints.length > 0) this.trigger()
      },
    )
    this.completion = completion
  }

  /**
   * A task's part of the final checkpoint. When every task's is in, a periodic checkpoint that can
   * no longer complete is abandoned (its letters go with the final one), one completing is let
   * finish, and the final checkpoint is written under the next id, then committed: the tasks close
   * their sinks once their part is committed. Failing to write it fails the job (the tasks' sinks
   * are aborted, and a restart resumes from the last periodic checkpoint).
   */
  private finalAck(task: string, subtask: number, parts: TaskCheckpointParts): void {
    const p = this.participants
    if (p === null || this.isStopped) return
    const f = (this.final ??= inFlightOf(FINAL_CHECKPOINT, null, this.restoredCounts))
    if (!addPart(f, task, subtask, parts, p.taskCount)) return
    const open = this.inFlight
    if (open !== null && !open.completing) this.fail(open, 'the job reached the end of its input first (the final checkpoint covers it)', 'JOB_NOT_RUNNING')
    const completion = this.completion.then(() => {
      f.fileId = this.nextId++
      return this.complete(f, p)
    })
    this.completion = completion.then(
      () => undefined,
      (e: unknown) => {
        this.fail(f, e instanceof Error ? e.message : String(e))
        this.failure?.(e)
      },
    )
  }

  private async complete(f: InFlight, p: CheckpointParticipants): Promise<void> {
    // Asked at once (before any await), so a close of the sinks asked later comes after it.
    const letterCommits = p.deadLetters?.writeCheckpoint(f.fileId, f.letters)
    const tasks = [...f.acks.values()]
    // Before the commit: it may hand the state's buffers back to the threads they came from.
    const size = checkpointBytes(tasks)
    const deadLetters = letterCommits === undefined ? undefined : await letterCommits
    const c: Checkpoint = { id: f.fileId, job: this.job, triggeredAt: f.triggeredAt, parallelism: this.parallelism, maxParallelism: this.maxParallelism, savepoint: f.savepoint !== null, tasks, counts: f.counts, ...(deadLetters === undefined ? {} : { deadLetters }), ...(f.id === FINAL_CHECKPOINT ? { final: true } : {}) }
    if (f.savepoint !== null) {
      // A unique name and an exclusive create: ids repeat after a resume, and a savepoint is never replaced.
      f.savepoint.resolve(await writeCheckpointFile(f.savepoint.dir, savepointName(f.fileId, f.triggeredAt), c, { exclusive: true }))
    } else {
      const w = this.storage.write(c)
      this.writing = w
      try {
        await w
      } finally {
        if (this.writing === w) this.writing = null
      }
    }
    f.written = true
    // The state's buffers are written: the next checkpoint may reuse them (in this thread; those
    // of worker threads were moved here and are not the pool's).
    for (const t of tasks) for (const chunks of Object.values(t.operators)) snapshotBuffers.release(chunks)
    // Only a durable checkpoint may be committed: a crash before this line replays to the previous one.
    await p.commit(f.id, f.acks)
    if (deadLetters !== undefined) await p.deadLetters?.commit(deadLetters)
    this.lastEnd = performance.now()
    this.stats.completed++
    const r = this.record(f, 'completed', size, null)
    this.stats.lastId = f.fileId
    this.stats.lastDurationMs = r.durationMs
    this.stats.lastSizeBytes = r.sizeBytes
    this.stats.lastAlignmentMs = r.alignmentMs
    this.stats.lastStartDelayMs = r.startDelayMs
    this.stats.lastSyncMs = r.syncMs
  }

  /**
   * The job completed: its checkpoints are no longer needed. A checkpoint still being written is
   * let finish first, so that it cannot land after the clearing.
   */
  async finished(): Promise<void> {
    await this.stopAndSettle()
    this.storage.clear()
  }

  /**
   * Stops, and resolves once a checkpoint file still being written has landed (or failed): after
   * this nothing of this run's changes the directory, so a restarted attempt loads a settled
   * directory and the lock may be handed on.
   */
  async stopAndSettle(): Promise<void> {
    this.stop()
    await this.writing?.catch(() => {})
  }
}
