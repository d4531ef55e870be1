/**
 * The connector SPI. Connectors use only what this file declares. A source is read in batches
 * by its task; a sink is written in batches. Either side may be asynchronous by returning a
 * promise, which the task awaits without blocking other tasks.
 *
 * ## Checkpoint hooks
 *
 * Exactly-once output needs replayable sources and two-phase-commit sinks. Both are optional:
 * a connector that has neither still runs, and the job's guarantee is the weakest of its
 * connectors'.
 *
 * Sources (`Source.replayable`, `SourceReader.snapshotPosition`, `Source.open(ctx, from)`):
 * - At a checkpoint barrier, between two reads (never while a read's promise is pending), the
 *   source task calls `reader.snapshotPosition()` and stores the value in the snapshot, per
 *   source id and subtask. It is a small JSON value (`{ index: 1200 }`).
 * - On recovery the task opens the source with that value: `source.open(ctx, position)`. The
 *   reader then produces exactly the records that followed the snapshot, in the same order, as
 *   if the first reader had gone on. `ctx.subtaskIndex` and `ctx.parallelism` must be the ones
 *   the position was taken with (a position describes one subtask's share of the input).
 * - A source with `replayable` not true (stdin) cannot be read again: records read after the
 *   last completed checkpoint are lost on recovery, so a job reading it has no delivery
 *   guarantee across a failure (not even at-least-once). Never pass it a position.
 *
 * Sinks (`Sink.exactlyOnce`, `SinkWriter.preCommit` / `commit`, `Sink.open(ctx, recoverFrom)`):
 * - At the barrier (after every record before it was written) the sink task calls
 *   `writer.preCommit(checkpointId)`: the writer makes everything written so far durable and
 *   returns a small JSON `SinkCommit`, which goes into the snapshot.
 * - When the checkpoint is complete (all tasks acknowledged, the snapshot stored), the
 *   coordinator calls `writer.commit(thatCommit)`. Commit is idempotent, commits everything up
 *   to that pre-commit (earlier, skipped commits included), and a late commit for an older
 *   checkpoint does nothing.
 * - On recovery within the same process, the old writers are aborted first (`abort`, which
 *   writes nothing more, unlike `close`).
 * - On recovery the sink is opened with the commit of the latest completed checkpoint,
 *   `sink.open(ctx, commit)`, or `null` when no checkpoint has completed. The writer treats it
 *   as committed (the process may have died between completing the checkpoint and calling
 *   commit) and discards everything written after it. `open(ctx)` with no second argument is a
 *   plain start, as in a job without checkpoints.
 *
 * @example
 * // One checkpoint, as the runtime drives it:
 * const position = reader.snapshotPosition?.()           // source task, at barrier n
 * const commit = await writer.preCommit?.(n)             // sink task, at barrier n
 * await storeSnapshot(n, { position, commit })           // coordinator: checkpoint n complete
 * await writer.commit?.(commit!)
 * // After a failure, from the latest complete snapshot:
 * const reader2 = await source.open(sourceCtx, snapshot.position)
 * const writer2 = await sink.open(sinkCtx, snapshot.commit ?? null)
 */
import type { MessagePort } from 'node:worker_threads'
import type { Clock } from '../time/clock.ts'

/** A value that survives JSON.stringify / JSON.parse unchanged (no undefined, no Infinity). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/**
 * Where a source reader is, as stored in a checkpoint: a small JSON object whose shape each
 * source defines, e.g. `{ index: 1200 }` or `{ byteOffset: 88120, line: 1532, endByte: null }`.
 * Opaque to everyone but the source that made it.
 */
export type SourcePosition = { readonly [key: string]: JsonValue }

/**
 * What a sink writer made durable at a checkpoint, as stored in it: a small JSON object whose
 * shape each sink defines, e.g. `{ path: 'out.jsonl', length: 4096 }`. Opaque to everyone but
 * the sink that made it.
 */
export type SinkCommit = { readonly [key: string]: JsonValue }

/**
 * One partition of a source (a Kafka partition, a JetStream subject, a Redis stream key) as
 * monitoring shows it: where the reader is and how far behind the end it is.
 */
export interface PartitionProgress {
  /** The partition's name, short and stable: "orders/3", "nexmark.5". At most a few hundred per source. */
  readonly partition: string
  /** The read position in the broker's terms ("offset 1200", "seq 88"), for people. */
  readonly position: string
  /** Records between the read position and the end the reader last saw; null when unknown. */
  readonly lag: number | null
}

/** A connector's link to its server, for monitoring. */
export interface ConnectionStatus {
  readonly state: 'connected' | 'reconnecting' | 'failed'
  /** The last connection error, without credentials; null when none since the last connect. */
  readonly lastError: string | null
  /** Epoch ms of the last change of `state`. */
  readonly since: number
}

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
  /**
   * The raw input as read (a line of text for line-based sources; base64 of its bytes when they
   * are not valid UTF-8, see `recordEncoding`) or the record itself. A record that cannot be
   * written (nested too deep, cyclic, a BigInt) is replaced by a preview string, and `reason` says so.
   */
  readonly record: unknown
  /** 'base64': `record` is the raw input's bytes in base64 (input that is not valid UTF-8). Absent otherwise. */
  readonly recordEncoding?: 'base64'
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
   * it counts the record; under 'dead-letter' it also writes it to the dead-letter sink. `raw` is
   * the input as read: a line's text, or its bytes (a Uint8Array the source no longer uses) when
   * they are not valid text, which letters carry as base64.
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
  /** The position after the last record read, in words, for messages. */
  position(): string
  /**
   * Where record `i` of the records the last `read` pushed came from, in words ("events.jsonl
   * line 1003 (byte 88120)"), for an error found after the read (an invalid timestamp). Called
   * only for bad records, before the next read; readers that know per-record positions keep them
   * cheaply (no allocation per record). Absent: the error names `position()`, the batch's end.
   */
  positionOf?(i: number): string
  /**
   * The input record `i` of the last `read` came from, as read (a line; its bytes when they are
   * not valid UTF-8), for the dead letter of an error found after the read, so the letter holds
   * what the input said (`1e400`, not the `null` its parsed Infinity would print as). Called
   * only before the next read; undefined when the reader no longer has it.
   */
  rawOf?(i: number): string | Uint8Array | undefined
  /**
   * The position after the last record read, for a checkpoint: opening the source again with it
   * (`source.open(ctx, position)`) yields exactly the records after those read so far. Called
   * only between reads, never while a read's promise is pending. Cheap (no I/O), changes
   * nothing, and returns a fresh object the caller may keep. Implemented by the readers of
   * `replayable` sources.
   *
   * @example
   * ```ts
   * declare const ctx: SourceContext
   * const out: string[] = []
   * const reader = await fromArray(['a', 'b', 'c']).open(ctx)
   * reader.read(out, 2)                                  // 'a', 'b'
   * const at = reader.snapshotPosition!()                // { index: 2 }
   * const resumed = await fromArray(['a', 'b', 'c']).open(ctx, at)
   * resumed.read(out, 10)                                // 'c'
   * ```
   */
  snapshotPosition?(): SourcePosition
  /**
   * The checkpoint whose position this reader returned as `position` completed: a broker source
   * may now tell the broker (commit a Kafka group's offsets, so lag tools see the job's progress).
   * Never needed for correctness: the position in the checkpoint is what a restore uses. Called
   * in checkpoint order, possibly skipping some; errors are logged, not fatal.
   */
  checkpointComplete?(position: SourcePosition): void | Promise<void>
  /**
   * Per-partition watermarks, for a reader of several partitions (Kafka partitions, JetStream
   * subjects, Redis stream keys), each in event-time order but read at different paces. The number
   * of partitions this reader reads, fixed once it is open. With it, every `read` pushes records of
   * ONE partition and `lastPartition()` says which: the task keeps the highest event time per
   * partition and its watermark is the lowest over partitions that have neither ended nor gone
   * idle, so a partition read ahead never makes another's records late (Flink's per-split
   * watermarks). Absent: one watermark over everything the reader returns.
   */
  partitionCount?(): number
  /** The partition (0 ≤ index < partitionCount()) of the records the last `read` pushed. */
  lastPartition?(): number
  /** True once partition `index` has no more records (a bounded read reached its end): it no longer holds the watermark back. */
  partitionEnded?(index: number): boolean
  /** Per partition this reader reads: position and lag. Cheap (no I/O): the reader keeps what its last fetches told it. */
  progress?(): readonly PartitionProgress[]
  /** The reader's link to its server; absent for sources that have none (files, generators). */
  connection?(): ConnectionStatus
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
  /**
   * True when the input can be read again: every `open` replays it from the start, its readers
   * implement `snapshotPosition`, and `open(ctx, position)` resumes after that position. Needed
   * for exactly-once (and at-least-once) recovery. Stdin is not replayable.
   */
  readonly replayable?: boolean
  /**
   * Opens a reader for subtask `ctx.subtaskIndex` of `ctx.parallelism`. With `from` (only
   * ever given to a `replayable` source) the reader resumes after that position, which a reader
   * of this source took for the same subtask and parallelism; a position that does not fit
   * (another split, a changed input) fails with a SluiceError rather than reading wrong data.
   *
   * @example
   * ```ts
   * declare const ctx: SourceContext
   * const source = fromArray(Array.from({ length: 5000 }, (_, i) => i))
   * const reader = await source.open(ctx)                          // from the start
   * const resumed = await source.open(ctx, { index: 1200 })        // after 1200 records
   * ```
   */
  open(ctx: SourceContext, from?: SourcePosition): SourceReader<T> | Promise<SourceReader<T>>
  /**
   * For a source whose records arrive on the main thread (the HTTP ingest source: the monitoring
   * server runs there) while its reader may run on a worker thread. On worker threads the runtime
   * makes one MessageChannel per such source and calls this on the main thread's instance (the
   * one in the graph the coordinator planned) with `end` 'main', and on the instance the reading
   * worker built from the job module with 'worker', before that worker opens it; the two speak the
   * source's own protocol over the channel. A restart calls it again with a new channel. Never
   * called when the job runs in one thread (`workers: 0`): the reader then runs beside the server.
   */
  attachFeed?(port: MessagePort, end: 'main' | 'worker'): void
}

export interface SinkContext {
  readonly sinkId: string
  readonly clock: Clock
  /** This writer's subtask (0-based) of `parallelism`; a sink that is not `parallel` always runs as 0 of 1. */
  readonly subtaskIndex: number
  readonly parallelism: number
  /**
   * Reports a record the writer cannot encode or write because of the record itself (nested too
   * deep for the stack, cyclic, a BigInt in JSON): the runtime applies the sink's `onError`
   * policy. Under 'fail' this throws a SluiceError (SINK_RECORD_UNWRITABLE, a user error, not
   * retried) naming the sink, the record's position and the reason; under 'skip' it counts the
   * record; under 'dead-letter' it also writes a letter. When it returns, the writer leaves the
   * record out and writes the rest of the batch. Not for I/O failures (those are SINK_IO).
   * Absent when the context was made outside the runtime: the writer then throws
   * SINK_RECORD_UNWRITABLE itself.
   *
   * @example
   * ```ts
   * declare const ctx: SinkContext
   * declare const record: unknown
   * let line: string | null = null
   * try { line = JSON.stringify(record) } catch (e) { ctx.reportBadRecord?.(record, `cannot encode: ${e}`) }
   * ```
   */
  readonly reportBadRecord?: (record: unknown, reason: string) => void
}

export interface SinkWriter<T> {
  /** Writes a batch. The array is only valid during the call; copy what must be kept. */
  write(batch: readonly T[]): void | Promise<void>
  /** Called at end of input, before close. */
  flush?(): void | Promise<void>
  /**
   * First phase of a checkpoint, at its barrier: makes everything written so far durable (for a
   * file: write out buffers and fsync) and describes it. Not called while a write is pending;
   * no write starts until it resolves. Failing (e.g. fsync failing, as SINK_IO) fails the
   * checkpoint, and the writer must not be used afterwards.
   *
   * @example
   * ```ts
   * declare const writer: SinkWriter<Bid>
   * declare const batch: Bid[]
   * await writer.write(batch)
   * const commit = await writer.preCommit!(7)    // fileSink: { path: 'out.jsonl', length: 4096 }
   * ```
   */
  preCommit?(checkpointId: number): SinkCommit | Promise<SinkCommit>
  /**
   * Second phase, once the checkpoint whose `preCommit` returned `commit` is complete: makes
   * that output final. Idempotent; commits everything up to `commit` (also when commits of
   * earlier checkpoints were skipped); a commit older than one already committed does nothing.
   *
   * @example
   * ```ts
   * declare const writer: SinkWriter<Bid>
   * const commit = await writer.preCommit!(7)
   * await writer.commit!(commit)
   * await writer.commit!(commit)                 // again: no effect
   * ```
   */
  commit?(commit: SinkCommit): void | Promise<void>
  close?(): void | Promise<void>
  /**
   * Discards the writer after a failure, instead of `close`: drops what is buffered, waits for
   * writes already in flight, releases its resources and writes nothing more. A job recovering
   * in the same process aborts the old writers before it opens new ones with `recoverFrom`
   * (closing them could still write buffered output over the recovered one's). Idempotent.
   *
   * @example
   * ```ts
   * declare const sink: Sink<Bid>
   * declare const ctx: SinkContext
   * declare const oldWriter: SinkWriter<Bid>
   * declare const lastCompletedCommit: SinkCommit
   * await oldWriter.abort?.()
   * const writer = await sink.open(ctx, lastCompletedCommit)
   * ```
   */
  abort?(): void | Promise<void>
  /** The writer's link to its server; absent for sinks that have none (files, stdout). */
  connection?(): ConnectionStatus
}

export interface Sink<T> {
  readonly kind: string
  /**
   * True when the sink can run as several parallel writers, each writing its share of the
   * records (a blackhole, a counter, a store that takes concurrent writes). Such sinks run at the
   * job's parallelism, chained to their input; other sinks run at parallelism 1.
   */
  readonly parallel?: boolean
  /**
   * True when, with replayable sources and the checkpoint hooks used as described at the top
   * of this file, every record's output survives recovery exactly once: the sink can discard
   * output written after the last completed checkpoint (`open(ctx, recoverFrom)`). False or
   * absent: output after that checkpoint is written again on recovery (at-least-once).
   */
  readonly exactlyOnce?: boolean
  /**
   * Opens a writer. `recoverFrom` is given on recovery of a checkpointed job: the commit of the
   * latest completed checkpoint for this subtask, or null when none completed. The writer
   * first treats that commit as committed, then discards anything written after it (null:
   * everything), then appends. Absent: a plain start (for a file, replace it).
   *
   * @example
   * ```ts
   * declare const ctx: SinkContext
   * const writer = await fileSink('out.jsonl').open(ctx, { path: 'out.jsonl', length: 4096 })
   * // out.jsonl is truncated to its first 4096 bytes; writes append after them
   * ```
   */
  open(ctx: SinkContext, recoverFrom?: SinkCommit | null): SinkWriter<T> | Promise<SinkWriter<T>>
}
