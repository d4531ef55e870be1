import type { DeadLetterWriters } from '../task/dead-letters.ts'
import { SourceTask } from '../task/source-task.ts'
import type { Task } from '../task/task.ts'
import type { TaskSnapshot } from '../checkpoint/storage.ts'
import type { CheckpointParticipants } from './checkpoint-coordinator.ts'

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

  async commit(_id: number, acks: ReadonlyMap<string, TaskSnapshot>): Promise<void> {
    for (const t of this.tasks) {
      const a = acks.get(`${t.id}#${t.subtask}`)
      if (a !== undefined) await t.commitCheckpoint(a)
    }
  }
}
