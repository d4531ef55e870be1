/**
 * q1 — currency conversion: price in euro, 0.908 × price as an exact 3-place decimal
 * (price × 908 is an exact integer, so dividing by 1000 gives the double nearest the decimal).
 */
import type { Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import type { Q0Row } from './q0.ts'
import { bids } from './streams.ts'

export function q1(events: Stream<NexmarkEvent>): Stream<Q0Row> {
  return bids(events).map('q1', (b) => ({ auction: b.auction, bidder: b.bidder, price: Math.round(b.price * 908) / 1000, dateTime: b.dateTime, extra: b.extra }))
}
