/**
 * A Pipeline is a job: sources, operators and sinks with stable ids. Build it by chaining
 * methods on the streams it returns; run it with `run()`.
 */
import { join as joinPath, resolve as resolvePath } from 'node:path'
import type { DeadLetter, Sink, Source } from '../connectors/spi.ts'
import { SluiceError, isSluiceError } from '../errors.ts'
import { LogicalGraph } from '../graph/logical.ts'
import type { Clock } from '../time/clock.ts'
import { systemClock } from '../time/clock.ts'
import type { WatermarkStrategy } from '../time/watermarks.ts'
import { closeDeadLetters, DeadLetterRouter, deadLetterSinks, DeadLetterWriters } from '../runtime/task/dead-letters.ts'
import { JobRunner, type JobResult, type JobStatus } from '../runtime/task/job-runner.ts'
import type { JobMetrics } from '../metrics/task-metrics.ts'
import { buildTasks, DEFAULT_MARKER_INTERVAL_MS, explainPlan, physicalPlan } from '../runtime/task/plan.ts'
import { validateObjectives, type ObjectivesSpec } from '../monitoring/objectives.ts'
import { afterCheckpoints, CHECKPOINT_HISTORY, CheckpointCoordinator, DEFAULT_SAVEPOINT_WAIT_MS, noCheckpointsError, type CheckpointOptions, type CheckpointStats } from '../runtime/coordinator/checkpoint-coordinator.ts'
import { lockCheckpointDir } from '../runtime/checkpoint/lock.ts'
import { runThreaded, type ThreadedJob } from '../runtime/coordinator/threaded-job.ts'
import type { JobModuleRef } from '../runtime/worker/protocol.ts'
import { resolveErrorOptions, type OperatorOptions, type PipelineContext } from './options.ts'
import { Stream } from './stream.ts'

export interface PipelineOptions {
  /** Default dead-letter sink for operators and sources with onError: 'dead-letter'. */
  deadLetter?: Sink<DeadLetter>
  /** Parallelism of operators that declare none (run options override it). Default 1. */
  parallelism?: number
  /** Number of key groups, the upper bound of any parallelism. Default 128. */
  maxParallelism?: number
  /**
   * The module that builds this pipeline, so worker threads can build it too: usually
   * `import.meta.url` of the job file, which must export the pipeline (or a function returning
   * it) and not run it. Needed only to run on worker threads.
   */
  module?: string | JobModuleRef
  /** Service-level objectives, evaluated every second while the job runs; see docs/METRICS.md. */
  objectives?: ObjectivesSpec
}

export interface SourceOptions<T> extends OperatorOptions {
  /** Event time and watermarks for this source; without it records have no event time. */
  watermarks?: WatermarkStrategy<T>
  /** Records read per batch. Default 1024. */
  batchSize?: number
}

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

/**
 * One view of the checkpoints of several attempts: counts add up, the history runs on, and the
 * rest is the latest attempt's (its last checkpoint's figures: the latest completed one's).
 */
function mergeCheckpointStats(before: CheckpointStats | null, now: CheckpointStats | null): CheckpointStats | null {
  if (before === null || now === null) return now ?? before
  const last = now.completed > 0 ? now : before
  return {
    ...now,
    lastId: last.lastId, lastDurationMs: last.lastDurationMs, lastSizeBytes: last.lastSizeBytes,
    lastAlignmentMs: last.lastAlignmentMs, lastStartDelayMs: last.lastStartDelayMs, lastSyncMs: last.lastSyncMs,
    completed: before.completed + now.completed,
    failed: before.failed + now.failed,
    history: [...before.history, ...now.history].slice(-CHECKPOINT_HISTORY),
  }
}

/** One run of the job's tasks (the job may make several when it restarts). */
type Attempt = ThreadedJob

function resolveRestart(o: RunOptions): Required<RestartOptions> | null {
  if (o.restart === false) return null
  if (o.restart === undefined) return o.checkpoints === undefined ? null : { attempts: 3, delayMs: 1000, backoff: 'fixed', resetMs: DEFAULT_RESTART_RESET_MS }
  const r = o.restart
  if (!Number.isInteger(r.attempts) || r.attempts < 0) throw new SluiceError('JOB_INVALID_OPTION', `restart.attempts must be a whole number >= 0, got ${r.attempts}`)
  if (!Number.isFinite(r.delayMs) || r.delayMs < 0) throw new SluiceError('JOB_INVALID_OPTION', `restart.delayMs must be >= 0, got ${r.delayMs}`)
  const backoff = r.backoff ?? 'fixed'
  if (backoff !== 'fixed' && backoff !== 'exponential') throw new SluiceError('JOB_INVALID_OPTION', `restart.backoff must be 'fixed' or 'exponential', got ${JSON.stringify(r.backoff)}`)
  const resetMs = r.resetMs ?? DEFAULT_RESTART_RESET_MS
  if (!(resetMs > 0)) throw new SluiceError('JOB_INVALID_OPTION', `restart.resetMs must be > 0 (Infinity: never reset), got ${r.resetMs}`)
  return { attempts: r.attempts, delayMs: r.delayMs, backoff, resetMs }
}

function resolveSavepointDir(c: CheckpointOptions | undefined): string | null {
  if (c === undefined) return null
  if (c.savepointDir !== undefined && (typeof c.savepointDir !== 'string' || c.savepointDir === '')) {
    throw new SluiceError('JOB_INVALID_OPTION', `checkpoints.savepointDir must be a directory path, got ${JSON.stringify(c.savepointDir)}`)
  }
  return resolvePath(c.savepointDir ?? joinPath(c.dir, 'savepoints'))
}

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

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v <= 0) throw new SluiceError('JOB_INVALID_OPTION', `${name} must be a positive whole number, got ${v}`)
  return v
}

/**
 * A job: sources, operators and sinks with stable ids. Build it by chaining methods on the
 * streams `source()` returns; run it with `run()`.
 *
 * @example
 * ```ts
 * const p = new Pipeline('word-count')
 * p.source('lines', fromArray(['a b', 'b c']))
 *   .flatMap<string>('split', (line, out) => { for (const w of line.split(' ')) out.collect(w) })
 *   .keyBy((w) => w)
 *   .aggregate('count', count())
 *   .to('print', stdoutSink())
 * await p.run().done
 * ```
 */
export class Pipeline implements PipelineContext {
  /** @internal */
  readonly graph = new LogicalGraph()
  /** @internal */
  readonly defaultDeadLetter: Sink<DeadLetter> | undefined
  readonly parallelism: number
  readonly maxParallelism: number
  readonly objectives: ObjectivesSpec
  /** Set by the CLI or the `module` option; lets worker threads rebuild the job. */
  module: JobModuleRef | undefined
  private started = false

  constructor(
    readonly name: string = 'job',
    options: PipelineOptions = {},
  ) {
    this.defaultDeadLetter = options.deadLetter
    this.parallelism = positiveInt('parallelism', options.parallelism, 1)
    this.maxParallelism = positiveInt('maxParallelism', options.maxParallelism, 128)
    this.module = typeof options.module === 'string' ? { url: options.module } : options.module
    this.objectives = validateObjectives(options.objectives ?? {})
  }

  /**
   * Adds a source; its records have event time when `options.watermarks` says how to read it.
   * @example
   * ```ts
   * const p = new Pipeline('bids')
   * const bids = p.source('bids', fileSource<Bid>('bids.jsonl'), { watermarks: boundedOutOfOrderness({ timestamp: (b) => b.dateTime, maxOutOfOrdernessMs: 2000 }) })
   * ```
   */
  source<T>(id: string, source: Source<T>, options: SourceOptions<T> = {}): Stream<T> {
    if (source === null || typeof source !== 'object' || typeof source.open !== 'function') {
      throw new SluiceError('JOB_INVALID_OPTION', `source "${id}": expected a source (an object with open()), got ${typeof source}`)
    }
    this.graph.addNode({
      type: 'source',
      id,
      label: `source(${source.kind})`,
      source: source as Source<unknown>,
      watermarks: options.watermarks as WatermarkStrategy<unknown> | undefined,
      batchSize: positiveInt(`source "${id}" batchSize`, options.batchSize, 1024),
      ...resolveErrorOptions(this, id, options),
    })
    return new Stream<T>(this, { nodeId: id, sideTag: null })
  }

  /** Validates the graph and describes its physical plan: chains, parallelism, exchanges. */
  explain(options: { parallelism?: number } = {}): string {
    this.graph.validate()
    const plan = physicalPlan(this.graph, positiveInt('parallelism', options.parallelism, this.parallelism), this.maxParallelism)
    return `job "${this.name}"\n${explainPlan(this.graph, plan)}`
  }

  /** Starts the job. Invalid graphs fail here, synchronously, with a SluiceError. */
  run(options: RunOptions = {}): JobHandle {
    if (this.started) throw new SluiceError('JOB_ALREADY_RUNNING', `pipeline "${this.name}" was already run`)
    this.graph.validate()
    const parallelism = positiveInt('parallelism', options.parallelism, this.parallelism)
    const channelCapacity = positiveInt('channelCapacity', options.channelCapacity, 16_384)
    const workers = options.workers ?? 0
    const markers = options.latencyMarkerIntervalMs ?? DEFAULT_MARKER_INTERVAL_MS
    if (!Number.isInteger(markers) || markers < 0) throw new SluiceError('JOB_INVALID_OPTION', `latencyMarkerIntervalMs must be a whole number of ms >= 0, got ${markers}`)
    const startedAt = Date.now()
    if (!Number.isInteger(workers) || workers < 0) throw new SluiceError('JOB_INVALID_OPTION', `workers must be a whole number >= 0, got ${workers}`)
    if (workers > 0) {
      if (this.module === undefined) {
        throw new SluiceError('JOB_INVALID_OPTION', `pipeline "${this.name}" needs its module to run on worker threads: new Pipeline(name, { module: import.meta.url }) in a job file that exports the pipeline`)
      }
      if (options.clock !== undefined) throw new SluiceError('JOB_INVALID_OPTION', 'an injected clock works only in-thread (workers: 0)')
    }
    const restart = resolveRestart(options)
    const savepointDir = resolveSavepointDir(options.checkpoints)
    const clock = options.clock ?? systemClock
    const savepointWaitMs = options.checkpoints?.savepointWaitMs ?? DEFAULT_SAVEPOINT_WAIT_MS
    // Held by this run, over its restarts, until the job ends: before anything is read from the
    // directory, so a second process cannot resume from this one's checkpoints.
    const lock = options.checkpoints === undefined ? null : lockCheckpointDir(options.checkpoints.dir, this.name)
    this.started = true
    /** Checkpoint options of the next attempt: a restart after a checkpoint resumes from it, not from the savepoint. */
    let checkpointOptions = options.checkpoints
    const attempt = (): Attempt => (workers > 0
      ? runThreaded(this.graph, this.module as JobModuleRef, { workers, parallelism, maxParallelism: this.maxParallelism, channelCapacity, fuse: options.fuse !== false, latencyMarkerIntervalMs: markers, name: this.name, ...(checkpointOptions === undefined ? {} : { checkpoints: checkpointOptions }) })
      : this.runInThread({ ...options, checkpoints: checkpointOptions }, parallelism, channelCapacity, markers))
    let current: Attempt
    try {
      current = attempt()
    } catch (e) {
      lock?.release()
      throw e
    }
    /** Restarts in this process, and those since the last healthy period (what `attempts` bounds). */
    let restarts = 0
    let inARow = 0
    let attemptStartedAt = clock.now()
    let stopping = false
    let ended = false
    /** Checkpoint counts and history of the attempts before this one. */
    let earlier: CheckpointStats | null = null
    const restartListeners = new Set<(e: RestartEvent) => void>()
    /** Told when `current` is replaced or the job has ended (savepoints waiting for a restart). */
    const attemptListeners = new Set<() => void>()
    const done = (async (): Promise<JobResult> => {
      try {
        for (;;) {
          try {
            return await current.done
          } catch (e) {
            // Restart from the latest checkpoint when the failure may pass (a crashed worker, I/O),
            // never for a bug in user code (it would fail again on the same record).
            const retryable = isSluiceError(e) && (e as SluiceError).retryable
            if (restart === null || stopping || !retryable) throw e
            const ranMs = clock.now() - attemptStartedAt
            if (inARow > 0 && ranMs >= restart.resetMs) {
              process.stderr.write(`sluice: job "${this.name}" ran ${Math.round(ranMs / 1000)} s without failing since its last restart; the count of restarts starts again\n`)
              inARow = 0
            }
            if (inARow >= restart.attempts) throw e
            inARow++
            restarts++
            for (const l of restartListeners) l({ time: Date.now(), restart: inARow, attempts: restart.attempts, error: (e as Error).message })
            const delay = restart.backoff === 'exponential' ? restart.delayMs * 2 ** (inARow - 1) : restart.delayMs
            process.stderr.write(`sluice: job "${this.name}" failed: ${(e as Error).message}\nsluice: restarting from the latest checkpoint in ${delay} ms (restart ${inARow} of ${restart.attempts})\n`)
            await new Promise((r) => setTimeout(r, delay))
            if (stopping) throw e
            const last = current.checkpoints()
            if (checkpointOptions?.fromSavepoint !== undefined && last !== null && last.completed > 0) {
              const { fromSavepoint: _started, ...rest } = checkpointOptions
              checkpointOptions = rest
            }
            earlier = mergeCheckpointStats(earlier, last)
            current = attempt()
            attemptStartedAt = clock.now()
            for (const l of attemptListeners) l()
          }
        }
      } finally {
        ended = true
        lock?.release()
        for (const l of attemptListeners) l()
      }
    })()
    /**
     * After attempt `a` stopped running: 'next' once another attempt runs, 'ended' when the job
     * has ended instead, 'timeout' at `untilMs` (performance.now()).
     */
    const nextAttempt = (a: Attempt, untilMs: number): Promise<'next' | 'ended' | 'timeout'> => new Promise((resolve) => {
      const settle = (): void => {
        if (current === a && !ended) return
        clearTimeout(timer)
        attemptListeners.delete(settle)
        resolve(current !== a ? 'next' : 'ended')
      }
      const timer = setTimeout(() => {
        attemptListeners.delete(settle)
        resolve('timeout')
      }, Math.max(0, untilMs - performance.now()))
      timer.unref()
      attemptListeners.add(settle)
      settle()
    })
    // The caller may never await `done` (e.g. after stop()); keep an unhandled rejection from
    // killing the process while still delivering it to whoever awaits.
    done.catch(() => {})
    return {
      startedAt,
      parallelism,
      workers,
      savepointDir,
      done,
      status: () => current.status(),
      stop: () => {
        stopping = true
        void current.stop().catch(() => {})
        return done
      },
      metrics: () => current.metrics(),
      checkpoints: () => {
        const s = mergeCheckpointStats(earlier, current.checkpoints())
        return s === null ? null : { ...s, restarts }
      },
      onRestart: (l) => {
        restartListeners.add(l)
        return () => restartListeners.delete(l)
      },
      savepoint: async (dir, o) => {
        const untilMs = performance.now() + savepointWaitMs
        let a = current
        for (;;) {
          let path: string
          try {
            path = await a.savepoint(dir)
          } catch (e) {
            // The attempt stopped running: the job may be restarting; take it from the next attempt.
            if (!isSluiceError(e) || e.code !== 'JOB_NOT_RUNNING') throw e
            const next = await nextAttempt(a, untilMs)
            if (next === 'ended') throw new SluiceError('JOB_NOT_RUNNING', `cannot take a savepoint: the job ${await done.then((r) => r.status, () => 'failed')} before it was taken`, { cause: e })
            if (next === 'timeout') throw new SluiceError('SAVEPOINT_FAILED', `cannot take a savepoint: the job is restarting after a failure and did not run again within ${Math.round(savepointWaitMs)} ms; ask again`, { cause: e })
            a = current
            continue
          }
          if (o?.stop === true) {
            stopping = true
            await current.stop()
          }
          return path
        }
      },
    }
  }

  /** One attempt in this thread: tasks, scheduler, and the checkpoint coordinator if asked. */
  private runInThread(options: RunOptions, parallelism: number, channelCapacity: number, markers: number): Attempt {
    const clock = options.clock ?? systemClock
    const deadLetters = new DeadLetterRouter()
    const runner = new JobRunner(clock, deadLetters)
    const tasks = buildTasks(this.graph, { clock, deadLetters, scheduler: runner, channelCapacity, fuse: options.fuse, parallelism, maxParallelism: this.maxParallelism, latencyMarkerIntervalMs: markers })
    const coordinator = options.checkpoints === undefined ? null : new CheckpointCoordinator(options.checkpoints, this.name, this.graph, parallelism, this.maxParallelism)
    const letters = new DeadLetterWriters(deadLetterSinks(this.graph), coordinator !== null)
    const restored = coordinator?.attach(tasks, letters, (e) => runner.fail(e))
    deadLetters.open(letters.sinks, letters)
    runner.setTasks(tasks)
    coordinator?.start()
    const run = letters.open(clock, restored === undefined ? undefined : (restored?.deadLetters ?? null)).then(() => runner.run())
    const done = afterCheckpoints(coordinator, closeDeadLetters(letters, coordinator, run))
    done.catch(() => {})
    return {
      done,
      status: () => runner.status,
      stop: () => {
        runner.stop()
        return done
      },
      metrics: () => runner.metrics(),
      checkpoints: () => coordinator?.stats ?? null,
      savepoint: (dir) => (coordinator === null ? Promise.reject(noCheckpointsError(this.name)) : coordinator.savepoint(dir)),
    }
  }
}
