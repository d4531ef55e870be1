/**
 * The winning bid of each auction: among bids with auction.dateTime <= bid.dateTime <=
 * auction.expires, the highest price, then the earliest, then (a deterministic tie-break the
 * reference leaves open) the lowest bidder and the smallest extra. Emitted when the watermark
 * passes the auction's expiry. Used by q4 and q9.
 *
 * A bid that arrives before its auction is kept until the watermark passes its own time: after
 * that, any auction still to arrive starts later than the bid, so the bid cannot win it.
 */
import type { ListState, Stream, ValueState } from '../../index.ts'
import type { Auction, Bid, NexmarkEvent } from '../model.ts'
import { auctions, bids } from './streams.ts'

export interface Winner {
  auction: Auction
  bid: Bid
}

/** Granularity of the timers that drop bids whose auction never came. */
const EARLY_CLEANUP_MS = 1000

function better(a: Bid, b: Bid): boolean {
  if (a.price !== b.price) return a.price > b.price
  if (a.dateTime !== b.dateTime) return a.dateTime < b.dateTime
  if (a.bidder !== b.bidder) return a.bidder < b.bidder
  return a.extra < b.extra
}

function valid(a: Auction, b: Bid): boolean {
  return b.dateTime >= a.dateTime && b.dateTime <= a.expires
}

export function winningBids(events: Stream<NexmarkEvent>, id: string): Stream<Winner> {
  return auctions(events)
    .keyBy((a) => a.id)
    .connect(bids(events).keyBy((b) => b.auction))
    .process<Winner>(id, () => {
      let auction: ValueState<Auction>
      let best: ValueState<Bid>
      let early: ListState<Bid>
      const consider = (a: Auction, b: Bid): void => {
        if (!valid(a, b)) return
        const cur = best.get()
        if (cur === undefined || better(b, cur)) best.set(b)
      }
      return {
        open: ({ state }) => {
          auction = state.value('auction')
          best = state.value('best')
          early = state.list('early-bids')
        },
        processElement1: (a, ctx) => {
          auction.set(a)
          for (const b of early.get()) consider(a, b)
          early.clear()
          ctx.timers.registerEventTimeTimer(a.expires)
        },
        processElement2: (b, ctx) => {
          const a = auction.get()
          if (a !== undefined) consider(a, b)
          else {
            early.add(b)
            // One clean-up timer per key and second of event time, not one per early bid: a kept
            // bid can never match an auction that starts after it, so dropping it late is harmless.
            ctx.timers.registerEventTimeTimer(b.dateTime - (b.dateTime % EARLY_CLEANUP_MS) + EARLY_CLEANUP_MS)
          }
        },
        onTimer: (time, ctx) => {
          const a = auction.get()
          if (a !== undefined && time >= a.expires) {
            const b = best.get()
            if (b !== undefined) ctx.emit({ auction: a, bid: b })
            auction.clear()
            best.clear()
          }
          if (a === undefined) {
            const kept = early.get().filter((b) => b.dateTime > time)
            early.update(kept)
          }
        },
      }
    })
}
