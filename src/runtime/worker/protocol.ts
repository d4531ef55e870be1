/**
 * Messages between the coordinator (main thread) and workers: one discriminated union each way,
 * handled by exhaustive switches. Errors cross as `SerializedError`s (`serializeError` and
 * `deserializeError` in errors.ts) and are matched on `code`.
 */
import type { MessagePort } from 'node:worker_threads'
import type { JobModuleRef } from '../../graph/job.ts'
import type { DeadLetter } from '../../connectors/spi.ts'
import { SluiceError, type SerializedError } from '../../errors.ts'
import type { JobMetrics } from '../../metrics/task-metrics.ts'
import type { Checkpoint } from '../checkpoint/storage.ts'
import type { TaskCheckpointParts } from '../task/task.ts'

/** Where a worker finds the job: a module URL, an export, and structured-cloneable arguments. */
export type { JobModuleRef } from '../../graph/job.ts'

export interface WorkerStart {
  readonly job: JobModuleRef
  readonly worker: number
  readonly workers: number
  readonly parallelism: number
  readonly channelCapacity: number
  readonly fuse: boolean
  readonly latencyMarkerIntervalMs: number
  /** The coordinator's fingerprint of the graph; a worker that builds another graph refuses to run. */
  readonly fingerprint: string
  /** Cross-worker channel label → its ring's SharedArrayBuffer. */
  readonly rings: Readonly<Record<string, SharedArrayBuffer>>
  /** Set when the job takes checkpoints: the checkpoint to restore from (null: a fresh start). */
  readonly checkpoints: { readonly restore: Checkpoint | null } | null
  /**
   * Source id → the worker's end of the channel from the main thread's instance of that source
   * (`Source.attachFeed`: HTTP ingest), for the sources this worker reads. Transferred.
   */
  readonly feeds: Readonly<Record<string, MessagePort>>
}

export type ToWorker =
  | { readonly type: 'stop' }
  | { readonly type: 'metrics' }
  /** Take checkpoint `id`: the worker's source subtasks emit its barrier (or the worker declines). */
  | { readonly type: 'checkpoint'; readonly id: number }
  /**
   * Checkpoint `id` is durable: commit what the sinks pre-committed for it. `buffers` are the
   * worker's snapshot buffers of it, written and moved back for its next checkpoint.
   */
  | { readonly type: 'commit'; readonly id: number; readonly buffers: readonly ArrayBuffer[] }

export type FromWorker =
  /** Every task of the worker is open (state restored) and running. */
  | { readonly type: 'ready' }
  | { readonly type: 'metrics'; readonly metrics: JobMetrics }
  /** Dead letters for the coordinator to write: `sink` indexes deadLetterSinks(graph). */
  | { readonly type: 'dead-letters'; readonly sink: number; readonly letters: readonly DeadLetter[] }
  | { readonly type: 'finished'; readonly status: 'finished' | 'stopped'; readonly metrics: JobMetrics }
  | { readonly type: 'failed'; readonly error: SerializedError; readonly metrics: JobMetrics | null }
  /** A task subtask's part of checkpoint `id`. */
  | { readonly type: 'ack'; readonly id: number; readonly task: string; readonly subtask: number; readonly parts: TaskCheckpointParts }
  /** The worker cannot take checkpoint `id`: its tasks are still opening, or one has ended. */
  | { readonly type: 'decline'; readonly id: number; readonly ended: boolean }

export function assertNever(x: never): never {
  throw new SluiceError('INTERNAL', `unexpected message between threads: ${JSON.stringify(x)}`)
}
