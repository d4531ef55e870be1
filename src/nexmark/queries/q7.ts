/**
 * q7 — highest bid: per 10 s tumbling window [s, e), the bids whose price equals the window's
 * maximum. As in the reference SQL the time test is inclusive at both ends, so a bid at exactly
 * e with that price also qualifies; the window therefore fires when the watermark reaches e
 * (not e − 1), once every bid at e has been seen.
 */
import type { Batch, MapState, Operator, OperatorContext, Output, Stream } from '../../index.ts'
import type { Bid, NexmarkEvent } from '../model.ts'
import { bids } from './streams.ts'
import type { Q0Row } from './q0.ts'

const SIZE = 10_000

interface Candidates {
  max: number
  /** Bids in [s, e) at the running maximum. */
  top: Bid[]
  /** Bids at exactly e: they qualify if they match the window's maximum. */
  atEnd: Bid[]
}

function candidates(m: MapState<number, Candidates>, start: number): Candidates {
  let c = m.get(start)
  if (c === undefined) {
    c = { max: Number.NEGATIVE_INFINITY, top: [], atEnd: [] }
    m.set(start, c)
  }
  return c
}

/**
 * Before the single-key exchange, each subtask prunes every batch to the bids that can still
 * win: per window, those at the batch's highest price for that window, plus every bid on a window
 * boundary (a bid at exactly e may win window [s, e) whatever its own window holds). A pruned bid
 * has a higher-priced bid in its own window, so it can never be that window's maximum: results are
 * unchanged while ~1 bid in 1000 crosses the exchange (the local phase of two-phase aggregation).
 */
export class LocalTopBids implements Operator<Bid, Bid> {
  private readonly maxOf = new Map<number, number>()

  processBatch(batch: Batch<Bid>, _ctx: OperatorContext, out: Output<Bid>): void {
    const { records, times } = batch
    const maxOf = this.maxOf
    maxOf.clear()
    for (let i = 0; i < records.length; i++) {
      const b = records[i]
      const start = b.dateTime - (b.dateTime % SIZE)
      const m = maxOf.get(start)
      if (m === undefined || b.price > m) maxOf.set(start, b.price)
    }
    for (let i = 0; i < records.length; i++) {
      const b = records[i]
      const start = b.dateTime - (b.dateTime % SIZE)
      if (b.dateTime === start || b.price === maxOf.get(start)) out.emit(b, times[i])
    }
  }
}

export function q7(events: Stream<NexmarkEvent>): Stream<Q0Row> {
  return bids(events)
    .transform('q7-local-top', () => new LocalTopBids())
    .keyBy(() => 0)
    .process<Q0Row>('q7', () => {
      let windows: MapState<number, Candidates>
      return {
        open: ({ state }) => {
          windows = state.map('windows')
        },
        processElement: (b, ctx) => {
          const start = b.dateTime - (b.dateTime % SIZE)
          const c = candidates(windows, start)
          if (b.price > c.max) {
            c.max = b.price
            c.top = [b]
          } else if (b.price === c.max) {
            c.top.push(b)
          }
          ctx.timers.registerEventTimeTimer(start + SIZE)
          if (b.dateTime === start) {
            candidates(windows, start - SIZE).atEnd.push(b)
            ctx.timers.registerEventTimeTimer(start)
          }
        },
        onTimer: (end, ctx) => {
          const start = end - SIZE
          const c = windows.get(start)
          if (c === undefined) return
          windows.delete(start)
          for (const b of c.top) ctx.emitAt({ auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime, extra: b.extra } as Q0Row, end)
          for (const b of c.atEnd) {
            if (b.price === c.max) ctx.emitAt({ auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime, extra: b.extra } as Q0Row, end)
          }
        },
      }
    })
}
