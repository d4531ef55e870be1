/**
 * What a window does with its contents when it fires: an incremental aggregate (`agg`) folded as
 * records arrive, and `emit`, which turns the accumulator into output records.
 */
import type { AggregateFunction } from '../aggregate.ts'
import type { Collector } from '../flat-map.ts'
import type { Output, OutputTag } from '../types.ts'
import type { TimeWindow } from './assigners.ts'

export interface WindowFunction<K, T, ACC, O> {
  readonly agg: AggregateFunction<T, ACC, unknown>
  emit(key: K, window: TimeWindow, acc: ACC, out: Output<O>, time: number): void
}

/** Shared late-record handling for the window operators. */
export interface LateDataOptions<T> {
  readonly allowedLatenessMs: number
  readonly lateTag: OutputTag<T> | null
  /** How many input records a late element stands for (partials of two-phase aggregation). */
  readonly weight?: (v: T) => number
}

export function aggregateWindowFunction<K, T, ACC, R, O>(
  agg: AggregateFunction<T, ACC, R>,
  project: (key: K, window: TimeWindow, result: R) => O,
): WindowFunction<K, T, ACC, O> {
  return {
    agg,
    emit: (key, window, acc, out, time) => out.emit(project(key, window, agg.result(acc)), time),
  }
}

class WindowCollector<O> implements Collector<O> {
  out: Output<O> | null = null
  time = 0
  collect(value: O): void {
    ;(this.out as Output<O>).emit(value, this.time)
  }
}

/** A process window function sees every element of the window and may emit any number of outputs. */
export type ProcessWindowFn<K, T, O> = (key: K, window: TimeWindow, elements: readonly T[], out: Collector<O>) => void

export function processWindowFunction<K, T, O>(
  agg: AggregateFunction<T, T[], T[]>,
  fn: ProcessWindowFn<K, T, O>,
): WindowFunction<K, T, T[], O> {
  const c = new WindowCollector<O>()
  return {
    agg,
    emit: (key, window, acc, out, time) => {
      c.out = out
      c.time = time
      fn(key, window, acc, c)
    },
  }
}
