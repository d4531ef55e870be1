/**
 * How a job runs (`pipeline.run(options)`), what a running job offers (`JobHandle`), and the
 * validation of those options, done once before anything starts.
 */
import { resolve as resolvePath, join as joinPath } from 'node:path'
import { SluiceError, type ErrorCode } from '../../errors.ts'
import type { JobMetrics } from '../../metrics/task-metrics.ts'
import type { Clock } from '../../time/clock.ts'
import type { CheckpointOptions } from '../checkpoint/options.ts'
import type { CheckpointStats } from '../checkpoint/stats.ts'
import type { JobResult, JobStatus } from '../task/job-runner.ts'

export interface RunOptions {
  /** Time source for processing time; a ManualClock in tests. Default: the system clock. */
  clock?: Clock
  /** Capacity of each channel between tasks, in records. Default 16 384. */
  channelCapacity?: number
  /** Fuse runs of map/filter/flatMap into one per-record loop. Default true. */
  fuse?: boolean
  /** Parallelism of operators that declare none; overrides the pipeline's. */
  parallelism?: number
  /**
   * Worker threads to run the subtasks on. 0 (the default) runs everything in this thread; more
   * needs the pipeline's `module`. Sinks that keep records in memory see only their own thread's.
   */
  workers?: number
  /**
   * Sampled monitoring (latency markers from the sources every this many ms, hot-key sampling on
   * keyBy exchanges). Default 200; 0 turns both off. Counters and busy/idle time are always on.
   */
  latencyMarkerIntervalMs?: number
  /**
   * Exactly-once checkpoints into a directory, in one thread or on worker threads. A directory
   * holding a checkpoint of this job resumes from it; a job that finishes clears it.
   */
  checkpoints?: CheckpointOptions
  /**
   * Restarts after a failure that may pass (a crashed worker, I/O errors; not a bug in user code),
   * from the latest checkpoint. Default with checkpoints: 3 attempts, 1 s apart, the count starting
   * again after 10 minutes without a failure; without checkpoints: none.
   */
  restart?: RestartOptions | false
}

/**
 * How a job restarts. A failure-rate strategy in its simplest form (Flink's `failure-rate` allows
 * so many failures per interval): at most `attempts` restarts in a row, where a run of `resetMs`
 * without failing starts the count again, so a job that runs for days is not failed for good by
 * its fourth transient error.
 *
 * @example
 * ```ts
 * pipeline.run({ checkpoints: { dir: 'chk', intervalMs: 1000 }, restart: { attempts: 5, delayMs: 500, backoff: 'exponential', resetMs: 30 * 60_000 } })
 * ```
 */
export interface RestartOptions {
  /** Restarts in a row (without a healthy period between them) before the job fails for good. */
  readonly attempts: number
  /** Wait before the first restart, ms. */
  readonly delayMs: number
  /** 'fixed' waits delayMs every time; 'exponential' doubles it each time (from delayMs again after a reset). Default 'fixed'. */
  readonly backoff?: 'fixed' | 'exponential'
  /**
   * An attempt that runs this long without failing resets the count of restarts (and the backoff),
   * ms; measured on the run's clock. Default 10 minutes; Infinity never resets.
   */
  readonly resetMs?: number
}

/** Default of RestartOptions.resetMs. */
export const DEFAULT_RESTART_RESET_MS = 10 * 60_000

/** A running job. */
export interface JobHandle {
  /** Epoch ms when run() was called. */
  readonly startedAt: number
  /** Job default parallelism and worker threads (0: this thread) it runs with. */
  readonly parallelism: number
  readonly workers: number
  /** Resolves when the job finishes or is stopped; rejects with a SluiceError if it fails. */
  readonly done: Promise<JobResult>
  status(): JobStatus
  /** Asks the job to stop; sinks are flushed and closed. Resolves like `done`. */
  stop(): Promise<JobResult>
  metrics(): JobMetrics
  /** Checkpoint counts and the last one's duration and size; null without checkpoints. */
  checkpoints(): CheckpointStats | null
  /**
   * Takes a savepoint into `dir` and resolves with its file's path; with `stop`, then stops the
   * job (stop-with-savepoint). Needs `checkpoints` in the run options. Restore it with
   * `run({ checkpoints: { dir, intervalMs, fromSavepoint: path } })` (CLI: `--from-savepoint`).
   * While the job starts or restarts after a failure, the request waits for it to run (at most
   * `checkpoints.savepointWaitMs`, default 1 minute). A savepoint that fails (SAVEPOINT_FAILED)
   * fails alone: the job runs on. JOB_NOT_RUNNING: the job has ended.
   */
  savepoint(dir: string, options?: { stop?: boolean }): Promise<string>
  /**
   * The savepoint root, absolute: `checkpoints.savepointDir`, else `<checkpoints.dir>/savepoints`;
   * null without checkpoints. The monitoring server's savepoint route writes only under it.
   */
  readonly savepointDir: string | null
  /** Called when the job restarts after a failure (see `restart`); returns an unsubscribe function. */
  onRestart(listener: (event: RestartEvent) => void): () => void
}

/** A restart of the job after a failure that may pass. */
export interface RestartEvent {
  /** Epoch ms. */
  readonly time: number
  /** 1 for the first restart in a row (the count starts again after `resetMs` without a failure). */
  readonly restart: number
  readonly attempts: number
  /** The failure's message (with its code). */
  readonly error: string
}

/** `v` if it is a whole number > 0, `dflt` if undefined; otherwise an error naming the option. */
export function positiveInt(name: string, v: number | undefined, dflt: number, code: ErrorCode): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v <= 0) throw new SluiceError(code, `${name} must be a positive whole number, got ${v}`)
  return v
}

export function resolveRestart(o: RunOptions): Required<RestartOptions> | null {
  if (o.restart === false) return null
  if (o.restart === undefined) return o.checkpoints === undefined ? null : { attempts: 3, delayMs: 1000, backoff: 'fixed', resetMs: DEFAULT_RESTART_RESET_MS }
  const r = o.restart
  if (!Number.isInteger(r.attempts) || r.attempts < 0) throw new SluiceError('PIPELINE_OPTION_INVALID', `restart.attempts must be a whole number >= 0, got ${r.attempts}`)
  if (!Number.isFinite(r.delayMs) || r.delayMs < 0) throw new SluiceError('PIPELINE_OPTION_INVALID', `restart.delayMs must be >= 0, got ${r.delayMs}`)
  const backoff = r.backoff ?? 'fixed'
  if (backoff !== 'fixed' && backoff !== 'exponential') throw new SluiceError('PIPELINE_OPTION_INVALID', `restart.backoff must be 'fixed' or 'exponential', got ${JSON.stringify(r.backoff)}`)
  const resetMs = r.resetMs ?? DEFAULT_RESTART_RESET_MS
  if (!(resetMs > 0)) throw new SluiceError('PIPELINE_OPTION_INVALID', `restart.resetMs must be > 0 (Infinity: never reset), got ${r.resetMs}`)
  return { attempts: r.attempts, delayMs: r.delayMs, backoff, resetMs }
}

export function resolveSavepointDir(c: CheckpointOptions | undefined): string | null {
  if (c === undefined) return null
  if (c.savepointDir !== undefined && (typeof c.savepointDir !== 'string' || c.savepointDir === '')) {
    throw new SluiceError('CHECKPOINT_OPTION_INVALID', `checkpoints.savepointDir must be a directory path, got ${JSON.stringify(c.savepointDir)}`)
  }
  return resolvePath(c.savepointDir ?? joinPath(c.dir, 'savepoints'))
}
