/** The shapes a task is made of and trades with the scheduler and the checkpoint coordinator. */
import type { Operator } from '../../operators/types.ts'
import type { OperatorMetrics, RecordCounts } from '../../metrics/task-metrics.ts'
import type { InChannel } from '../exchange/channel.ts'
import type { OutputRoute } from '../exchange/route.ts'
import type { LetterBatch } from './dead-letters.ts'
import type { ExternalEffects } from './external-effects.ts'
import type { Collector, OperatorContextImpl } from './operator-context.ts'
import type { Task } from './task.ts'

export interface ChainLink {
  readonly id: string
  readonly label: string
  readonly op: Operator<unknown, unknown>
  readonly ctx: OperatorContextImpl
  readonly out: Collector<unknown>
  readonly metrics: OperatorMetrics
  /** Side-output tag → routes of the edges that consume it. */
  readonly sideRoutes: Map<string, OutputRoute[]>
  /** Set for members whose work leaves the job (a sink): see external-effects.ts. */
  readonly external: ExternalEffects | null
}

export interface TaskInput {
  readonly channel: InChannel<unknown>
  readonly input: number
  watermark: number
  idle: boolean
  ended: boolean
  /** Delivered the barrier of the checkpoint being aligned: taken from again once all inputs have. */
  blocked?: boolean
}

/** What a task hands the checkpoint coordinator at a barrier. */
export interface TaskCheckpointParts {
  readonly operators: Record<string, readonly Uint8Array[]>
  readonly sources: Record<string, unknown>
  readonly sinks: Record<string, unknown>
  /** The task's watermark when it took the snapshot (restored so late data stays late). */
  readonly watermark: number | null
  /** Dead letters of the records before the barrier since the task's previous one (see dead-letters.ts). */
  readonly letters: readonly LetterBatch[]
  /** The task's operators' counters at the barrier, since this run began (see RecordCounts). */
  readonly counts: RecordCounts
  /** How this task's part went (for the checkpoint history and metrics). */
  readonly timing: TaskCheckpointTiming
}

/** When the barrier reached a task and what the task spent on it. */
export interface TaskCheckpointTiming {
  /** Epoch ms when the first barrier reached the task (a source: when it took the checkpoint). */
  readonly barrierAt: number
  /** From the first input's barrier to the last's, ms (0 for one input). */
  readonly alignmentMs: number
  /** Snapshotting the operators' state on the task's thread, ms. */
  readonly syncMs: number
}

/**
 * The id a task acknowledges its final checkpoint with: at the end of its input, a task of a job
 * taking checkpoints snapshots once more (sources at their end, operators after their finish
 * hooks, sinks pre-committed) and waits; the coordinator writes the final checkpoint under its
 * next id once every task has, and only then do the sinks commit and close. So the output since
 * the last periodic checkpoint becomes visible only with a checkpoint that records it: a kill
 * after the commit resumes from the final checkpoint and replays nothing. Above every real id, so
 * a commit of an earlier checkpoint never clears it.
 */
export const FINAL_CHECKPOINT = Number.MAX_SAFE_INTEGER

export type TaskState = 'created' | 'running' | 'finishing' | 'finished'

/** The task's state table (see task.ts). */
export const TASK_TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  created: ['running', 'finished'],
  running: ['finishing', 'finished'],
  finishing: ['finished'],
  finished: [],
}

/** The task's side of the checkpoint coordinator. */
export interface CheckpointListener {
  ack(task: Task, checkpointId: number, parts: TaskCheckpointParts): void
}

/** What a task restores from before it opens. */
export interface TaskRestore {
  /** Operator id → encoded snapshots of every old subtask that had it. */
  readonly operators: ReadonlyMap<string, readonly Uint8Array[]>
  /** This subtask's source position, by source id. */
  readonly sources: ReadonlyMap<string, unknown>
  /** Sink id → the commit to recover to (null: no checkpoint, start empty). */
  readonly sinks: ReadonlyMap<string, unknown>
  /** The lowest watermark of the old subtasks. */
  readonly watermark: number
}

/** How a task reaches the scheduler. */
export interface Scheduler {
  wake(): void
  fail(error: unknown): void
}

/** A task's part of a completed checkpoint: its sinks' pre-commits and its sources' saved positions. */
export interface CompletedPart {
  readonly sinks: Record<string, unknown>
  readonly sources: Record<string, unknown>
}

/** Epoch ms with sub-ms precision, comparable across threads (each thread's timeOrigin differs). */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now()
}

/** Items a task takes from its inputs per step before yielding to other tasks. */
export const ITEMS_PER_STEP = 8
/**
 * A step also ends after this much time (checked per item), so a slow operator cannot hold the
 * thread — and the event loop that serves timers, I/O and the monitoring server — for long.
 */
export const STEP_BUDGET_MS = 4
