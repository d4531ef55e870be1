/** Keyed operations: rolling aggregates, process functions with state and timers, windows, joins. */
import { reduceAggregate, type AggregateFunction } from '../operators/aggregate.ts'
import { KeyedProcessOperator, instantiate, type FunctionOrFactory, type KeyedCoProcessFunction, type KeyedProcessFunction } from '../operators/keyed-process.ts'
import { RollingAggregateOperator } from '../operators/rolling-aggregate.ts'
import type { WindowAssigner } from '../operators/window/assigners.ts'
import type { Operator } from '../operators/types.ts'
import { requireFunction, type OperatorOptions } from './options.ts'
import { addAsync, callOf } from './async.ts'
import type { RecordFailure } from '../operators/async/record-failure.ts'
import type { CallContext, KeyedAsyncOptions } from '../operators/async/options.ts'
import type { Stream } from './stream.ts'
import { WindowedStream } from './windowed-stream.ts'
import { JoinBuilder } from './join-builder.ts'

/** What a rolling aggregate emits without a projection: the key and its current result. */
export interface KeyedResult<K, R> {
  key: K
  value: R
}

/**
 * A stream partitioned by key (`stream.keyBy(key)`): every record of a key goes to the same
 * subtask, so operators here keep state, timers and windows per key.
 *
 * @example
 * ```ts
 * declare const bids: Stream<Bid>
 * bids.keyBy((b) => b.auction).window(tumbling(10_000)).aggregate('bids-per-auction', count())
 * ```
 */
export class KeyedStream<K, T> {
  /** @internal */
  constructor(
    /** @internal */
    readonly input: Stream<T>,
    /** @internal */
    readonly key: (value: T) => K,
  ) {}

  /** @internal Adds a keyed one-input operator fed through a hash exchange. */
  addKeyed<O>(id: string, label: string, create: () => Operator<T, O>, options: OperatorOptions | undefined): Stream<O> {
    return this.input.addOperator(id, label, create, options, { kind: 'hash', key: this.key as (v: never) => unknown }, true)
  }

  /**
   * Stream.mapAsync on a keyed stream: with `keyOrder: true` the calls of one key run one at a
   * time, in input order (a record's call starts once the previous record of its key completed),
   * while other keys run concurrently.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * bids.keyBy((b) => b.bidder).mapAsync('update-profile', async (b) => ({ bidder: b.bidder, ok: true }), { keyOrder: true, concurrency: 32 })
   * ```
   */
  mapAsync<O>(id: string, fn: (value: T, call: CallContext) => Promise<O | RecordFailure>, options?: KeyedAsyncOptions): Stream<O> {
    requireFunction(id, 'mapAsync', fn)
    return addAsync(this.input, id, { method: 'mapAsync', parts: callOf({ kind: 'map', fn: fn as (v: unknown, c: CallContext) => unknown }), options, batched: false, keyed: this.keyedBy() })
  }

  /** Stream.flatMapAsync on a keyed stream, with `keyOrder` as in mapAsync. */
  flatMapAsync<O>(id: string, fn: (value: T, call: CallContext) => Promise<Iterable<O> | RecordFailure>, options?: KeyedAsyncOptions): Stream<O> {
    requireFunction(id, 'flatMapAsync', fn)
    return addAsync(this.input, id, { method: 'flatMapAsync', parts: callOf({ kind: 'flatMap', fn: fn as (v: unknown, c: CallContext) => unknown }), options, batched: false, keyed: this.keyedBy() })
  }

  private keyedBy(): { partitioning: { kind: 'hash'; key: (v: never) => unknown }; key: (v: unknown) => unknown } {
    return { partitioning: { kind: 'hash', key: this.key as (v: never) => unknown }, key: this.key as (v: unknown) => unknown }
  }

  /** Rolling reduce: emits the key's reduced value after every record. */
  reduce(id: string, fn: (a: T, b: T) => T, options?: OperatorOptions): Stream<T> {
    requireFunction(id, 'reduce', fn)
    return this.addKeyed(id, 'reduce', () => new RollingAggregateOperator(this.key, reduceAggregate(fn), (_k, r: T) => r), options)
  }

  /**
   * Rolling aggregate: emits the key's current result after every record.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * bids.keyBy((b) => b.bidder).aggregate('bids-per-bidder', count())                        // { key, value }
   * bids.keyBy((b) => b.bidder).aggregate('top-bid', max((b: Bid) => b.price), (bidder, price) => ({ bidder, price }))
   * ```
   */
  aggregate<ACC, R>(id: string, agg: AggregateFunction<T, ACC, R>, options?: OperatorOptions): Stream<KeyedResult<K, R>>
  aggregate<ACC, R, O>(id: string, agg: AggregateFunction<T, ACC, R>, project: (key: K, result: R) => O, options?: OperatorOptions): Stream<O>
  aggregate<ACC, R, O>(id: string, agg: AggregateFunction<T, ACC, R>, projectOrOptions?: ((key: K, result: R) => O) | OperatorOptions, options?: OperatorOptions): Stream<O> {
    const project = typeof projectOrOptions === 'function' ? projectOrOptions : (key: K, value: R) => ({ key, value }) as O
    const opts = typeof projectOrOptions === 'function' ? options : projectOrOptions
    return this.addKeyed(id, 'aggregate', () => new RollingAggregateOperator(this.key, agg, project), opts)
  }

  /**
   * A keyed process function with state and timers: `fn` is the function, or a factory called once
   * per subtask (for a function that keeps its state handles in a closure, as here).
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * bids.keyBy((b) => b.bidder).process<Bid>('first-bid', () => {
   *   let seen: ValueState<boolean>
   *   return {
   *     open: ({ state }) => { seen = state.value('seen', { ttl: { ttlMs: 60_000 } }) },
   *     processElement: (bid, ctx) => { if (!seen.get()) { seen.set(true); ctx.emit(bid) } },
   *   }
   * })
   * ```
   */
  process<O>(id: string, fn: FunctionOrFactory<KeyedProcessFunction<K, T, O>>, options?: OperatorOptions): Stream<O> {
    return this.addKeyed(id, 'process', () => {
      const f = instantiate(fn)
      requireFunction(id, 'processElement', f.processElement)
      return new KeyedProcessOperator<K, O>(
        [this.key as (v: never) => K],
        [(v, ctx) => f.processElement(v as T, ctx)],
        f.onTimer?.bind(f),
        f.open?.bind(f),
      ) as Operator<T, O>
    }, options)
  }

  /** Cuts each key's records into windows; a window function then turns each window into output. */
  window(assigner: WindowAssigner): WindowedStream<K, T> {
    return new WindowedStream<K, T>(this, assigner)
  }

  /** Two keyed streams processed together by one function with shared keyed state and timers. */
  connect<T2>(other: KeyedStream<K, T2>): ConnectedKeyedStreams<K, T, T2> {
    return new ConnectedKeyedStreams(this, other)
  }

  /** Joins with another keyed stream: `.window(w)`, `.between(lo, hi)` or unbounded `.apply(...)`. */
  join<R>(other: KeyedStream<K, R>): JoinBuilder<K, T, R> {
    return new JoinBuilder(this, other)
  }
}

/** @internal Adds a two-input keyed operator fed by `left` (input 0) and `right` (input 1). */
export function addTwoInput<K, L, R, O>(left: KeyedStream<K, L>, right: KeyedStream<K, R>, id: string, label: string, create: () => Operator<unknown, O>, options: OperatorOptions | undefined): Stream<O> {
  const out = left.addKeyed<O>(id, label, create as () => Operator<L, O>, options)
  const g = left.input.pipeline.graph
  g.addEdge({ from: right.input.origin.nodeId, sideTag: right.input.origin.sideTag, to: id, input: 1, partitioning: { kind: 'hash', key: right.key as (v: never) => unknown } })
  return out
}

/** Two keyed streams with the same key type, processed together (`keyed.connect(other)`). */
export class ConnectedKeyedStreams<K, T1, T2> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<K, T1>,
    private readonly right: KeyedStream<K, T2>,
  ) {}

  /** One function for the records of both streams, with keyed state and timers shared between them. */
  process<O>(id: string, fn: FunctionOrFactory<KeyedCoProcessFunction<K, T1, T2, O>>, options?: OperatorOptions): Stream<O> {
    return addTwoInput(this.left, this.right, id, 'co-process', () => {
      const f = instantiate(fn)
      requireFunction(id, 'processElement1', f.processElement1)
      requireFunction(id, 'processElement2', f.processElement2)
      return new KeyedProcessOperator<K, O>(
        [this.left.key as (v: never) => K, this.right.key as (v: never) => K],
        [(v, ctx) => f.processElement1(v as T1, ctx), (v, ctx) => f.processElement2(v as T2, ctx)],
        f.onTimer?.bind(f),
        f.open?.bind(f),
      )
    }, options)
  }
}
