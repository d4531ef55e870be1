/** q2 — selection: bids on every 123rd auction. */
import type { Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { bids } from './streams.ts'

export interface Q2Row {
  auction: number
  price: number
}

export function q2(events: Stream<NexmarkEvent>): Stream<Q2Row> {
  return bids(events)
    .filter('q2-filter', (b) => b.auction % 123 === 0)
    .map('q2', (b) => ({ auction: b.auction, price: b.price }))
}
