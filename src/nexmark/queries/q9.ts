/** q9 — winning bids: each auction with its winning bid (see winning-bids.ts). */
import type { Stream } from '../../index.ts'
import type { Auction, NexmarkEvent } from '../model.ts'
import { winningBids } from './winning-bids.ts'

/** The auction's columns, then the winning bid's. */
export type Q9Row = Auction & {
  auction: number
  bidder: number
  price: number
  bid_dateTime: number
  bid_extra: string
}

export function q9(events: Stream<NexmarkEvent>): Stream<Q9Row> {
  return winningBids(events, 'q9-winning-bids').map('q9', ({ auction: a, bid: b }) => ({
    id: a.id,
    itemName: a.itemName,
    description: a.description,
    initialBid: a.initialBid,
    reserve: a.reserve,
    dateTime: a.dateTime,
    expires: a.expires,
    seller: a.seller,
    category: a.category,
    extra: a.extra,
    auction: b.auction,
    bidder: b.bidder,
    price: b.price,
    bid_dateTime: b.dateTime,
    bid_extra: b.extra,
  }))
}
