/**
 * Starts a job: validates the run options, locks the checkpoint directory, and hands the job to
 * a supervisor that runs its attempts in this thread or on worker threads.
 */
import { SluiceError } from '../../errors.ts'
import type { JobDefinition } from '../../graph/job.ts'
import { systemClock } from '../../time/clock.ts'
import { lockCheckpointDir } from '../checkpoint/lock.ts'
import { DEFAULT_SAVEPOINT_WAIT_MS } from '../checkpoint/options.ts'
import { DEFAULT_MARKER_INTERVAL_MS } from '../task/build-tasks.ts'
import { runInThread } from './attempt.ts'
import { JobSupervisor } from './job-supervisor.ts'
import { positiveInt, resolveRestart, resolveSavepointDir, type JobHandle, type RunOptions } from './run-options.ts'
import { runThreaded } from './threaded-attempt.ts'

/** Starts `job`; invalid options fail here, synchronously, with a SluiceError. */
export function startJob(job: JobDefinition, options: RunOptions): JobHandle {
  const parallelism = positiveInt('parallelism', options.parallelism, job.parallelism, 'PARALLELISM_INVALID')
  const channelCapacity = positiveInt('channelCapacity', options.channelCapacity, 16_384, 'PIPELINE_OPTION_INVALID')
  const workers = options.workers ?? 0
  const markers = options.latencyMarkerIntervalMs ?? DEFAULT_MARKER_INTERVAL_MS
  if (!Number.isInteger(markers) || markers < 0) throw new SluiceError('PIPELINE_OPTION_INVALID', `latencyMarkerIntervalMs must be a whole number of ms >= 0, got ${markers}`)
  const startedAt = Date.now()
  if (!Number.isInteger(workers) || workers < 0) throw new SluiceError('PARALLELISM_INVALID', `workers must be a whole number >= 0, got ${workers}`)
  const module = job.module
  if (workers > 0) {
    if (module === undefined) {
      throw new SluiceError('WORKERS_UNSUPPORTED', `pipeline "${job.name}" needs its module to run on worker threads: new Pipeline(name, { module: import.meta.url }) in a job file that exports the pipeline`)
    }
    if (options.clock !== undefined) throw new SluiceError('WORKERS_UNSUPPORTED', 'an injected clock works only in-thread (workers: 0)')
  }
  const restart = resolveRestart(options)
  const savepointDir = resolveSavepointDir(options.checkpoints)
  const clock = options.clock ?? systemClock
  const fuse = options.fuse !== false
  // Held by this run, over its restarts, until the job ends: before anything is read from the
  // directory, so a second process cannot resume from this one's checkpoints.
  const lock = options.checkpoints === undefined ? null : lockCheckpointDir(options.checkpoints.dir, job.name)
  try {
    return new JobSupervisor({
      name: job.name,
      clock,
      restart,
      startedAt,
      parallelism,
      workers,
      savepointDir,
      savepointWaitMs: options.checkpoints?.savepointWaitMs ?? DEFAULT_SAVEPOINT_WAIT_MS,
      checkpoints: options.checkpoints,
      attempt: (checkpoints) => (workers > 0 && module !== undefined
        ? runThreaded(job.graph, module, { workers, parallelism, maxParallelism: job.maxParallelism, channelCapacity, fuse, latencyMarkerIntervalMs: markers, name: job.name, ...(checkpoints === undefined ? {} : { checkpoints }) })
        : runInThread(job, { clock, parallelism, channelCapacity, fuse, latencyMarkerIntervalMs: markers, checkpoints })),
      onEnd: () => lock?.release(),
    })
  } catch (e) {
    lock?.release()
    throw e
  }
}
