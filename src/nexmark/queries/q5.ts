/**
 * q5 — hot items: bids per auction in sliding windows (10 s every 2 s); per window, the
 * auctions with the most bids. The first stage counts per pane; the second groups the counts
 * of one window (their timestamps are all window end − 1, inside one 2 s tumbling window).
 * Bids are projected to their auction id before the shuffle, as a SQL planner would.
 */
import { count, sliding, tumbling, type Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { bids } from './streams.ts'

export interface Q5Row {
  auction: number
  num: number
}

interface AuctionCount {
  auction: number
  num: number
  end: number
}

export function q5(events: Stream<NexmarkEvent>): Stream<Q5Row> {
  return bids(events)
    // Only the auction id crosses the keyBy exchange (the event time travels with every record).
    .map('q5-auction', (b) => b.auction)
    .keyBy((auction) => auction)
    .window(sliding(10_000, 2_000))
    .aggregate('q5-count', count(), (auction, w, num): AuctionCount => ({ auction, num, end: w.end }))
    .keyBy((c) => c.end)
    .window(tumbling(2_000))
    .process<Q5Row>('q5', (_end, _w, counts, out) => {
      let maxNum = 0
      for (const c of counts) if (c.num > maxNum) maxNum = c.num
      for (const c of counts) if (c.num === maxNum) out.collect({ auction: c.auction, num: c.num })
    })
}
