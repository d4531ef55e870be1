/**
 * Nexmark's event ids, as the reference numbers them: in every 50 events, one person, then three
 * auctions, then 46 bids; persons and auctions get sequential ids from their first id.
 */

/** Event id of event number 0 (Flink's table source uses firstEventId = 1). */
export const FIRST_EVENT_ID = 1
export const FIRST_PERSON_ID = 1000
export const FIRST_AUCTION_ID = 1000
export const PERSON_PROPORTION = 1
export const AUCTION_PROPORTION = 3
export const TOTAL_PROPORTION = 50

/** Last person id created at or before `eventId`, base 0 (the current one for a person event). */
export function lastBase0PersonId(eventId: number): number {
  // With a person proportion of 1 the in-epoch offset is always 0.
  return Math.floor(eventId / TOTAL_PROPORTION) * PERSON_PROPORTION
}

/** Last auction id created at or before `eventId`, base 0 (the current one for an auction event). */
export function lastBase0AuctionId(eventId: number): number {
  let epoch = Math.floor(eventId / TOTAL_PROPORTION)
  let offset = eventId % TOTAL_PROPORTION
  if (offset < PERSON_PROPORTION) {
    epoch--
    offset = AUCTION_PROPORTION - 1
  } else if (offset >= PERSON_PROPORTION + AUCTION_PROPORTION) {
    offset = AUCTION_PROPORTION - 1
  } else {
    offset -= PERSON_PROPORTION
  }
  return epoch * AUCTION_PROPORTION + offset
}
