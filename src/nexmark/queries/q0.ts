/** q0 — pass-through: every bid, projected to the reference columns. Measures the engine's floor. */
import type { Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { bids } from './streams.ts'

export interface Q0Row {
  auction: number
  bidder: number
  price: number
  dateTime: number
  extra: string
}

export function q0(events: Stream<NexmarkEvent>): Stream<Q0Row> {
  return bids(events).map('q0', (b) => ({ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, extra: b.extra }))
}
