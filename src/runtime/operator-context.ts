/** The runtime side of OperatorContext, and the collector every chained operator writes into. */
import type { DeadLetter, ErrorPolicy, Sink } from '../connectors/spi.ts'
import { SluiceError, describeCause } from '../errors.ts'
import { newBatch, type Batch, type OperatorContext, type Output, type OutputTag } from '../operators/types.ts'
import type { Clock } from '../time/clock.ts'
import type { OperatorMetrics } from './metrics.ts'

/** What an operator context needs from its task. */
export interface TaskServices {
  readonly clock: Clock
  readonly subtask: number
  readonly parallelism: number
  /** Routes a dead letter (held for the next checkpoint when the job takes them). */
  deadLetter(sink: Sink<DeadLetter>, letter: DeadLetter): void
  watermark(): number
  requestProcessingTime(opIndex: number, timeMs: number): void
}

export function preview(record: unknown): string {
  let s: string
  try {
    s = typeof record === 'string' ? record : (JSON.stringify(record) ?? String(record))
  } catch {
    s = String(record)
  }
  return s.length > 200 ? `${s.slice(0, 200)}…` : s
}

export class OperatorContextImpl implements OperatorContext {
  /** Set by the task before processBatch, so a failure can name the record's position. */
  currentInput: Batch<unknown> | null = null
  /** Records this operator had received before the current batch. */
  inputBase = 0

  constructor(
    readonly operatorId: string,
    /** Position of the operator's link in the task's executed chain (changes when links fuse). */
    public index: number,
    private readonly task: TaskServices,
    private readonly policy: ErrorPolicy,
    private readonly deadLetter: Sink<DeadLetter> | undefined,
    readonly metrics: OperatorMetrics,
  ) {}

  get clock(): Clock {
    return this.task.clock
  }

  currentWatermark(): number {
    return this.task.watermark()
  }

  requestProcessingTimeCallback(timeMs: number): void {
    this.task.requestProcessingTime(this.index, timeMs)
  }

  countLateDropped(n: number): void {
    this.metrics.lateDropped += n
  }

  recordFailed(record: unknown, cause: unknown): void {
    const idx = this.currentInput === null ? -1 : this.currentInput.records.indexOf(record)
    this.recordFailedAt(record, cause, idx < 0 ? -1 : this.inputBase + idx + 1)
  }

  /** As recordFailed, for a record known to be the operator's `ordinal`-th input (1-based; -1 unknown). */
  recordFailedAt(record: unknown, cause: unknown, ordinal: number): void {
    this.metrics.errors++
    const position = ordinal < 0 ? 'outside a batch (timer or end of input)' : `input record #${ordinal}`
    const reason = describeCause(cause)
    switch (this.policy) {
      case 'fail':
        throw new SluiceError('RECORD_FAILED', `operator "${this.operatorId}"${this.task.parallelism > 1 ? ` (subtask ${this.task.subtask + 1} of ${this.task.parallelism})` : ''} failed on ${position}: ${reason}; record: ${preview(record)}`, { cause })
      case 'skip':
        this.metrics.skipped++
        return
      case 'dead-letter':
        this.metrics.deadLettered++
        this.task.deadLetter(this.deadLetter as Sink<DeadLetter>, { operator: this.operatorId, position, reason, record })
        return
    }
  }
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
