/**
 * The Nexmark data model: people, auctions and bids, with field names as in the reference DDL
 * (`nexmark/nexmark`, `queries/ddl_gen.sql`). Ids, prices and categories are BIGINT there and
 * plain JS numbers here (they stay far below 2^53); every timestamp is epoch milliseconds.
 *
 * Hot-path shape rule: every object of one kind is created with the same fields in the same
 * order, so V8 keeps a single hidden class per kind and property loads stay monomorphic.
 */

/** A registered user. */
export interface Person {
  id: number
  name: string
  emailAddress: string
  creditCard: string
  city: string
  state: string
  dateTime: number
  extra: string
}

/** An item put up for sale by a person (`seller` → Person.id). */
export interface Auction {
  id: number
  itemName: string
  description: string
  initialBid: number
  reserve: number
  dateTime: number
  expires: number
  seller: number
  category: number
  extra: string
}

/** A bid on an auction (`auction` → Auction.id) by a person (`bidder` → Person.id). */
export interface Bid {
  auction: number
  bidder: number
  price: number
  channel: string
  url: string
  dateTime: number
  extra: string
}

/** 0 = person, 1 = auction, 2 = bid, as in the reference source row. */
export type NexmarkEventType = 0 | 1 | 2

export const EVENT_PERSON = 0
export const EVENT_AUCTION = 1
export const EVENT_BID = 2

/**
 * One generated event. All four fields are always present; exactly the entity named by
 * `event_type` is non-null. Keeping the absent ones as `null` (instead of omitting them) gives
 * every event the same hidden class.
 *
 * @example
 * ```ts
 * declare const events: NexmarkEvent[]
 * let total = 0
 * for (const e of events) if (e.event_type === EVENT_BID) total += e.bid!.price
 * ```
 */
export interface NexmarkEvent {
  event_type: NexmarkEventType
  person: Person | null
  auction: Auction | null
  bid: Bid | null
}

/**
 * The event time of `e`: the `dateTime` of the entity it carries.
 *
 * @example
 * ```ts
 * declare const e: NexmarkEvent
 * const windowStart = eventTime(e) - (eventTime(e) % 10_000)
 * ```
 */
export function eventTime(e: NexmarkEvent): number {
  switch (e.event_type) {
    case EVENT_BID: return e.bid!.dateTime
    case EVENT_AUCTION: return e.auction!.dateTime
    default: return e.person!.dateTime
  }
}
