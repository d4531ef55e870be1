/** What a job reports about its checkpoints: counts, the last one's figures, a history. */
import type { RecordCounts } from '../../metrics/task-metrics.ts'

export interface CheckpointStats {
  /** The configured interval and timeout, ms. */
  intervalMs: number
  timeoutMs: number
  completed: number
  failed: number
  lastId: number
  lastDurationMs: number | null
  lastSizeBytes: number | null
  /** Of the last completed checkpoint: the longest barrier alignment over its tasks, ms. */
  lastAlignmentMs: number | null
  /** Of the last completed checkpoint: the longest time from trigger to a task's barrier, ms. */
  lastStartDelayMs: number | null
  /** Of the last completed checkpoint: the longest synchronous snapshot over its tasks, ms. */
  lastSyncMs: number | null
  restoredFrom: number | null
  /** What this run restored from, and how long loading it took; null for a fresh start. */
  restore: CheckpointRestore | null
  /** The latest checkpoints and savepoints, oldest first (at most CHECKPOINT_HISTORY). */
  history: CheckpointRecord[]
  /** Restarts of the job in this process (from the latest checkpoint each time). */
  restarts?: number
}

/** Checkpoints kept in `CheckpointStats.history`. */
export const CHECKPOINT_HISTORY = 50

/** One checkpoint or savepoint, completed or failed. */
export interface CheckpointRecord {
  id: number
  kind: 'checkpoint' | 'savepoint'
  status: 'completed' | 'failed'
  /** Epoch ms. */
  triggeredAt: number
  /** From trigger to committed (completed) or abandoned (failed), ms. */
  durationMs: number
  /** Encoded operator state; null when failed. */
  sizeBytes: number | null
  /** Longest over the tasks that acknowledged (null: none did). */
  alignmentMs: number | null
  startDelayMs: number | null
  syncMs: number | null
  /** Tasks that acknowledged, of how many. */
  acknowledged: number
  tasks: number
  /** Why it failed; null when completed. */
  failure: string | null
}

/** What a run restored from. */
export interface CheckpointRestore {
  /** Epoch ms when it was loaded. */
  time: number
  checkpointId: number
  /** The savepoint file, or null for the newest checkpoint in the directory. */
  savepoint: string | null
  /** Epoch ms when the checkpoint was taken. */
  takenAt: number
  /** Reading and checking the file, ms. */
  loadMs: number
  sizeBytes: number
  /**
   * The operators' counters up to that checkpoint, since the job first started: metrics count
   * since this run began, and jobTotal() adds these ({} from files older than this field).
   */
  counts: RecordCounts
}

/**
 * One view of the checkpoints of several attempts: counts add up, the history runs on, and the
 * rest is the latest attempt's (its last checkpoint's figures: the latest completed one's).
 */
export function mergeCheckpointStats(before: CheckpointStats | null, now: CheckpointStats | null): CheckpointStats | null {
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
