/** The three joins of two keyed streams. */
import { checkIntervalBounds, IntervalJoinOperator } from '../operators/join/interval-join.ts'
import { checkJoinTtl, KeyedJoinOperator, type KeyedJoinOptions } from '../operators/join/keyed-join.ts'
import { pairsAsCoGroup, WindowJoinOperator, type CoGroupFn } from '../operators/join/window-join.ts'
import type { WindowAssigner } from '../operators/window/assigners.ts'
import { addTwoInput, type KeyedStream } from './keyed-stream.ts'
import { requireFunction, type OperatorOptions } from './options.ts'
import type { Stream } from './stream.ts'

/** A join of two keyed streams being built (`left.join(right)`): pick the kind of join. */
export class JoinBuilder<K, L, R> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<K, L>,
    private readonly right: KeyedStream<K, R>,
  ) {}

  private keys(): readonly [(v: L) => K, (v: R) => K] {
    return [this.left.key, this.right.key]
  }

  /** Window join: records of both sides in the same window with equal keys. */
  window(assigner: WindowAssigner): WindowJoin<K, L, R> {
    return new WindowJoin(this.left, this.right, this.keys(), assigner)
  }

  /** Interval join: left at t joins right within [t + lowerMs, t + upperMs]. */
  between(lowerMs: number, upperMs: number): IntervalJoin<K, L, R> {
    checkIntervalBounds(lowerMs, upperMs)
    return new IntervalJoin(this.left, this.right, this.keys(), lowerMs, upperMs)
  }

  /**
   * Unbounded inner join on the key: either side may arrive first. Give a TTL to bound state.
   * @example
   * ```ts
   * declare const auctions: Stream<Auction>
   * declare const persons: Stream<Person>
   * auctions.keyBy((a) => a.seller).join(persons.keyBy((p) => p.id))
   *   .apply('seller-city', (a, p) => ({ auction: a.id, city: p.city }), { ttlMs: 600_000 })
   * ```
   */
  apply<O>(id: string, fn: (left: L, right: R) => O, options?: OperatorOptions & KeyedJoinOptions): Stream<O> {
    requireFunction(id, 'join function', fn)
    checkJoinTtl(options?.ttlMs)
    const keys = this.keys()
    return addTwoInput(this.left, this.right, id, `join(unbounded${options?.ttlMs ? `, ttl ${options.ttlMs}ms` : ''})`, () => new KeyedJoinOperator(keys, fn, options ?? {}), options)
  }
}

/** A window join (`left.join(right).window(assigner)`): pairs of equal keys in the same window. */
export class WindowJoin<K, L, R> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<K, L>,
    private readonly right: KeyedStream<K, R>,
    private readonly keys: readonly [(v: L) => K, (v: R) => K],
    private readonly assigner: WindowAssigner,
  ) {}

  /** One output per matching pair. */
  apply<O>(id: string, fn: (left: L, right: R) => O, options?: OperatorOptions): Stream<O> {
    requireFunction(id, 'join function', fn)
    return this.coGroup(id, pairsAsCoGroup<K, L, R, O>(fn), options)
  }

  /** Both sides' records of a key and window at once (only keys present on both sides). */
  coGroup<O>(id: string, fn: CoGroupFn<K, L, R, O>, options?: OperatorOptions): Stream<O> {
    requireFunction(id, 'coGroup function', fn)
    const { keys, assigner } = this
    return addTwoInput(this.left, this.right, id, `join(window ${assigner.kind})`, () => new WindowJoinOperator<K, L, R, O>(assigner, keys, fn), options)
  }
}

/** An interval join (`left.join(right).between(lowerMs, upperMs)`). */
export class IntervalJoin<K, L, R> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<K, L>,
    private readonly right: KeyedStream<K, R>,
    private readonly keys: readonly [(v: L) => K, (v: R) => K],
    private readonly lowerMs: number,
    private readonly upperMs: number,
  ) {}

  /** One output per pair: a left record at t with each right record of its key within [t + lowerMs, t + upperMs]. */
  apply<O>(id: string, fn: (left: L, right: R) => O, options?: OperatorOptions): Stream<O> {
    requireFunction(id, 'join function', fn)
    const { keys, lowerMs, upperMs } = this
    return addTwoInput(this.left, this.right, id, `join(interval ${lowerMs}..${upperMs}ms)`, () => new IntervalJoinOperator(lowerMs, upperMs, keys, fn), options)
  }
}
