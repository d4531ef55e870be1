/**
 * q3 — local item suggestion: auctions in category 10 joined with their seller when the seller
 * lives in OR, ID or CA. An unbounded keyed join: either side may arrive first. Like the
 * reference SQL it keeps all state; pass a TTL (Beam uses 600 s of event time) to bound it.
 */
import type { Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { auctions, persons } from './streams.ts'

export interface Q3Row {
  name: string
  city: string
  state: string
  id: number
}

export function q3(events: Stream<NexmarkEvent>, options: { ttlMs?: number } = {}): Stream<Q3Row> {
  const sellers = persons(events).filter('q3-persons', (p) => p.state === 'OR' || p.state === 'ID' || p.state === 'CA')
  const items = auctions(events).filter('q3-auctions', (a) => a.category === 10)
  return items
    .keyBy((a) => a.seller)
    .join(sellers.keyBy((p) => p.id))
    .apply('q3', (a, p) => ({ name: p.name, city: p.city, state: p.state, id: a.id }), { ttlMs: options.ttlMs })
}
