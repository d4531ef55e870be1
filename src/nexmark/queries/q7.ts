/**
 * q7 — highest bid: per 10 s tumbling window [s, e), the bids whose price equals the window's
 * maximum. As in the reference SQL the time test is inclusive at both ends, so a bid at exactly
 * e with that price also qualifies; the window therefore fires when the watermark reaches e
 * (not e − 1), once every bid at e has been seen.
 */
import type { MapState, Stream } from '../../index.ts'
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

export function q7(events: Stream<NexmarkEvent>): Stream<Q0Row> {
  return bids(events)
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
