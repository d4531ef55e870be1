/** Splitting the Nexmark event stream into its three entity streams (the reference's views). */
import type { Stream } from '../../index.ts'
import type { Auction, Bid, NexmarkEvent, Person } from '../model.ts'

export function bids(events: Stream<NexmarkEvent>): Stream<Bid> {
  return events.filter('bids', (e) => e.event_type === 2).map('bid', (e) => e.bid as Bid)
}

export function auctions(events: Stream<NexmarkEvent>): Stream<Auction> {
  return events.filter('auctions', (e) => e.event_type === 1).map('auction', (e) => e.auction as Auction)
}

export function persons(events: Stream<NexmarkEvent>): Stream<Person> {
  return events.filter('persons', (e) => e.event_type === 0).map('person', (e) => e.person as Person)
}
