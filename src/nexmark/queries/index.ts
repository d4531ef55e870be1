/**
 * The Nexmark queries Sluice implements, with the reference SQL's result columns. Each query
 * takes the stream of events (with event time) and returns its result stream.
 */
import { SluiceError } from '../../errors.ts'
import type { Stream } from '../../index.ts'
import type { NexmarkEvent } from '../model.ts'
import { q0 } from './q0.ts'
import { q1 } from './q1.ts'
import { q2 } from './q2.ts'
import { q3 } from './q3.ts'
import { q4 } from './q4.ts'
import { q5 } from './q5.ts'
import { q7 } from './q7.ts'
import { q8 } from './q8.ts'
import { q9 } from './q9.ts'
import { q11 } from './q11.ts'

export interface QueryInfo {
  readonly name: string
  readonly description: string
  /** Result columns, in the reference SQL's order. */
  readonly columns: readonly string[]
  /** True when rows are updates and the last row per `id` is the current value (q4). */
  readonly updating: boolean
  readonly build: (events: Stream<NexmarkEvent>) => ResultStream
}

/**
 * A query's result stream, its row type erased: streams are invariant in their record type (they
 * accept sinks of it), and results are written generically as JSON.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ResultStream = Stream<any>

const BID_COLUMNS = ['auction', 'bidder', 'price', 'dateTime', 'extra'] as const

export const QUERIES: Readonly<Record<string, QueryInfo>> = {
  q0: { name: 'q0', description: 'pass-through of bids', columns: BID_COLUMNS, updating: false, build: q0 },
  q1: { name: 'q1', description: 'bid price in euro', columns: BID_COLUMNS, updating: false, build: q1 },
  q2: { name: 'q2', description: 'bids on every 123rd auction', columns: ['auction', 'price'], updating: false, build: q2 },
  q3: { name: 'q3', description: 'category-10 auctions by sellers in OR/ID/CA (unbounded join)', columns: ['name', 'city', 'state', 'id'], updating: false, build: (e) => q3(e) },
  q4: { name: 'q4', description: 'average closing price per category (updating)', columns: ['id', 'final'], updating: true, build: q4 },
  q5: { name: 'q5', description: 'hot items: most-bid auctions per sliding window', columns: ['auction', 'num'], updating: false, build: q5 },
  q7: { name: 'q7', description: 'highest bids per 10 s window', columns: ['auction', 'price', 'bidder', 'dateTime', 'extra'], updating: false, build: q7 },
  q8: { name: 'q8', description: 'new users: persons who sold in their first 10 s window', columns: ['id', 'name', 'stime'], updating: false, build: q8 },
  q9: { name: 'q9', description: 'winning bid of each auction', columns: ['id', 'itemName', 'description', 'initialBid', 'reserve', 'dateTime', 'expires', 'seller', 'category', 'extra', 'auction', 'bidder', 'price', 'bid_dateTime', 'bid_extra'], updating: false, build: q9 },
  q11: { name: 'q11', description: 'bids per bidder session (gap 10 s)', columns: ['bidder', 'bid_count', 'starttime', 'endtime'], updating: false, build: q11 },
}

export function query(name: string): QueryInfo {
  const q = QUERIES[name]
  if (q === undefined) throw new SluiceError('NEXMARK_UNKNOWN_QUERY', `unknown query "${name}"; available: ${Object.keys(QUERIES).join(', ')}`)
  return q
}
