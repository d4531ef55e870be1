import type { DeadLetterWriters } from '../task/dead-letters.ts'
import { SourceTask } from '../task/source-task.ts'
import type { Task } from '../task/task.ts'
import type { TaskSnapshot } from '../checkpoint/storage.ts'

/**
 * Where the tasks are: in this thread (LocalParticipants) or on worker threads (the threaded job's
 * adapter, which trades messages with the workers).
 */
export interface CheckpointParticipants {
  /** Task subtasks that must acknowledge each checkpoint. */
  readonly taskCount: number
  /** Source id → how many subtasks read it now. */
  readonly sourceSubtasks: ReadonlyMap<string, number>
  /** The job's dead-letter sinks, written with each checkpoint's letters (null: it has none). */
  readonly deadLetters: DeadLetterWriters | null
  /** False once any task has ended: a checkpoint then cannot complete. */
  allRunning(): boolean
  /** Asks every source subtask for barrier `id`. */
  triggerSources(id: number): void
  /**
   * Checkpoint `id` is durable: every task commits its sinks' pre-commits. The acks' state buffers
   * are written and not used again here: a participant may move them back to their thread.
   */
  commit(id: number, acks: ReadonlyMap<string, TaskSnapshot>): Promise<void>
}

/** Tasks in this thread. */
export class LocalParticipants implements CheckpointParticipants {
  readonly taskCount: number
  readonly sourceSubtasks = new Map<string, number>()

  constructor(
    private readonly tasks: Task[],
    readonly deadLetters: DeadLetterWriters | null,
  ) {
    this.taskCount = tasks.length
    for (const t of tasks) if (t instanceof SourceTask) this.sourceSubtasks.set(t.id, (this.sourceSubtasks.get(t.id) ?? 0) + 1)
  }

  allRunning(): boolean {
    return this.tasks.every((t) => t.state === 'running')
  }

  triggerSources(id: number): void {
    for (const t of this.tasks) if (t instanceof SourceTask) t.triggerCheckpoint(id)
  }

  async commit(id: number, acks: ReadonlyMap<string, TaskSnapshot>): Promise<void> {
    for (const t of this.tasks) {
      const a = acks.get(`${t.id}#${t.subtask}`)
      if (a !== undefined) await t.commitCheckpoint(a, id)
    }
  }
}
