/**
 * The connector SPI. Connectors use only what this file declares. A source is read in batches
 * by its task; a sink is written in batches. Either side may be asynchronous by returning a
 * promise, which the task awaits without blocking other tasks.
 */
import type { Clock } from '../time/clock.ts'

/** What happens to a bad record (malformed input, or a user function that throws). */
export type ErrorPolicy = 'fail' | 'skip' | 'dead-letter'

/** A record that could not be processed, as written to a dead-letter sink. */
export interface DeadLetter {
  /** Id of the source or operator that rejected the record. */
  readonly operator: string
  /** Where the record was: "file.jsonl line 12 (byte 3301)" for sources, "record #N" for operators. */
  readonly position: string
  /** Why it was rejected. */
  readonly reason: string
  /** The raw input (a line of text for file sources) or the record itself. */
  readonly record: unknown
}

export interface SourceContext {
  readonly sourceId: string
  /** This reader's share of a split source: subtask `subtaskIndex` of `parallelism` (0-based). */
  readonly subtaskIndex: number
  readonly parallelism: number
  readonly clock: Clock
  /**
   * Reports an input record the source could not decode. Under policy 'fail' this throws a
   * SluiceError (SOURCE_MALFORMED_RECORD) naming the source, position and reason; under 'skip'
   * it counts the record; under 'dead-letter' it also writes it to the dead-letter sink.
   */
  reportBadRecord(raw: unknown, reason: string, position: string): void
}

export interface SourceReader<T> {
  /**
   * Pushes up to `max` records onto `out` and returns how many it pushed; returns -1 (pushing
   * nothing) once the input is exhausted. May return 0 when nothing is available right now
   * (an unbounded source with no data), or a promise while it waits for I/O.
   */
  read(out: T[], max: number): number | Promise<number>
  /** The position after the last record read, for messages and (later) checkpoints. */
  position(): string
  close?(): void | Promise<void>
}

export interface Source<T> {
  /** A short name of the connector kind, e.g. "file", "nexmark". */
  readonly kind: string
  /** True when the input ends by itself. */
  readonly bounded: boolean
  /** Total records, when known up front (used for progress). */
  readonly expectedRecords?: number
  /**
   * True when the source can run as several parallel readers: each opens with its
   * ctx.subtaskIndex / ctx.parallelism and reads a disjoint share, together exactly the input.
   * Sources that cannot split run at parallelism 1.
   */
  readonly splittable?: boolean
  open(ctx: SourceContext): SourceReader<T> | Promise<SourceReader<T>>
}

export interface SinkContext {
  readonly sinkId: string
  readonly clock: Clock
  /** This writer's subtask (0-based) of `parallelism`; a sink that is not `parallel` always runs as 0 of 1. */
  readonly subtaskIndex: number
  readonly parallelism: number
}

export interface SinkWriter<T> {
  /** Writes a batch. The array is only valid during the call; copy what must be kept. */
  write(batch: readonly T[]): void | Promise<void>
  /** Called at end of input, before close. */
  flush?(): void | Promise<void>
  close?(): void | Promise<void>
}

export interface Sink<T> {
  readonly kind: string
  /**
   * True when the sink can run as several parallel writers, each writing its share of the
   * records (a blackhole, a counter, a store that takes concurrent writes). Such sinks run at the
   * job's parallelism, chained to their input; other sinks run at parallelism 1.
   */
  readonly parallel?: boolean
  open(ctx: SinkContext): SinkWriter<T> | Promise<SinkWriter<T>>
}
