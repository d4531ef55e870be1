/** The runtime side of OperatorContext, and the collector every chained operator writes into. */
import type { DeadLetter, ErrorPolicy, Sink } from '../connectors/spi.ts'
import { SluiceError, describeCause } from '../errors.ts'
import { newBatch, type Batch, type OperatorContext, type Output, type OutputTag } from '../operators/types.ts'
import type { Clock } from '../time/clock.ts'
import type { DeadLetterRouter } from './dead-letters.ts'
import type { OperatorMetrics } from './metrics.ts'

/** What an operator context needs from its task. */
export interface TaskServices {
  readonly clock: Clock
  readonly deadLetters: DeadLetterRouter
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
        throw new SluiceError('RECORD_FAILED', `operator "${this.operatorId}" failed on ${position}: ${reason}; record: ${preview(record)}`, { cause })
      case 'skip':
        this.metrics.skipped++
        return
      case 'dead-letter':
        this.metrics.deadLettered++
        this.task.deadLetters.add(this.deadLetter as Sink<DeadLetter>, { operator: this.operatorId, position, reason, record })
        return
    }
  }
}

/** Collects an operator's output: the main batch plus one batch per side output used. */
export class Collector<T> implements Output<T> {
  batch: Batch<T> = newBatch()
  sides: Map<string, Batch<unknown>> | null = null

  emit(record: T, time: number): void {
    this.batch.records.push(record)
    this.batch.times.push(time)
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

  /** Hands the main batch over (to a channel) and starts a new one. */
  takeBatch(): Batch<T> {
    const b = this.batch
    this.batch = newBatch()
    return b
  }
}
