/**
 * Aggregate functions. `add` may mutate and return its accumulator. `merge(a, b)` may mutate and
 * return `a` but must not change `b` (pane accumulators are shared by several sliding windows).
 * An aggregate with `merge` can serve sliding windows pane by pane, session windows, and (later)
 * two-phase aggregation.
 */
export interface AggregateFunction<I, ACC, R> {
  create(): ACC
  add(acc: ACC, value: I): ACC
  result(acc: ACC): R
  merge?(a: ACC, b: ACC): ACC
}

/**
 * Counts records.
 * @example
 * ```ts
 * declare const bids: Stream<Bid>
 * bids.keyBy((b) => b.auction).window(tumbling(10_000)).aggregate('count', count())
 * ```
 */
export function count<I = unknown>(): AggregateFunction<I, number, number> {
  return {
    create: () => 0,
    add: (acc) => acc + 1,
    result: (acc) => acc,
    merge: (a, b) => a + b,
  }
}

export function sum<I>(value: (v: I) => number): AggregateFunction<I, number, number> {
  return {
    create: () => 0,
    add: (acc, v) => acc + value(v),
    result: (acc) => acc,
    merge: (a, b) => a + b,
  }
}

export function min<I>(value: (v: I) => number): AggregateFunction<I, number, number> {
  return {
    create: () => Number.POSITIVE_INFINITY,
    add: (acc, v) => Math.min(acc, value(v)),
    result: (acc) => acc,
    merge: (a, b) => Math.min(a, b),
  }
}

export function max<I>(value: (v: I) => number): AggregateFunction<I, number, number> {
  return {
    create: () => Number.NEGATIVE_INFINITY,
    add: (acc, v) => Math.max(acc, value(v)),
    result: (acc) => acc,
    merge: (a, b) => Math.max(a, b),
  }
}

/** The accumulator of `avg`: the running sum and count. */
export interface AvgAcc {
  sum: number
  count: number
}

export function avg<I>(value: (v: I) => number): AggregateFunction<I, AvgAcc, number> {
  return {
    create: () => ({ sum: 0, count: 0 }),
    add: (acc, v) => {
      acc.sum += value(v)
      acc.count++
      return acc
    },
    result: (acc) => (acc.count === 0 ? Number.NaN : acc.sum / acc.count),
    merge: (a, b) => {
      a.sum += b.sum
      a.count += b.count
      return a
    },
  }
}

const EMPTY = Symbol('empty')
type ReduceAcc<T> = T | typeof EMPTY

/** Turns a reduce function into an aggregate (the reduce function is its own merge). */
export function reduceAggregate<T>(fn: (a: T, b: T) => T): AggregateFunction<T, ReduceAcc<T>, T> {
  return {
    create: () => EMPTY,
    add: (acc, v) => (acc === EMPTY ? v : fn(acc, v)),
    result: (acc) => acc as T,
    merge: (a, b) => (a === EMPTY ? b : b === EMPTY ? a : fn(a, b)),
  }
}

/** Collects every element, for window process functions. */
export function listAggregate<T>(): AggregateFunction<T, T[], T[]> {
  return {
    create: () => [],
    add: (acc, v) => {
      acc.push(v)
      return acc
    },
    result: (acc) => acc,
    merge: (a, b) => {
      for (let i = 0; i < b.length; i++) a.push(b[i])
      return a
    },
  }
}
