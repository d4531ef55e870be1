/** q11 — user sessions: bids per bidder per session (gap 10 s); a session ends 10 s after its last bid. */
import { count, session, type Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { bids } from './streams.ts'

export interface Q11Row {
  bidder: number
  bid_count: number
  starttime: number
  endtime: number
}

export function q11(events: Stream<NexmarkEvent>): Stream<Q11Row> {
  return bids(events)
    // Only the bidder id crosses the keyBy exchange (the event time travels with every record).
    .map('q11-bidder', (b) => b.bidder)
    .keyBy((bidder) => bidder)
    .window(session(10_000))
    .aggregate('q11', count(), (bidder, w, n) => ({ bidder, bid_count: n, starttime: w.start, endtime: w.end }))
}
