/**
 * A checkpoint the coordinator is collecting acknowledgements for, and the record it leaves in
 * the checkpoint history once it completes or fails.
 */
import { addCounts, type RecordCounts } from '../../metrics/task-metrics.ts'
import type { CheckpointRecord } from '../checkpoint/stats.ts'
import type { TaskSnapshot } from '../checkpoint/storage.ts'
import type { LetterBatch } from '../task/dead-letters.ts'
import type { TaskCheckpointParts, TaskCheckpointTiming } from '../task/task-types.ts'

export interface InFlight {
  /** The id the tasks acknowledge and commit with (FINAL_CHECKPOINT for the final one). */
  readonly id: number
  /** The id it is written and reported under (the final one's is given when it is written). */
  fileId: number
  readonly triggeredAt: number
  readonly started: number
  readonly acks: Map<string, TaskSnapshot>
  readonly timings: TaskCheckpointTiming[]
  /** The tasks' dead letters since their previous barrier (see dead-letters.ts). */
  readonly letters: LetterBatch[]
  /** The counters up to this checkpoint since the job first started. */
  readonly counts: RecordCounts
  /** Every task acknowledged: being written and committed. */
  completing: boolean
  /** The file is durable: a failure after this (the sinks' commit) is the job's, not only the savepoint's. */
  written: boolean
  /** Set for a savepoint: where to write it, and who waits for its path. */
  readonly savepoint: SavepointRequest | null
}

export interface SavepointRequest {
  readonly dir: string
  /** performance.now() after which a request still waiting for the tasks to run fails. */
  readonly waitUntil: number
  resolve(path: string): void
  reject(e: unknown): void
}

export function inFlightOf(id: number, savepoint: SavepointRequest | null, restoredCounts: RecordCounts): InFlight {
  return { id, fileId: id, triggeredAt: Date.now(), started: performance.now(), acks: new Map(), timings: [], letters: [], counts: addCounts({}, restoredCounts), completing: false, written: false, savepoint }
}

/** What the history keeps of `f`: the slowest task's alignment, start delay and synchronous part. */
export function recordOf(f: InFlight, status: CheckpointRecord['status'], sizeBytes: number | null, failure: string | null, tasks: number): CheckpointRecord {
  let alignmentMs: number | null = null
  let startDelayMs: number | null = null
  let syncMs: number | null = null
  for (const t of f.timings) {
    alignmentMs = Math.max(alignmentMs ?? 0, t.alignmentMs)
    startDelayMs = Math.max(startDelayMs ?? 0, t.barrierAt - f.triggeredAt)
    syncMs = Math.max(syncMs ?? 0, t.syncMs)
  }
  return {
    id: f.fileId, kind: f.savepoint === null ? 'checkpoint' : 'savepoint', status, triggeredAt: f.triggeredAt,
    durationMs: performance.now() - f.started, sizeBytes, alignmentMs, startDelayMs, syncMs,
    acknowledged: f.acks.size, tasks, failure,
  }
}

/** Adds a task subtask's part to `f`; true (and `f` completing) once all `taskCount` parts are in. */
export function addPart(f: InFlight, task: string, subtask: number, parts: TaskCheckpointParts, taskCount: number): boolean {
  for (const b of parts.letters) f.letters.push(b)
  addCounts(f.counts, parts.counts)
  f.acks.set(`${task}#${subtask}`, { task, subtask, operators: parts.operators, sources: parts.sources, sinks: parts.sinks, watermark: parts.watermark })
  f.timings.push(parts.timing)
  if (f.acks.size < taskCount) return false
  f.completing = true
  return true
}
