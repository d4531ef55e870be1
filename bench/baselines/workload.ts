/**
 * Shared input and reference definitions for the baseline benchmarks.
 *
 * `makeBids` builds a deterministic, Nexmark-shaped array of bids quickly (one small PRNG, no
 * per-character work). The two `reference*` functions are plain for-loops: they define each
 * workload, serve as the correctness oracle for every other implementation, and are the
 * "no framework at all" speed ceiling in the benchmark.
 */
import { seededFloats } from '../../src/testing/random.ts'

export interface BenchBid {
  auction: number
  bidder: number
  price: number
  dateTime: number
  extra: string
}

/** What every implementation of a workload returns; equal Results mean equal outputs. */
export interface Result {
  /** Records that reached the sink. */
  count: number
  /** Workload-specific sum over the records that reached the sink, in input order. */
  checksum: number
}

/** Output record of the q1-like workload (price converted to euro). */
export interface Q1Record {
  auction: number
  bidder: number
  price: number
  dateTime: number
}

/** Output record of the keyed rolling count. */
export interface RollingCountRecord {
  bidder: number
  count: number
}

export const BASE_TIME_MS = Date.UTC(2026, 0, 1)
/** Dollar → euro factor of Nexmark q1, as an exact integer ratio: price * 908 / 1000. */
export const EURO_NUMERATOR = 908
export const EURO_DENOMINATOR = 1000
/** q1-like keeps records whose euro price is strictly above this. */
export const Q1_MIN_EURO = 10_000

const EXTRA_POOL_LENGTH = 4096
const EXTRA_MIN_LENGTH = 55
const EXTRA_LENGTH_SPREAD = 11 // lengths 55..65, mean 60
const LN_PRICE_RANGE = Math.log(1e8 / 100)

/**
 * `n` bids, identical for identical `(n, seed)`.
 * - auction: 1000..1999; 20 % of bids go to the 100 "hot" auctions 1000..1099, the rest uniform.
 * - bidder: 1000..10999 uniform (10 000 keys for the keyed workload).
 * - price: integer, log-uniform in 100..1e8.
 * - dateTime: `Date.UTC(2026, 0, 1)` + floor(i / 10), i.e. +1 ms every 10 bids (non-decreasing).
 * - extra: a 55..65-character (mean 60) substring of one shared 4096-char random a–z string,
 *   picked from ~4000 pre-sliced substrings (one per offset), so bids share string objects and
 *   generation allocates nothing per bid but the bid itself.
 */
export function makeBids(n: number, seed = 1): BenchBid[] {
  const rand = seededFloats(seed)
  let pool = ''
  for (let i = 0; i < EXTRA_POOL_LENGTH; i++) pool += String.fromCharCode(97 + Math.floor(rand() * 26))
  // One substring per pool offset, sliced once and shared by many bids: keeps generation O(1) per bid.
  const extras: string[] = []
  for (let start = 0; start < EXTRA_POOL_LENGTH - EXTRA_MIN_LENGTH - EXTRA_LENGTH_SPREAD; start++) {
    const len = EXTRA_MIN_LENGTH + Math.floor(rand() * EXTRA_LENGTH_SPREAD)
    extras.push(pool.slice(start, start + len))
  }
  const bids: BenchBid[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const auction = rand() < 0.2 ? 1000 + Math.floor(rand() * 100) : 1000 + Math.floor(rand() * 1000)
    const bidder = 1000 + Math.floor(rand() * 10_000)
    const price = Math.min(1e8, Math.round(100 * Math.exp(rand() * LN_PRICE_RANGE)))
    const extra = extras[Math.floor(rand() * extras.length)]
    bids[i] = { auction, bidder, price, dateTime: BASE_TIME_MS + Math.floor(i / 10), extra }
  }
  return bids
}

// ---- Workload 1: "q1-like map/filter" -------------------------------------------------------
// map: bid → { auction, bidder, price: Math.round(price * 908) / 1000, dateTime }  (drops `extra`)
// filter: keep price > 10 000 (euro)
// sink: count, checksum += auction + price

/** The q1-like map step; every implementation uses this exact expression. */
export function toEuro(b: BenchBid): Q1Record {
  return {
    auction: b.auction,
    bidder: b.bidder,
    price: Math.round(b.price * EURO_NUMERATOR) / EURO_DENOMINATOR,
    dateTime: b.dateTime,
  }
}

/** The q1-like filter step. */
export function isExpensive(r: Q1Record): boolean {
  return r.price > Q1_MIN_EURO
}

/** Reference (and fastest-possible) q1-like: one plain loop, still materializing each mapped record. */
export function referenceQ1Like(bids: readonly BenchBid[]): Result {
  let count = 0
  let checksum = 0
  for (let i = 0; i < bids.length; i++) {
    const r = toEuro(bids[i])
    if (!isExpensive(r)) continue
    count++
    checksum += r.auction + r.price
  }
  return { count, checksum }
}

// ---- Workload 2: "keyed rolling count" ------------------------------------------------------
// key by bidder; for every bid emit { bidder, count } with that bidder's running count
// sink: count = records emitted (= bids), checksum += count

/** Reference keyed rolling count: one plain loop over a Map<number, number>. */
export function referenceRollingCount(bids: readonly BenchBid[]): Result {
  const counts = new Map<number, number>()
  let count = 0
  let checksum = 0
  for (let i = 0; i < bids.length; i++) {
    const bidder = bids[i].bidder
    const c = (counts.get(bidder) ?? 0) + 1
    counts.set(bidder, c)
    const out: RollingCountRecord = { bidder, count: c }
    count++
    checksum += out.count
  }
  return { count, checksum }
}
