/**
 * q4 — average closing price per category: each auction's highest valid bid, averaged per
 * category. An updating result: every closed auction emits the category's new average; the
 * last row per `id` is the current value. `final` is the exact average (a double), where
 * Flink's BIGINT AVG would truncate.
 */
import { avg, type Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { winningBids } from './winning-bids.ts'

export interface Q4Row {
  id: number
  final: number
}

export function q4(events: Stream<NexmarkEvent>): Stream<Q4Row> {
  return winningBids(events, 'q4-winning-bids')
    .map('q4-closing-price', (w) => ({ category: w.auction.category, price: w.bid.price }))
    .keyBy((c) => c.category)
    .aggregate('q4', avg((c: { price: number }) => c.price), (category, final) => ({ id: category, final }))
}
