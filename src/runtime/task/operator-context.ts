/** The runtime side of OperatorContext, and the collector every chained operator writes into. */
import type { DeadLetter, ErrorPolicy, Sink } from '../../connectors/spi.ts'
import { describeCause, ERROR_CODES, isSluiceError, type ErrorCode } from '../../errors.ts'
import { newBatch, type Batch, type OperatorContext, type Output, type OutputTag } from '../../operators/types.ts'
import type { Clock } from '../../time/clock.ts'
import type { OperatorMetrics } from '../../metrics/task-metrics.ts'
import { rejectRecord, type RecordPolicy } from '../../operators/record-errors.ts'

export { preview } from '../../operators/record-errors.ts'

/** What an operator context needs from its task. */
export interface TaskServices {
  readonly clock: Clock
  readonly subtask: number
  readonly parallelism: number
  /** Routes a dead letter (held for the next checkpoint when the job takes them). */
  deadLetter(sink: Sink<DeadLetter>, letter: DeadLetter): void
  /**
   * Where record `i` of the batch link `link` of the chain is processing was read ("views.csv
   * line 2 (byte 13)"), when that batch holds the source's records one for one; else null.
   */
  sourcePositionOf?(link: number, i: number): string | null
  /** The watermark link `link` has seen (past an asynchronous head, what it released). */
  watermark(link: number): number
  requestProcessingTime(opIndex: number, timeMs: number): void
}

export class OperatorContextImpl implements OperatorContext {
  /** Set by the task before processBatch, so a failure can name the record's position. */
  currentInput: Batch<unknown> | null = null
  /** Records this operator had received before the current batch. */
  inputBase = 0
  /** Where this operator's bad records go. */
  readonly errorPolicy: RecordPolicy

  constructor(
    readonly operatorId: string,
    /** Position of the operator's link in the task's executed chain (changes when links fuse). */
    public index: number,
    private readonly task: TaskServices,
    policy: ErrorPolicy,
    deadLetter: Sink<DeadLetter> | undefined,
    readonly metrics: OperatorMetrics,
  ) {
    this.errorPolicy = { policy, deadLetter, letters: task, metrics }
  }

  get clock(): Clock {
    return this.task.clock
  }

  get subtaskIndex(): number {
    return this.task.subtask
  }

  get parallelism(): number {
    return this.task.parallelism
  }

  rejectAt(record: unknown, code: ErrorCode, what: string, reason: string, ordinal: number, position: string | null, cause?: unknown): void {
    const where = position ?? (ordinal < 0 ? 'outside a batch' : `input record #${ordinal}`)
    rejectRecord(this.errorPolicy, code, `${what}${this.subtaskLabel()} ${where}: ${reason}`, { operator: this.operatorId, position: where, reason, record }, cause)
  }

  currentWatermark(): number {
    return this.task.watermark(this.index)
  }

  requestProcessingTimeCallback(timeMs: number): void {
    this.task.requestProcessingTime(this.index, timeMs)
  }

  countLateDropped(n: number): void {
    this.metrics.lateDropped += n
  }

  recordFailed(record: unknown, cause: unknown, index?: number): void {
    const i = index !== undefined && this.currentInput?.records[index] === record ? index : this.indexOf(record)
    this.recordFailedAt(record, cause, i < 0 ? -1 : this.inputBase + i + 1, i < 0 ? null : this.sourcePositionOf(i))
  }

  /**
   * As recordFailed, for a record known to be the operator's `ordinal`-th input (1-based; -1
   * unknown), read at `readAt` (see sourcePositionOf; null: unknown).
   */
  recordFailedAt(record: unknown, cause: unknown, ordinal: number, readAt: string | null = null): void {
    const where = ordinal < 0 ? 'outside a batch (timer or end of input)' : `input record #${ordinal}`
    const position = readAt === null ? where : `${where}, read at ${readAt}`
    const reason = reasonWithHint(cause)
    rejectRecord(this.errorPolicy, 'RECORD_FAILED', `operator "${this.operatorId}"${this.subtaskLabel()} failed on ${position}: ${reason}`, { operator: this.operatorId, position, reason, record }, cause)
  }

  /** Where record `i` of this operator's current input batch was read, when the task knows (see TaskServices). */
  sourcePositionOf(i: number): string | null {
    return this.task.sourcePositionOf?.(this.index, i) ?? null
  }

  /**
   * A record of the current input batch (or one emitted for it) that cannot go on for a reason
   * other than the operator's function: applies this node's policy with `code`, the message
   * reading `<role> "<id>" <what> input record #N: <reason>`.
   */
  rejectInput(record: unknown, code: ErrorCode, role: string, what: string, reason: string, cause?: unknown): void {
    const i = this.indexOf(record)
    const readAt = i < 0 ? null : this.sourcePositionOf(i)
    const where = i < 0 ? 'outside a batch (end of input)' : `input record #${this.inputBase + i + 1}`
    const position = readAt === null ? where : `${where}, read at ${readAt}`
    rejectRecord(this.errorPolicy, code, `${role} "${this.operatorId}"${this.subtaskLabel()} ${what} ${position}: ${reason}`, { operator: this.operatorId, position, reason, record }, cause)
  }

  /** The index of `record` in the current input batch, or -1 when it is not in it. */
  private indexOf(record: unknown): number {
    return this.currentInput === null ? -1 : this.currentInput.records.indexOf(record)
  }

  private subtaskLabel(): string {
    return this.task.parallelism > 1 ? ` (subtask ${this.task.subtask} of ${this.task.parallelism})` : ''
  }
}

/**
 * The cause of a RECORD_FAILED as its message says it, and, when the engine raised it about the
 * record (RECORD_NO_EVENT_TIME, TIMESTAMP_INVALID: a user-kind code), that code's hint too: the
 * error users see is RECORD_FAILED, whose own hint ("fix what failed") would say less.
 */
function reasonWithHint(cause: unknown): string {
  const reason = describeCause(cause)
  if (!isSluiceError(cause) || cause.code === 'RECORD_FAILED' || ERROR_CODES[cause.code].kind !== 'user') return reason
  return `${reason} (what to do: ${ERROR_CODES[cause.code].hint})`
}

/** Buffers longer than this are dropped after hand-over instead of reused. */
const MAX_RETAINED = 8192

/**
 * Collects an operator's output: the main batch plus one batch per side output used.
 *
 * The main output is written by index into buffers that are reused from batch to batch and
 * copied out once, exactly sized, by takeBatch(): an indexed store costs ~1-2 ns where growing
 * a fresh array by push costs ~13 ns per record (measured). The buffers may keep references to
 * the last batch's records until they are overwritten; that is bounded by the largest batch.
 */
export class Collector<T> implements Output<T> {
  private records: T[] = []
  private times: number[] = []
  /** Records emitted since the last takeBatch(). */
  size = 0
  sides: Map<string, Batch<unknown>> | null = null

  emit(record: T, time: number): void {
    const i = this.size
    this.records[i] = record
    this.times[i] = time
    this.size = i + 1
  }

  emitSide<S>(tag: OutputTag<S>, record: S, time: number): void {
    if (this.sides === null) this.sides = new Map()
    let b = this.sides.get(tag.id)
    if (b === undefined) {
      b = newBatch()
      this.sides.set(tag.id, b)
    }
    b.records.push(record)
    b.times.push(time)
  }

  /** Hands the emitted records over as a new, exactly sized batch and starts again. */
  takeBatch(): Batch<T> {
    const n = this.size
    this.size = 0
    const batch = { records: this.records.slice(0, n), times: this.times.slice(0, n) }
    if (this.records.length > MAX_RETAINED) {
      // After a burst (a window firing at once) do not keep its records reachable.
      this.records = []
      this.times = []
    }
    return batch
  }
}
