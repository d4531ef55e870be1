/**
 * One run of a job's tasks. A job makes one attempt, and another after each restart; the
 * supervisor (job-supervisor.ts) sees every attempt through this interface, whether its tasks run
 * in this thread (below) or on worker threads (threaded-attempt.ts).
 */
import type { JobDefinition } from '../../graph/job.ts'
import type { JobMetrics } from '../../metrics/task-metrics.ts'
import type { Clock } from '../../time/clock.ts'
import type { CheckpointOptions } from '../checkpoint/options.ts'
import type { CheckpointStats } from '../checkpoint/stats.ts'
import { buildTasks } from '../task/build-tasks.ts'
import { closeDeadLetters, DeadLetterRouter, deadLetterSinks, DeadLetterWriters } from '../task/dead-letters.ts'
import { JobRunner, type JobResult, type JobStatus } from '../task/job-runner.ts'
import { noCheckpointsError } from '../checkpoint/savepoints.ts'
import { CheckpointCoordinator } from './checkpoint-coordinator.ts'

export interface Attempt {
  readonly done: Promise<JobResult>
  status(): JobStatus
  stop(): Promise<JobResult>
  metrics(): JobMetrics
  checkpoints(): CheckpointStats | null
  savepoint(dir: string): Promise<string>
}

/** The resolved options every attempt of a job runs with. */
export interface AttemptOptions {
  readonly clock: Clock
  readonly parallelism: number
  readonly channelCapacity: number
  readonly fuse: boolean
  readonly latencyMarkerIntervalMs: number
  readonly checkpoints: CheckpointOptions | undefined
}

/** An attempt in this thread: tasks, the scheduler, and the checkpoint coordinator if asked. */
export function runInThread(job: JobDefinition, o: AttemptOptions): Attempt {
  const deadLetters = new DeadLetterRouter()
  const runner = new JobRunner(o.clock, deadLetters)
  const tasks = buildTasks(job.graph, { clock: o.clock, deadLetters, scheduler: runner, channelCapacity: o.channelCapacity, fuse: o.fuse, parallelism: o.parallelism, maxParallelism: job.maxParallelism, latencyMarkerIntervalMs: o.latencyMarkerIntervalMs })
  const coordinator = o.checkpoints === undefined ? null : new CheckpointCoordinator(o.checkpoints, job.name, job.graph, o.parallelism, job.maxParallelism)
  const letters = new DeadLetterWriters(deadLetterSinks(job.graph), coordinator !== null)
  const restored = coordinator?.attach(tasks, letters, (e) => runner.fail(e))
  deadLetters.open(letters.sinks, letters)
  runner.setTasks(tasks)
  coordinator?.start()
  const run = letters.open(o.clock, restored === undefined ? undefined : (restored?.deadLetters ?? null)).then(() => runner.run())
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
    savepoint: (dir) => (coordinator === null ? Promise.reject(noCheckpointsError(job.name)) : coordinator.savepoint(dir)),
  }
}

/**
 * `done`, settled once checkpointing has wound down: a finished job's checkpoints cleared (after a
 * write in flight), so that the same command then starts afresh; otherwise the coordinator stopped
 * and a write in flight landed, so that no file of this attempt lands after it ended.
 */
export function afterCheckpoints<R extends { readonly status: string }>(coordinator: CheckpointCoordinator | null, done: Promise<R>): Promise<R> {
  if (coordinator === null) return done
  return done.then(
    async (r) => {
      if (r.status === 'finished') await coordinator.finished()
      else await coordinator.stopAndSettle()
      return r
    },
    async (e: unknown) => {
      await coordinator.stopAndSettle()
      throw e
    },
  )
}
