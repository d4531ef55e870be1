/**
 * The local half of two-phase window aggregation. Before a keyBy exchange, each batch is folded
 * per (key, pane) into partial accumulators; only the partials cross the exchange, and the
 * global window operator merges them into its panes. The operator keeps nothing between batches,
 * so it needs no watermark, timer or state handling: a partial carries the latest event time of
 * its records, which lies in the same pane, so lateness decisions downstream are unchanged.
 */
import type { AggregateFunction } from '../aggregate.ts'
import { forEachRecord, noEventTime, type RecordLoop } from '../record-loop.ts'
import { NO_TIMESTAMP, type Batch, type Operator, type OperatorContext, type Output } from '../types.ts'
import { alignedStart } from './assigners.ts'

/** A partial aggregate of one key's records in one pane. */
export interface Partial<K, ACC> {
  key: K
  acc: ACC
  /** Records folded into it. */
  count: number
}

/** A partial and the latest event time of its records. */
interface Group<K, ACC> {
  p: Partial<K, ACC>
  t: number
}

export class LocalPaneCombineOperator<K, T, ACC> implements Operator<T, Partial<K, ACC>>, RecordLoop<T, Partial<K, ACC>> {
  at = 0
  /** The batch's partials: pane start → key → group; a batch usually spans one or two panes. */
  private panes = new Map<number, Map<K, Group<K, ACC>>>()

  constructor(
    private readonly paneMs: number,
    private readonly offsetMs: number,
    private readonly keyOf: (v: T) => K,
    private readonly agg: AggregateFunction<T, ACC, unknown>,
  ) {}

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Output<Partial<K, ACC>>): void {
    const panes = new Map<number, Map<K, Group<K, ACC>>>()
    this.panes = panes
    forEachRecord(this, batch, ctx, out, 0)
    for (const gs of panes.values()) for (const g of gs.values()) out.emit(g.p, g.t)
  }

  records(batch: Batch<T>, from: number): void {
    const { records, times } = batch
    const n = records.length
    const { agg, keyOf, paneMs, offsetMs, panes } = this
    let lastPane = Number.NaN
    let groups: Map<K, Group<K, ACC>> | undefined
    for (let i = from; i < n; i++) {
      this.at = i
      const t = times[i]
      if (t === NO_TIMESTAMP) throw noEventTime()
      const pane = t >= lastPane && t < lastPane + paneMs ? lastPane : alignedStart(t, paneMs, offsetMs)
      if (pane !== lastPane) {
        lastPane = pane
        groups = panes.get(pane)
        if (groups === undefined) {
          groups = new Map()
          panes.set(pane, groups)
        }
      }
      const v = records[i]
      const k = keyOf(v)
      const g = (groups as Map<K, Group<K, ACC>>).get(k)
      if (g === undefined) (groups as Map<K, Group<K, ACC>>).set(k, { p: { key: k, acc: agg.add(agg.create(), v), count: 1 }, t })
      else {
        g.p.acc = agg.add(g.p.acc, v)
        g.p.count++
        if (t > g.t) g.t = t
      }
    }
  }
}

/** The global half: an aggregate over partials that merges their accumulators. */
export function mergePartials<K, ACC, R>(agg: AggregateFunction<unknown, ACC, R>): AggregateFunction<Partial<K, ACC>, ACC, R> {
  const merge = agg.merge as (a: ACC, b: ACC) => ACC
  return {
    create: agg.create,
    add: (acc, p) => merge(acc, p.acc),
    result: agg.result,
    merge,
  }
}
