/**
 * Supervises a job over its attempts: runs one, and when it fails with an error that may pass (a
 * crashed worker, I/O; never a bug in user code, which would fail again on the same record)
 * starts another from the latest checkpoint, within the restart strategy. It is the job's
 * `JobHandle`: status, metrics and checkpoint figures read through to the current attempt, with
 * the checkpoint counts of earlier attempts added.
 *
 * Its lifecycle is the table below; the supervisor moves only along it.
 */
import { SluiceError, isSluiceError } from '../../errors.ts'
import type { JobMetrics } from '../../metrics/task-metrics.ts'
import type { Clock } from '../../time/clock.ts'
import type { CheckpointOptions } from '../checkpoint/options.ts'
import { mergeCheckpointStats, type CheckpointStats } from '../checkpoint/stats.ts'
import type { JobResult, JobStatus } from '../task/job-runner.ts'
import type { Attempt } from './attempt.ts'
import type { JobHandle, RestartEvent, RestartOptions } from './run-options.ts'

/**
 * running: an attempt runs (or opens). restarting: it failed and the next starts after the delay.
 * stopping: stop() was asked; no restart follows. ended: `done` has settled.
 */
export type SupervisorState = 'running' | 'restarting' | 'stopping' | 'ended'

const TRANSITIONS: Readonly<Record<SupervisorState, readonly SupervisorState[]>> = {
  running: ['restarting', 'stopping', 'ended'],
  restarting: ['running', 'stopping', 'ended'],
  stopping: ['ended'],
  ended: [],
}

export interface SupervisorOptions {
  readonly name: string
  readonly clock: Clock
  /** null: a failure ends the job. */
  readonly restart: Required<RestartOptions> | null
  readonly startedAt: number
  readonly parallelism: number
  readonly workers: number
  readonly savepointDir: string | null
  readonly savepointWaitMs: number
  /** The checkpoint options of the first attempt (a restart after a checkpoint drops `fromSavepoint`). */
  readonly checkpoints: CheckpointOptions | undefined
  /** Starts an attempt with these checkpoint options. */
  attempt(checkpoints: CheckpointOptions | undefined): Attempt
  /** Called once when the job has ended (releases the checkpoint directory's lock). */
  onEnd(): void
}

export class JobSupervisor implements JobHandle {
  readonly startedAt: number
  readonly parallelism: number
  readonly workers: number
  readonly savepointDir: string | null
  readonly done: Promise<JobResult>
  private state: SupervisorState = 'running'
  private current: Attempt
  private checkpointOptions: CheckpointOptions | undefined
  /** Restarts in this process, and those since the last healthy period (what `attempts` bounds). */
  private restarts = 0
  private inARow = 0
  private attemptStartedAt: number
  /** Checkpoint counts and history of the attempts before the current one. */
  private earlier: CheckpointStats | null = null
  private readonly restartListeners = new Set<(e: RestartEvent) => void>()
  /** Told when `current` is replaced or the job has ended (savepoints waiting for a restart). */
  private readonly attemptListeners = new Set<() => void>()

  constructor(private readonly o: SupervisorOptions) {
    this.startedAt = o.startedAt
    this.parallelism = o.parallelism
    this.workers = o.workers
    this.savepointDir = o.savepointDir
    this.checkpointOptions = o.checkpoints
    this.current = o.attempt(this.checkpointOptions)
    this.attemptStartedAt = o.clock.now()
    this.done = this.supervise()
    // The caller may never await `done` (e.g. after stop()); keep an unhandled rejection from
    // killing the process while still delivering it to whoever awaits.
    this.done.catch(() => {})
  }

  status(): JobStatus {
    return this.current.status()
  }

  metrics(): JobMetrics {
    return this.current.metrics()
  }

  checkpoints(): CheckpointStats | null {
    const s = mergeCheckpointStats(this.earlier, this.current.checkpoints())
    return s === null ? null : { ...s, restarts: this.restarts }
  }

  stop(): Promise<JobResult> {
    if (this.state === 'running' || this.state === 'restarting') this.moveTo('stopping')
    void this.current.stop().catch(() => {})
    return this.done
  }

  onRestart(listener: (event: RestartEvent) => void): () => void {
    this.restartListeners.add(listener)
    return () => this.restartListeners.delete(listener)
  }

  async savepoint(dir: string, options?: { stop?: boolean }): Promise<string> {
    const untilMs = performance.now() + this.o.savepointWaitMs
    let a = this.current
    for (;;) {
      let path: string
      try {
        path = await a.savepoint(dir)
      } catch (e) {
        // The attempt stopped running: the job may be restarting; take it from the next attempt.
        if (!isSluiceError(e) || e.code !== 'JOB_NOT_RUNNING') throw e
        const next = await this.nextAttempt(a, untilMs)
        if (next === 'ended') throw new SluiceError('JOB_NOT_RUNNING', `cannot take a savepoint: the job ${await this.done.then((r) => r.status, () => 'failed')} before it was taken`, { cause: e })
        if (next === 'timeout') throw new SluiceError('SAVEPOINT_FAILED', `cannot take a savepoint: the job is restarting after a failure and did not run again within ${Math.round(this.o.savepointWaitMs)} ms; ask again`, { cause: e })
        a = this.current
        continue
      }
      if (options?.stop === true) await this.stop()
      return path
    }
  }

  private moveTo(next: SupervisorState): void {
    if (!TRANSITIONS[this.state].includes(next)) throw new SluiceError('INTERNAL', `job "${this.o.name}": no transition from ${this.state} to ${next}`)
    this.state = next
  }

  private async supervise(): Promise<JobResult> {
    try {
      for (;;) {
        try {
          return await this.current.done
        } catch (e) {
          await this.restartAfter(e)
        }
      }
    } finally {
      this.moveTo('ended')
      this.o.onEnd()
      for (const l of this.attemptListeners) l()
    }
  }

  /** Starts the next attempt after failure `e`, or rethrows it when the job must fail. */
  private async restartAfter(e: unknown): Promise<void> {
    const restart = this.o.restart
    const retryable = isSluiceError(e) && e.retryable
    if (restart === null || this.state !== 'running' || !retryable) throw e
    const ranMs = this.o.clock.now() - this.attemptStartedAt
    if (this.inARow > 0 && ranMs >= restart.resetMs) {
      process.stderr.write(`sluice: job "${this.o.name}" ran ${Math.round(ranMs / 1000)} s without failing since its last restart; the count of restarts starts again\n`)
      this.inARow = 0
    }
    if (this.inARow >= restart.attempts) throw e
    this.inARow++
    this.restarts++
    this.moveTo('restarting')
    const message = (e as Error).message
    for (const l of this.restartListeners) l({ time: Date.now(), restart: this.inARow, attempts: restart.attempts, error: message })
    const delay = restart.backoff === 'exponential' ? restart.delayMs * 2 ** (this.inARow - 1) : restart.delayMs
    process.stderr.write(`sluice: job "${this.o.name}" failed: ${message}\nsluice: restarting from the latest checkpoint in ${delay} ms (restart ${this.inARow} of ${restart.attempts})\n`)
    await new Promise((r) => setTimeout(r, delay))
    if ((this.state as SupervisorState) === 'stopping') throw e
    const last = this.current.checkpoints()
    // A restart after a checkpoint resumes from it, not from the savepoint the job started from.
    if (this.checkpointOptions?.fromSavepoint !== undefined && last !== null && last.completed > 0) {
      const { fromSavepoint: _started, ...rest } = this.checkpointOptions
      this.checkpointOptions = rest
    }
    this.earlier = mergeCheckpointStats(this.earlier, last)
    this.current = this.o.attempt(this.checkpointOptions)
    this.attemptStartedAt = this.o.clock.now()
    this.moveTo('running')
    for (const l of this.attemptListeners) l()
  }

  /**
   * After attempt `a` stopped running: 'next' once another attempt runs, 'ended' when the job
   * has ended instead, 'timeout' at `untilMs` (performance.now()).
   */
  private nextAttempt(a: Attempt, untilMs: number): Promise<'next' | 'ended' | 'timeout'> {
    return new Promise((resolve) => {
      const settle = (): void => {
        if (this.current === a && this.state !== 'ended') return
        clearTimeout(timer)
        this.attemptListeners.delete(settle)
        resolve(this.current !== a ? 'next' : 'ended')
      }
      const timer = setTimeout(() => {
        this.attemptListeners.delete(settle)
        resolve('timeout')
      }, Math.max(0, untilMs - performance.now()))
      timer.unref()
      this.attemptListeners.add(settle)
      settle()
    })
  }
}
