/** A keyed stream cut into windows; a window function turns each window into output records. */
import { SluiceError } from '../errors.ts'
import { listAggregate, reduceAggregate, type AggregateFunction } from '../operators/aggregate.ts'
import type { OutputTag } from '../operators/types.ts'
import { gcd, type TimeWindow, type WindowAssigner } from '../operators/window/assigners.ts'
import { LocalPaneCombineOperator, mergePartials, type Partial } from '../operators/window/local-combine.ts'
import { CountWindowOperator } from '../operators/window/count-window.ts'
import { PaneWindowOperator } from '../operators/window/pane-window.ts'
import { SessionWindowOperator } from '../operators/window/session-window.ts'
import { aggregateWindowFunction, processWindowFunction, type ProcessWindowFn, type WindowFunction } from '../operators/window/window-function.ts'
import type { Operator } from '../operators/types.ts'
import type { KeyedStream } from './keyed-stream.ts'
import { requireFunction, type OperatorOptions } from './options.ts'
import type { Stream } from './stream.ts'

/** Options of a window aggregate. */
export interface WindowAggregateOptions extends OperatorOptions {
  /**
   * Pre-aggregate before the keyBy exchange (default true when the aggregate has `merge` and the
   * window is an event-time tumbling or sliding window). Set false to send every record.
   */
  twoPhase?: boolean
}

/** Default output of a window aggregate without a projection. */
export interface WindowResult<K, R> {
  key: K
  start: number
  end: number
  value: R
}

/**
 * A keyed stream cut into windows (`keyed.window(assigner)`); `aggregate`, `reduce` or `process`
 * turn each window into output records.
 */
export class WindowedStream<K, T> {
  private latenessMs = 0
  private lateTag: OutputTag<T> | null = null

  /** @internal */
  constructor(
    private readonly keyed: KeyedStream<K, T>,
    private readonly assigner: WindowAssigner,
  ) {}

  /** Keep windows this long after they fire; late records within it update (re-fire) them. */
  allowedLateness(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new SluiceError('WINDOW_INVALID', `allowedLateness must be a finite number >= 0, got ${ms}`)
    if (this.assigner.kind === 'global') throw new SluiceError('WINDOW_INVALID', 'allowedLateness applies to time windows, not count windows: drop it, or window by time (tumbling, sliding, session); see docs/GUIDE.md#windows')
    this.latenessMs = ms
    return this
  }

  /** Route records too late for any window to this side output instead of dropping them. */
  sideOutputLateData(tag: OutputTag<T>): this {
    this.lateTag = tag
    return this
  }

  /** Folds each window's records with `fn`, emitting one record per window and key. */
  reduce(id: string, fn: (a: T, b: T) => T, options?: OperatorOptions): Stream<T> {
    requireFunction(id, 'reduce', fn)
    return this.aggregate(id, reduceAggregate(fn), (_k, _w, r) => r, options)
  }

  /**
   * Folds each window's records with an aggregate function (`count()`, `sum(f)`, … or your own),
   * emitting one record per window and key: `{ key, start, end, value }`, or what `project` makes.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * bids.keyBy((b) => b.auction).window(sliding(10_000, 2_000)).aggregate('count', count(), (auction, w, n) => ({ auction, n, end: w.end }))
   * ```
   */
  aggregate<ACC, R>(id: string, agg: AggregateFunction<T, ACC, R>, options?: WindowAggregateOptions): Stream<WindowResult<K, R>>
  aggregate<ACC, R, O>(id: string, agg: AggregateFunction<T, ACC, R>, project: (key: K, window: TimeWindow, result: R) => O, options?: WindowAggregateOptions): Stream<O>
  aggregate<ACC, R, O>(id: string, agg: AggregateFunction<T, ACC, R>, projectOrOptions?: ((key: K, window: TimeWindow, result: R) => O) | WindowAggregateOptions, options?: WindowAggregateOptions): Stream<O> {
    const project = typeof projectOrOptions === 'function' ? projectOrOptions : (key: K, w: TimeWindow, value: R) => ({ key, start: w.start, end: w.end, value }) as O
    const opts = typeof projectOrOptions === 'function' ? options : projectOrOptions
    for (const m of ['create', 'add', 'result'] as const) requireFunction(id, `aggregate.${m}`, agg?.[m])
    const a = this.assigner
    if (opts?.twoPhase !== false && this.lateTag === null && agg.merge !== undefined && (a.kind === 'tumbling' || a.kind === 'sliding') && a.time === 'event') {
      return this.twoPhase(id, agg, project, a, opts)
    }
    return this.build(id, 'aggregate', () => aggregateWindowFunction(agg, project), opts)
  }

  /**
   * Two-phase aggregation: `${id}-local` folds each batch per (key, pane) before the keyBy
   * exchange; `${id}` merges the partials. Same results, far fewer records across the exchange.
   * Not used with a late-data side output, which needs the original records.
   */
  private twoPhase<ACC, R, O>(id: string, agg: AggregateFunction<T, ACC, R>, project: (key: K, window: TimeWindow, result: R) => O, a: WindowAssigner & { kind: 'tumbling' | 'sliding' }, opts: WindowAggregateOptions | undefined): Stream<O> {
    const slide = a.kind === 'sliding' ? a.slideMs : a.sizeMs
    const paneMs = gcd(a.sizeMs, slide)
    const key = this.keyed.key
    const input = this.keyed.input
    const local = input.addOperator<Partial<K, ACC>>(`${id}-local`, `window-combine(pane ${paneMs}ms)`, () => new LocalPaneCombineOperator(paneMs, a.offsetMs, key, agg), opts)
    const merged = mergePartials<K, ACC, R>(agg as AggregateFunction<unknown, ACC, R>)
    // Late records arrive combined; count them by the records each partial stands for.
    const late = { allowedLatenessMs: this.latenessMs, lateTag: null, weight: (p: Partial<K, ACC>) => p.count }
    const label = `window(${a.kind} ${a.kind === 'sliding' ? `${a.sizeMs}/${a.slideMs}` : a.sizeMs}ms event).aggregate(merge)`
    const partialKey = (p: Partial<K, ACC>): K => p.key
    return local.addOperator<O>(id, label, () => new PaneWindowOperator<K, Partial<K, ACC>, ACC, O>({ sizeMs: a.sizeMs, slideMs: slide, offsetMs: a.offsetMs, time: 'event' }, partialKey, aggregateWindowFunction(merged, project), late), opts, { kind: 'hash', key: partialKey as (v: never) => unknown }, true)
  }

  /**
   * A function over all of a window's elements, emitting any number of outputs.
   * @example
   * ```ts
   * declare const bids: Stream<Bid>
   * bids.keyBy((b) => b.auction).window(tumbling(60_000)).process<{ auction: number; spread: number }>('spread', (auction, _w, all, out) => {
   *   const prices = all.map((b) => b.price)
   *   out.collect({ auction, spread: Math.max(...prices) - Math.min(...prices) })
   * })
   * ```
   */
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
