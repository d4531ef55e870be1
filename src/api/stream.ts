/**
 * The typed dataflow API. A Stream<T> is the output of one node; each method adds a node with an
 * explicit id and returns the new stream. Nothing runs until `pipeline.run()`.
 */
import type { Sink } from '../connectors/spi.ts'
import { SluiceError } from '../errors.ts'
import type { GraphNode, Partitioning } from '../graph/logical.ts'
import { FilterOperator } from '../operators/filter.ts'
import { FlatMapOperator, type Collector } from '../operators/flat-map.ts'
import { MapOperator } from '../operators/map.ts'
import type { Operator, OutputTag } from '../operators/types.ts'
import type { WindowAssigner } from '../operators/window/assigners.ts'
import { isRecordSchema, type RecordSchema } from '../graph/schema.ts'
import { resolveErrorOptions, requireFunction, type OperatorOptions, type PipelineContext, type SinkOptions } from './options.ts'
import { KeyedStream } from './keyed-stream.ts'
import { addAsync, callOf, lookupParts } from './async.ts'
import { resolveLookupOptions, type LookupFunction, type LookupJoinOptions, type LookupResult, type LookupTable } from '../operators/async/lookup.ts'
import type { AsyncBatchOptions, AsyncOptions, CallContext } from '../operators/async/options.ts'
import type { RecordFailure } from '../operators/async/record-failure.ts'
import type { WindowedStream } from './windowed-stream.ts'

/** @internal Where a stream comes from: a node's main output or one of its side outputs. */
export interface StreamOrigin {
  readonly nodeId: string
  readonly sideTag: string | null
}

/**
 * A stream of records of type `T`: what a source, an operator or a side output emits. Each method
 * adds an operator with an explicit id and returns the stream it emits; `to()` ends the stream in
 * a sink. Streams come from `pipeline.source()` and the methods here, never from `new`.
 *
 * @example
 * ```ts
 * const p = new Pipeline('big-bids')
 * p.source('bids', fromArray([{ auction: 1, price: 90 }, { auction: 2, price: 1200 }]))
 *   .filter('big', (b) => b.price > 1000)
 *   .to('out', stdoutSink())
 * await p.run().done
 * ```
 */
export class Stream<T> {
  /** @internal */
  constructor(
    /** @internal */
    readonly pipeline: PipelineContext,
    /** @internal */
    readonly origin: StreamOrigin,
    /** @internal How records reach the next operator (forward unless rebalance() or broadcast() said otherwise). */
    readonly exchange: Partitioning = { kind: 'forward' },
  ) {}

  /** @internal Adds a one-input operator fed by this stream. */
  addOperator<O>(id: string, label: string, create: () => Operator<T, O>, options: OperatorOptions | undefined, partitioning: Partitioning = this.exchange, keyed = false): Stream<O> {
    const g = this.pipeline.graph
    g.addNode({ type: 'operator', id, label, inputs: 1, keyed, create: create as () => Operator<unknown, unknown>, ...resolveErrorOptions(this.pipeline, id, options) })
    g.addEdge({ from: this.origin.nodeId, sideTag: this.origin.sideTag, to: id, input: 0, partitioning })
    return new Stream<O>(this.pipeline, { nodeId: id, sideTag: null })
  }

  /**
   * A custom operator that sees whole batches (Flink's `transform`): for work a per-record
   * function cannot do, such as pre-aggregating or pruning a batch before an exchange. The
   * operator must follow the contract in `Operator` (never mutate or keep the input arrays).
   * @example
   * ```ts
   * // Keeps each batch's highest bid: far fewer records cross the exchange that follows.
   * class BatchTopOperator implements Operator<Bid, Bid> {
   *   processBatch(batch: Batch<Bid>, _ctx: OperatorContext, out: Output<Bid>): void {
   *     let top = -1
   *     for (let i = 0; i < batch.records.length; i++) if (top < 0 || batch.records[i].price > batch.records[top].price) top = i
   *     if (top >= 0) out.emit(batch.records[top], batch.times[top])
   *   }
   * }
   * declare const bids: Stream<Bid>
   * bids.transform('batch-top', () => new BatchTopOperator()).windowAll(tumbling(10_000)).reduce('top', (a, b) => (b.price > a.price ? b : a))
   * ```
   */
  transform<O>(id: string, create: () => Operator<T, O>, options?: OperatorOptions): Stream<O> {
    requireFunction(id, 'transform', create)
    return this.addOperator(id, 'transform', create, options)
  }

  /**
   * One output record per input record.
   * @example
   * ```ts
   * declare const lines: Stream<string>
   * const bids = lines.map('parse', (line) => JSON.parse(line) as Bid)
   * ```
   */
  map<O>(id: string, fn: (value: T) => O, options?: OperatorOptions): Stream<O> {
    requireFunction(id, 'map', fn)
    return this.addOperator(id, 'map', () => new MapOperator(fn), options)
  }

  /**
   * The records for which `predicate` holds.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * const big = bids.filter('big', (b) => b.price > 1000)
   * ```
   */
  filter(id: string, predicate: (value: T) => boolean, options?: OperatorOptions): Stream<T> {
    requireFunction(id, 'filter', predicate)
    return this.addOperator(id, 'filter', () => new FilterOperator(predicate), options)
  }

  /**
   * Any number of output records per input record, given to `out.collect`.
   * @example
   * ```ts
   * declare const lines: Stream<string>
   * const words = lines.flatMap<string>('words', (line, out) => { for (const w of line.split(' ')) out.collect(w) })
   * ```
   */
  flatMap<O>(id: string, fn: (value: T, out: Collector<O>) => void, options?: OperatorOptions): Stream<O> {
    requireFunction(id, 'flatMap', fn)
    return this.addOperator(id, 'flatMap', () => new FlatMapOperator(fn), options)
  }

  /**
   * Calls an asynchronous function for each record (a service, a database) and emits what it
   * resolves with: at most `concurrency` calls in flight per subtask, results in input order
   * (`ordered: true`, the default) or as they complete (never past a watermark), each attempt
   * aborted through `call.signal` after `timeoutMs`, failures retried as `retry` says and then
   * handed to `onError`. In-flight records are part of checkpoints and are called again after a
   * restore: calls are at-least-once, output is exactly-once.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * // scoring: a client of your service
   * declare const scoring: { score(bidder: number, signal: AbortSignal): Promise<number> }
   * const scored = bids.mapAsync('score', async (b, call) => ({ ...b, score: await scoring.score(b.bidder, call.signal) }),
   *   { concurrency: 64, timeoutMs: 2000, retry: { attempts: 3 } })
   * ```
   */
  mapAsync<O>(id: string, fn: (value: T, call: CallContext) => Promise<O | RecordFailure>, options?: AsyncOptions): Stream<O> {
    requireFunction(id, 'mapAsync', fn)
    return addAsync(this, id, { method: 'mapAsync', parts: callOf({ kind: 'map', fn: fn as (v: unknown, c: CallContext) => unknown }), options, batched: false })
  }

  /**
   * As mapAsync, for a call that resolves with any number of results (an array or other iterable).
   * @example
   * ```ts
   * declare const lines: Stream<string>
   * const tokens = lines.flatMapAsync<string>('tokenize', async (line) => line.split(' '), { concurrency: 8 })
   * ```
   */
  flatMapAsync<O>(id: string, fn: (value: T, call: CallContext) => Promise<Iterable<O> | RecordFailure>, options?: AsyncOptions): Stream<O> {
    requireFunction(id, 'flatMapAsync', fn)
    return addAsync(this, id, { method: 'flatMapAsync', parts: callOf({ kind: 'flatMap', fn: fn as (v: unknown, c: CallContext) => unknown }), options, batched: false })
  }

  /**
   * As mapAsync, with one call per batch of records (translation and scoring services take
   * batches): a batch closes at `maxBatch` records or `maxWaitMs` after its first record, and
   * the call resolves with one result per record, in order. `concurrency` counts batches.
   * @example
   * ```ts
   * declare const texts: Stream<{ id: number; text: string }>
   * declare const translator: { translate(texts: string[], to: string, signal: AbortSignal): Promise<string[]> }
   * const translated = texts.mapAsyncBatch('translate', async (batch, call) => {
   *   const out = await translator.translate(batch.map((t) => t.text), 'fr', call.signal)
   *   return batch.map((t, i) => ({ id: t.id, text: out[i] }))
   * }, { maxBatch: 100, maxWaitMs: 10, concurrency: 8 })
   * ```
   */
  mapAsyncBatch<O>(id: string, fn: (values: T[], call: CallContext) => Promise<(O | RecordFailure)[]>, options?: AsyncBatchOptions): Stream<O> {
    requireFunction(id, 'mapAsyncBatch', fn)
    return addAsync(this, id, { method: 'mapAsyncBatch', parts: callOf({ kind: 'batch', fn: fn as (v: unknown[], c: CallContext) => unknown }), options, batched: true })
  }

  /**
   * Enriches each record with the value its key has in a table or service: `lookup` answers many
   * keys at once (`postgresLookup`, `redisLookup`, or your own `LookupTable`), or is a function of
   * one key. Records go in batches (`maxBatch`, `maxWaitMs`, `concurrency` as in mapAsyncBatch);
   * each subtask keeps an LRU cache (default 10 000 keys for 60 s; `cache: false` for none), so
   * only the distinct keys it lacks reach the table. The output is `{ record, value }` (`value`
   * undefined when not found), or what `join(record, value)` returns; `onMissing: 'drop'` drops
   * records whose key is not found. The cache's hits and misses are in the operator's metrics.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * const names = new Map([[10, 'ann'], [11, 'bob']])
   * const named = bids.lookupJoin('bidder-name', (b) => b.bidder, async (id: number) => names.get(id),
   *   { cache: { maxEntries: 1000, ttlMs: 60_000 }, join: (b, name) => ({ ...b, name: name ?? 'unknown' }) })
   * ```
   */
  lookupJoin<K, V>(id: string, keyFn: (record: T) => K, lookup: LookupTable<K, V> | LookupFunction<K, V>, options?: LookupJoinOptions<T, V, LookupResult<T, V>>): Stream<LookupResult<T, V>>
  lookupJoin<K, V, O>(id: string, keyFn: (record: T) => K, lookup: LookupTable<K, V> | LookupFunction<K, V>, options: LookupJoinOptions<T, V, O> & { join: (record: T, value: V | undefined) => O }): Stream<O>
  lookupJoin<K, V, O>(id: string, keyFn: (record: T) => K, lookup: LookupTable<K, V> | LookupFunction<K, V>, options?: LookupJoinOptions<T, V, O>): Stream<O> {
    requireFunction(id, 'lookupJoin key selector', keyFn)
    const resolved = resolveLookupOptions(id, options)
    const batchOptions = { maxWaitMs: 0, ...options }
    return addAsync(this, id, { method: 'lookupJoin', parts: lookupParts(id, keyFn, lookup, resolved), options: batchOptions, batched: true })
  }

  /**
   * Sets the parallelism of the operator (or source) that produced this stream.
   * @example
   * ```ts
   * declare const lines: Stream<string>
   * lines.map('parse', (line) => JSON.parse(line) as Bid).parallelism(4)
   * ```
   */
  parallelism(n: number): this {
    if (!Number.isInteger(n) || n < 1 || n > 1024) {
      throw new SluiceError('PARALLELISM_INVALID', `"${this.origin.nodeId}": parallelism must be a whole number from 1 to 1024, got ${n}`)
    }
    this.node().parallelism = n
    return this
  }

  /**
   * Declares the schema of this stream's records. Where the stream crosses between worker threads
   * its batches are then encoded column-wise into typed arrays (numbers, strings through a
   * per-batch dictionary, booleans, nullable fields), which is faster and smaller than the generic
   * encoding. A record that does not fit the schema fails the job with a CODEC error naming the
   * field. Same-thread channels pass records as they are.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * bids.map('project', (b) => ({ auction: b.auction, price: b.price })).schema(recordSchema({ auction: 'int', price: 'number' }))
   * ```
   */
  schema(schema: RecordSchema<T>): this {
    if (!isRecordSchema(schema)) {
      throw new SluiceError('SCHEMA_INVALID', `"${this.origin.nodeId}": schema() takes a schema built by recordSchema({...}), got ${typeof schema}`)
    }
    if (this.origin.sideTag !== null) {
      throw new SluiceError('SCHEMA_INVALID', `"${this.origin.nodeId}": schema() applies to an operator's main output, not to side output "${this.origin.sideTag}"; declare it on a map after sideOutput()`)
    }
    (this.pipeline.graph.nodes.get(this.origin.nodeId) as GraphNode).schema = schema as RecordSchema<unknown>
    return this
  }

  /** Keeps this stream's operator out of any chain (it gets its own task). */
  disableChaining(): this {
    this.node().chaining = 'disabled'
    return this
  }

  /** Starts a new chain at this stream's operator (it is not chained to its input). */
  startNewChain(): this {
    this.node().chaining = 'new-chain'
    return this
  }

  /** Sends records to the next operator's subtasks round-robin, batch by batch. */
  rebalance(): Stream<T> {
    return new Stream<T>(this.pipeline, this.origin, { kind: 'rebalance' })
  }

  /** Sends every record to every subtask of the next operator. */
  broadcast(): Stream<T> {
    return new Stream<T>(this.pipeline, this.origin, { kind: 'broadcast' })
  }

  private node(): { parallelism?: number; chaining?: 'default' | 'disabled' | 'new-chain' } {
    return this.pipeline.graph.nodes.get(this.origin.nodeId) as { parallelism?: number; chaining?: 'default' | 'disabled' | 'new-chain' }
  }

  /** Partitions by key; keyed operations (windows, state, rolling aggregates, joins) follow. */
  keyBy<K>(key: (value: T) => K): KeyedStream<K, T> {
    requireFunction(this.origin.nodeId, 'keyBy key selector', key)
    return new KeyedStream<K, T>(this, key)
  }

  /** All records in one group: a keyed stream with a single constant key. */
  windowAll(assigner: WindowAssigner): WindowedStream<number, T> {
    return this.keyBy(() => 0).window(assigner)
  }

  /** Merges streams of the same type; the watermark is the minimum over them. */
  union(id: string, ...others: Stream<T>[]): Stream<T> {
    const out = this.addOperator<T>(id, 'union', () => new PassThroughOperator<T>(), undefined)
    for (const o of others) {
      if (o.pipeline !== this.pipeline) throw new SluiceError('JOB_ARGUMENT_INVALID', `union "${id}": streams belong to different pipelines`)
      this.pipeline.graph.addEdge({ from: o.origin.nodeId, sideTag: o.origin.sideTag, to: id, input: 0, partitioning: o.exchange })
    }
    return out
  }

  /** The records this stream's operator emitted to a side output. */
  sideOutput<S>(tag: OutputTag<S>): Stream<S> {
    if (this.origin.sideTag !== null) throw new SluiceError('JOB_ARGUMENT_INVALID', 'a side output has no side outputs of its own')
    return new Stream<S>(this.pipeline, { nodeId: this.origin.nodeId, sideTag: tag.id })
  }

  /**
   * Writes the stream to a sink. `onError` is what happens to a record the sink cannot encode
   * because of the record itself (nested too deep, cyclic, a BigInt in JSON): 'fail' (default,
   * SINK_RECORD_UNWRITABLE), 'skip' or 'dead-letter'; failures of the destination stay SINK_IO.
   * @example
   * ```ts
   * declare const results: Stream<{ auction: number; n: number }>
   * results.to('print', stdoutSink())
   * results.to('out', fileSink('out.jsonl'), { onError: 'dead-letter', deadLetter: fileSink('dead.jsonl') })
   * ```
   */
  to(id: string, sink: Sink<T>, options?: SinkOptions): void {
    if (sink === null || typeof sink !== 'object' || typeof sink.open !== 'function') {
      throw new SluiceError('JOB_ARGUMENT_INVALID', `"${id}": to() needs a sink (an object with open()), got ${typeof sink}`)
    }
    const g = this.pipeline.graph
    const parallelism = options?.parallelism
    if (parallelism !== undefined && (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 1024)) {
      throw new SluiceError('PARALLELISM_INVALID', `"${id}": parallelism must be a whole number from 1 to 1024, got ${parallelism}`)
    }
    g.addNode({ type: 'sink', id, label: `sink(${sink.kind})`, sink: sink as Sink<unknown>, ...(parallelism === undefined ? {} : { parallelism }), ...resolveErrorOptions(this.pipeline, id, options) })
    g.addEdge({ from: this.origin.nodeId, sideTag: this.origin.sideTag, to: id, input: 0, partitioning: this.exchange })
  }
}

/** @internal The operator of `union`: records and their times pass through unchanged. */
export class PassThroughOperator<T> implements Operator<T, T> {
  processBatch(batch: { records: T[]; times: number[] }, _ctx: unknown, out: { emit(r: T, t: number): void }): void {
    const { records, times } = batch
    for (let i = 0; i < records.length; i++) out.emit(records[i], times[i])
  }
}
