/** A keyed stream cut into windows; a window function turns each window into output records. */
import { SluiceError } from '../errors.ts'
import { listAggregate, reduceAggregate, type AggregateFunction } from '../operators/aggregate.ts'
import type { OutputTag } from '../operators/types.ts'
import type { TimeWindow, WindowAssigner } from '../operators/window/assigners.ts'
import { CountWindowOperator } from '../operators/window/count-window.ts'
import { PaneWindowOperator } from '../operators/window/pane-window.ts'
import { SessionWindowOperator } from '../operators/window/session-window.ts'
import { aggregateWindowFunction, processWindowFunction, type ProcessWindowFn, type WindowFunction } from '../operators/window/window-function.ts'
import type { Operator } from '../operators/types.ts'
import type { KeyedStream } from './keyed-stream.ts'
import { requireFunction, type OperatorOptions } from './options.ts'
import type { Stream } from './stream.ts'

/** Default output of a window aggregate without a projection. */
export interface WindowResult<K, R> {
  key: K
  start: number
  end: number
  value: R
}

export class WindowedStream<K, T> {
  private latenessMs = 0
  private lateTag: OutputTag<T> | null = null

  constructor(
    private readonly keyed: KeyedStream<K, T>,
    private readonly assigner: WindowAssigner,
  ) {}

  /** Keep windows this long after they fire; late records within it update (re-fire) them. */
  allowedLateness(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new SluiceError('JOB_INVALID_OPTION', `allowedLateness must be a finite number >= 0, got ${ms}`)
    if (this.assigner.kind === 'global') throw new SluiceError('JOB_INVALID_OPTION', 'allowedLateness applies to time windows, not count windows')
    this.latenessMs = ms
    return this
  }

  /** Route records too late for any window to this side output instead of dropping them. */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.lateTag = tag
    return this
  }

  reduce(id: string, fn: (a: T, b: T) => T, options?: OperatorOptions): Stream<T> {
    requireFunction(id, 'reduce', fn)
    return this.aggregate(id, reduceAggregate(fn), (_k, _w, r) => r, options)
  }

  /** @example bids.keyBy((b) => b.auction).window(sliding(10_000, 2_000)).aggregate('count', count(), (auction, w, n) => ({ auction, n, end: w.end })) */
  aggregate<ACC, R>(id: string, agg: AggregateFunction<T, ACC, R>, options?: OperatorOptions): Stream<WindowResult<K, R>>
  aggregate<ACC, R, O>(id: string, agg: AggregateFunction<T, ACC, R>, project: (key: K, window: TimeWindow, result: R) => O, options?: OperatorOptions): Stream<O>
  aggregate<ACC, R, O>(id: string, agg: AggregateFunction<T, ACC, R>, projectOrOptions?: ((key: K, window: TimeWindow, result: R) => O) | OperatorOptions, options?: OperatorOptions): Stream<O> {
    const project = typeof projectOrOptions === 'function' ? projectOrOptions : (key: K, w: TimeWindow, value: R) => ({ key, start: w.start, end: w.end, value }) as O
    const opts = typeof projectOrOptions === 'function' ? options : projectOrOptions
    for (const m of ['create', 'add', 'result'] as const) requireFunction(id, `aggregate.${m}`, agg?.[m])
    return this.build(id, 'aggregate', () => aggregateWindowFunction(agg, project), opts)
  }

  /** A function over all of a window's elements, emitting any number of outputs. */
  process<O>(id: string, fn: ProcessWindowFn<K, T, O>, options?: OperatorOptions): Stream<O> {
    requireFunction(id, 'process', fn)
    return this.build(id, 'process', () => processWindowFunction(listAggregate<T>(), fn), options)
  }

  private build<ACC, O>(id: string, what: string, makeFn: () => WindowFunction<K, T, ACC, O>, options: OperatorOptions | undefined): Stream<O> {
    const a = this.assigner
    const key = this.keyed.key
    const late = { allowedLatenessMs: this.latenessMs, lateTag: this.lateTag }
    const label = a.kind === 'global' ? `window(count ${a.count}).${what}` : a.kind === 'session' ? `window(session ${a.gapMs}ms ${a.time}).${what}` : a.kind === 'sliding' ? `window(sliding ${a.sizeMs}/${a.slideMs}ms ${a.time}).${what}` : `window(tumbling ${a.sizeMs}ms ${a.time}).${what}`
    const create = (): Operator<T, O> => {
      const fn = makeFn()
      switch (a.kind) {
        case 'tumbling':
          return new PaneWindowOperator({ sizeMs: a.sizeMs, slideMs: a.sizeMs, offsetMs: a.offsetMs, time: a.time }, key, fn, late)
        case 'sliding':
          return new PaneWindowOperator({ sizeMs: a.sizeMs, slideMs: a.slideMs, offsetMs: a.offsetMs, time: a.time }, key, fn, late)
        case 'session':
          return new SessionWindowOperator(a.gapMs, a.time, key, fn, late)
        case 'global':
          return new CountWindowOperator(a.count, key, fn)
      }
    }
    create() // fail at build time on invalid combinations (e.g. sliding without merge)
    return this.keyed.addKeyed(id, label, create, options)
  }
}
