/**
 * The operator contract. Records move in batches: parallel arrays of records and their event
 * timestamps. An operator has one required method; the rest are optional hooks.
 *
 * Rules every operator follows:
 * - it never mutates an input record or keeps a reference to the input batch's arrays after
 *   processBatch returns (records themselves may be kept);
 * - it emits through `out` only, one call per output record, in a plain loop.
 */
import type { Clock } from '../time/clock.ts'
import type { ErrorCode } from '../errors.ts'
import type { ErrorPolicy, DeadLetter } from '../connectors/spi.ts'
import type { KeyGroupFilter, OperatorSnapshot, SnapshotContext } from '../state/snapshot.ts'
import type { StateBackendFactory } from '../state/backend.ts'

/** Event time of a record with no timestamp (no watermark strategy upstream). */
export const NO_TIMESTAMP = Number.NEGATIVE_INFINITY
export const MIN_WATERMARK = Number.NEGATIVE_INFINITY
export const MAX_WATERMARK = Number.POSITIVE_INFINITY

/** A batch: `records[i]` has event time `times[i]` (NO_TIMESTAMP when none). */
export interface Batch<T> {
  records: T[]
  times: number[]
}

export function newBatch<T>(): Batch<T> {
  return { records: [], times: [] }
}

/** A named side output. `sideOutput<T>('late')` gives a typed tag. */
export interface OutputTag<T> {
  readonly id: string
  /** Phantom field carrying the type; never set. */
  readonly __type?: T
}

export function outputTag<T>(id: string): OutputTag<T> {
  return { id }
}

/** Where an operator emits. */
export interface Output<T> {
  emit(record: T, time: number): void
  emitSide<S>(tag: OutputTag<S>, record: S, time: number): void
}

/** Runtime services an operator may use; one per operator instance. */
export interface OperatorContext {
  readonly operatorId: string
  readonly clock: Clock
  /** Which parallel instance of the operator this is (0-based), of `parallelism`. */
  readonly subtaskIndex: number
  readonly parallelism: number
  /** The task's current input watermark. */
  currentWatermark(): number
  /** Asks the task to call onProcessingTime at or after `timeMs`. */
  requestProcessingTimeCallback(timeMs: number): void
  /**
   * Handles an exception thrown by user code for `record` under the operator's error policy:
   * rethrows as RECORD_FAILED for 'fail', counts for 'skip', also writes a dead letter for
   * 'dead-letter'. `index`: the record's index in the batch being processed, when known (the
   * error then names where the record was read, if this batch came straight from a source).
   */
  recordFailed(record: unknown, cause: unknown, index?: number): void
  /** Counts a record dropped as late (and not routed to a side output). */
  countLateDropped(n: number): void
  /**
   * Makes a stateful operator's state backend (operator-state.ts); absent, the heap backend. A job
   * picks another backend (on disk) here, without a change to any operator.
   */
  readonly stateBackend?: StateBackendFactory
  /**
   * @internal Rejects `record` under the operator's error policy with `code` and a message of
   * `<what> <position>: <reason>` (position: "input record #N", or `position` when given).
   */
  rejectAt?(record: unknown, code: ErrorCode, what: string, reason: string, ordinal: number, position: string | null, cause?: unknown): void
}

/**
 * @internal The side of an operator whose results complete later (the asynchronous operators):
 * it heads its task's chain, and the task takes input only while the stage has room, drains what
 * completed at each step, and passes on only the watermarks the stage releases.
 */
export interface AsyncStage {
  /** Set by the task before open(): asks the scheduler for a step (called from promise callbacks). */
  wake: () => void
  /** Something completed, timed out or is due: the task should call drain(). */
  readonly ready: boolean
  /** Holds as many records as it may: take no input batch (control items still pass). */
  full(): boolean
  /** How many more records it may hold now (≤ 0 when full): the task takes at most that many. */
  room(): number
  /** Holds nothing: no record in a call, waiting or unemitted, and no watermark held. */
  isEmpty(): boolean
  /** Emits what may leave now; returns the highest watermark released (-∞ for none). */
  drain(ctx: OperatorContext, out: Output<unknown>): number
  /**
   * Set by the task only while it snapshots past queued input (a barrier that overtook records the
   * full stage could not take yet): those records, which the snapshot holds as if taken in.
   */
  overtaken: readonly Batch<unknown>[] | null
}

export interface Operator<TIn, TOut> {
  /** `input` is 0 for one-input operators; 0 (left) or 1 (right) for two-input ones. */
  processBatch(batch: Batch<TIn>, ctx: OperatorContext, out: Output<TOut>, input: number): void
  open?(ctx: OperatorContext): void
  /** Called when the input watermark advances, before it is forwarded downstream. */
  onWatermark?(watermark: number, ctx: OperatorContext, out: Output<TOut>): void
  /** Called when a requested processing time is reached. */
  onProcessingTime?(nowMs: number, ctx: OperatorContext, out: Output<TOut>): void
  /** Called once at end of input, after the final watermark. */
  finish?(ctx: OperatorContext, out: Output<TOut>): void
  close?(): void
  /** Approximate state size, for metrics. */
  stateEntries?(): number
  /** Up to `max` state values (keys with their values), for estimating state bytes; metrics only. */
  stateSample?(max: number): unknown[]
  /** Timers (or pending window firings) waiting, for metrics. */
  pendingTimers?(): number
  /**
   * Captures the operator's complete state, partitioned by key group (state/snapshot.ts):
   * keyed state with TTL expiry times, timers, window contents, join buffers, and the
   * operator-wide marks that must survive (watermark-dependent sweep and firing marks). Stateful
   * operators implement it; stateless ones do not.
   *
   * Called on the task's thread between two calls of the other hooks — after the watermarks and
   * timers that preceded the checkpoint barrier have been handled — never during one. The result
   * may share values with the live state: encode it (encodeSnapshot) before calling the operator
   * again.
   */
  snapshotState?(ctx: SnapshotContext): OperatorSnapshot
  /**
   * Restores the state of the key groups `owns` accepts from the snapshots of the old subtasks
   * (one at the same parallelism; several, or parts of one, after rescaling). Called once, after
   * `open` and before any batch, watermark or timer. The operator re-requests the
   * processing-time callbacks its restored timers need through `ctx`. Its watermark-dependent
   * behaviour resumes from the snapshotted watermark even if the task's watermark restarts lower.
   */
  restoreState?(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void
  /** @internal Set by the asynchronous operators (see AsyncStage). */
  readonly asyncStage?: AsyncStage
}

export interface OperatorErrorOptions {
  /** What to do when the user function throws. Default 'fail'. */
  onError?: ErrorPolicy
}

export type { ErrorPolicy, DeadLetter }
