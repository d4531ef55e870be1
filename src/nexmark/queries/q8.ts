/**
 * q8 — new users: persons who created an auction in the same 10 s tumbling window they
 * registered in. A window co-group on person.id = auction.seller, one row per person and window
 * (the reference groups both sides before joining).
 */
import { tumbling, type Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { auctions, persons } from './streams.ts'

export interface Q8Row {
  id: number
  name: string
  stime: number
}

export function q8(events: Stream<NexmarkEvent>): Stream<Q8Row> {
  return persons(events)
    .keyBy((p) => p.id)
    .join(auctions(events).keyBy((a) => a.seller))
    .window(tumbling(10_000))
    .coGroup<Q8Row>('q8', (id, people, _auctions, window, out) => {
      const names = new Set<string>()
      for (const p of people) names.add(p.name)
      for (const name of names) out.collect({ id, name, stime: window.start })
    })
}
