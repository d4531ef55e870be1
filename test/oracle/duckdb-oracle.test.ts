/**
 * Tests of the DuckDB Nexmark oracle on small hand-written event files whose answers are worked
 * out by hand in the comments, plus tests of compareResults.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareResults, runOracle, runOracleAll } from './duckdb-oracle.ts'
import { ORACLE_QUERY_NAMES, getOracleQuery } from './queries.ts'

type Row = Record<string, unknown>

/** 2026-01-01T00:00:00Z, a multiple of 10 000 (and of 2 000). */
const T0 = 1767225600000

let dir = ''
let fileNo = 0

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-oracle-'))
})
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

function person(id: number, name: string, city: string, state: string, dateTime: number): object {
  return {
    event_type: 0,
    person: { id, name, emailAddress: `${id}@example.com`, creditCard: '1234 5678 9012 3456', city, state, dateTime, extra: `p${id}` },
  }
}

function auction(
  id: number, dateTime: number, expires: number, seller: number, category: number,
  more: { itemName?: string; description?: string; initialBid?: number; reserve?: number; extra?: string } = {},
): object {
  return {
    event_type: 1,
    auction: {
      id,
      itemName: more.itemName ?? `item${id}`,
      description: more.description ?? `desc${id}`,
      initialBid: more.initialBid ?? 100,
      reserve: more.reserve ?? 200,
      dateTime,
      expires,
      seller,
      category,
      extra: more.extra ?? `a${id}`,
    },
  }
}

function bid(auctionId: number, bidder: number, price: number, dateTime: number, extra = `b${auctionId}-${bidder}-${price}`): object {
  return {
    event_type: 2,
    bid: { auction: auctionId, bidder, price, channel: 'Google', url: 'https://www.nexmark.com/a/b/c/item.htm?query=1', dateTime, extra },
  }
}

function writeEvents(events: object[]): string {
  const path = join(dir, `events-${fileNo++}.jsonl`)
  writeFileSync(path, events.map((e) => JSON.stringify(e)).join('\n') + (events.length > 0 ? '\n' : ''))
  return path
}

/** Canonical order, for order-insensitive toEqual. */
function sorted(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0))
}

function expectRows(actual: Row[], expected: Row[]): void {
  expect(sorted(actual)).toEqual(sorted(expected))
  // exact field names and order
  for (const r of actual) expect(Object.keys(r)).toEqual(Object.keys(expected[0] ?? r))
}

describe('oracle: q0 / q1 / q2', () => {
  it('q0 passes bids through with exactly auction, bidder, price, dateTime, extra as numbers', async () => {
    const path = writeEvents([
      person(1000, 'Peter Jones', 'Boise', 'ID', T0),
      auction(1000, T0 + 1, T0 + 50, 1000, 10),
      bid(1000, 1001, 5000, T0 + 2, 'x'),
      bid(1001, 1002, 7, T0 + 3, 'y'),
    ])
    const rows = await runOracle('q0', path)
    expectRows(rows, [
      { auction: 1000, bidder: 1001, price: 5000, dateTime: T0 + 2, extra: 'x' },
      { auction: 1001, bidder: 1002, price: 7, dateTime: T0 + 3, extra: 'y' },
    ])
    for (const r of rows) for (const k of ['auction', 'bidder', 'price', 'dateTime']) expect(typeof r[k]).toBe('number')
  })

  it('q1 converts price to 0.908 * price, exact to 3 decimals, as a number', async () => {
    const path = writeEvents([
      bid(1000, 1001, 5000, T0, 'a'), // 4540
      bid(1000, 1001, 1, T0, 'b'), // 0.908
      bid(1000, 1001, 123456789, T0, 'c'), // 112098764.412
      bid(1000, 1001, 99999999, T0, 'd'), // 90799999.092
    ])
    const rows = await runOracle('q1', path)
    expectRows(rows, [
      { auction: 1000, bidder: 1001, price: 4540, dateTime: T0, extra: 'a' },
      { auction: 1000, bidder: 1001, price: 0.908, dateTime: T0, extra: 'b' },
      { auction: 1000, bidder: 1001, price: 112098764.412, dateTime: T0, extra: 'c' },
      { auction: 1000, bidder: 1001, price: 90799999.092, dateTime: T0, extra: 'd' },
    ])
    for (const r of rows) expect(typeof r.price).toBe('number')
  })

  it('q2 keeps bids whose auction is a multiple of 123', async () => {
    const path = writeEvents([
      bid(1107, 1, 10, T0), // 123 * 9
      bid(1000, 1, 11, T0),
      bid(1230, 2, 12, T0 + 1), // 123 * 10
      bid(1231, 2, 13, T0 + 2),
      bid(1107, 3, 14, T0 + 3),
    ])
    expectRows(await runOracle('q2', path), [
      { auction: 1107, price: 10 },
      { auction: 1230, price: 12 },
      { auction: 1107, price: 14 },
    ])
  })
})

describe('oracle: q3', () => {
  it('joins category-10 auctions with sellers in OR/ID/CA, whichever side comes first', async () => {
    const path = writeEvents([
      auction(2001, T0, T0 + 100, 1000, 10), // auction BEFORE its seller → match
      person(1000, 'Peter Jones', 'Boise', 'ID', T0 + 5000),
      person(1001, 'Sarah Smith', 'Portland', 'OR', T0 + 6000), // person BEFORE the auction → match
      auction(2002, T0 + 7000, T0 + 9000, 1001, 10),
      auction(2003, T0 + 7100, T0 + 9000, 1000, 11), // wrong category
      person(1002, 'Luke Walton', 'Seattle', 'WA', T0 + 7200),
      auction(2004, T0 + 7300, T0 + 9000, 1002, 10), // seller in WA
      auction(2005, T0 + 7400, T0 + 9000, 9999, 10), // no such person
      auction(2006, T0 + 90000, T0 + 99000, 1000, 10), // second auction of 1000, much later
      person(1003, 'Julie Bartels', 'Los Angeles', 'CA', T0 + 95000), // CA, but no auction
      bid(2001, 1000, 5, T0 + 1),
    ])
    expectRows(await runOracle('q3', path), [
      { name: 'Peter Jones', city: 'Boise', state: 'ID', id: 2001 },
      { name: 'Sarah Smith', city: 'Portland', state: 'OR', id: 2002 },
      { name: 'Peter Jones', city: 'Boise', state: 'ID', id: 2006 },
    ])
  })
})

describe('oracle: q4', () => {
  it('averages per category the max valid bid per auction (interval inclusive, double average)', async () => {
    const path = writeEvents([
      auction(3001, T0, T0 + 10000, 1000, 10),
      bid(3001, 1, 9999, T0 - 1), // before dateTime: excluded
      bid(3001, 2, 100, T0), // exactly at dateTime: included
      bid(3001, 3, 500, T0 + 10000), // exactly at expires: included → max 500
      bid(3001, 4, 99999, T0 + 10001), // after expires: excluded
      auction(3002, T0, T0 + 5000, 1000, 10),
      bid(3002, 5, 200, T0 + 100), // max 200 → category 10: (500 + 200) / 2 = 350
      auction(3003, T0, T0 + 5000, 1000, 11),
      bid(3003, 6, 101, T0 + 1), // max 101
      auction(3004, T0, T0 + 5000, 1000, 11),
      bid(3004, 7, 100, T0 + 2), // max 100 → category 11: 100.5 (Flink's BIGINT AVG would say 100)
      auction(3005, T0, T0 + 5000, 1000, 12),
      bid(3005, 8, 777, T0 + 6000), // after expires → category 12 has no row
      bid(3999, 9, 888, T0 + 1), // no such auction
    ])
    expectRows(await runOracle('q4', path), [
      { id: 10, final: 350 },
      { id: 11, final: 100.5 },
    ])
  })

  it('a bid that arrives before its auction still counts (regular join)', async () => {
    const path = writeEvents([
      bid(3001, 1, 42, T0 + 10),
      auction(3001, T0, T0 + 100, 1000, 13),
    ])
    expectRows(await runOracle('q4', path), [{ id: 13, final: 42 }])
  })
})

describe('oracle: q5', () => {
  it('a single bid is counted in 5 hopping windows', async () => {
    // T0+1000 lies in the windows starting T0-8000, T0-6000, T0-4000, T0-2000, T0.
    const path = writeEvents([bid(5001, 1, 10, T0 + 1000)])
    const rows = await runOracle('q5', path)
    expectRows(rows, Array.from({ length: 5 }, () => ({ auction: 5001, num: 1 })))
  })

  it('keeps every auction tied at the max count per window', async () => {
    const A = 5001
    const B = 5002
    const C = 5003
    const path = writeEvents([
      bid(A, 1, 10, T0 + 100),
      bid(B, 1, 10, T0 + 200),
      bid(A, 1, 10, T0 + 9999),
      bid(A, 1, 10, T0 + 12000),
      bid(B, 1, 10, T0 + 12100),
      bid(C, 1, 10, T0 + 12200),
      bid(C, 1, 10, T0 + 12300),
    ])
    // Window start s (relative to T0), window [s, s + 10000):
    //  -8000, -6000, -4000, -2000: A@100, B@200          → A 1, B 1 → tie: {A,1}, {B,1}   (8 rows)
    //  0:      A@100, B@200, A@9999                       → A 2, B 1 → {A,2}
    //  2000:   A@9999                                     → {A,1}
    //  4000, 6000, 8000: A@9999, A@12000, B@12100, C×2    → A 2, B 1, C 2 → tie: {A,2}, {C,2} (6 rows)
    //  10000, 12000: A@12000, B@12100, C@12200, C@12300   → A 1, B 1, C 2 → {C,2}      (2 rows)
    const expected: Row[] = [
      ...Array.from({ length: 5 }, () => ({ auction: A, num: 1 })),
      ...Array.from({ length: 4 }, () => ({ auction: B, num: 1 })),
      ...Array.from({ length: 4 }, () => ({ auction: A, num: 2 })),
      ...Array.from({ length: 5 }, () => ({ auction: C, num: 2 })),
    ]
    const rows = await runOracle('q5', path)
    expect(rows.length).toBe(18)
    expectRows(rows, expected)
  })
})

describe('oracle: q7', () => {
  it('includes a bid at exactly window_end whose price is the previous window max', async () => {
    // W0 = [T0, T0+10000): max 300. W1 = [T0+10000, T0+20000): max 800. W2: max 50.
    const path = writeEvents([
      bid(7001, 1, 100, T0 + 1000, 'b1'),
      bid(7002, 2, 300, T0 + 5000, 'b2'), // W0 max
      bid(7003, 3, 300, T0 + 10000, 'b3'), // in W1, but at exactly W0's end with W0's max → matches W0
      bid(7004, 4, 800, T0 + 15000, 'b4'), // W1 max
      bid(7005, 5, 50, T0 + 20000, 'b5'), // W2 (only bid) max; at W1's end but 50 ≠ 800
    ])
    expectRows(await runOracle('q7', path), [
      { auction: 7002, price: 300, bidder: 2, dateTime: T0 + 5000, extra: 'b2' },
      { auction: 7003, price: 300, bidder: 3, dateTime: T0 + 10000, extra: 'b3' },
      { auction: 7004, price: 800, bidder: 4, dateTime: T0 + 15000, extra: 'b4' },
      { auction: 7005, price: 50, bidder: 5, dateTime: T0 + 20000, extra: 'b5' },
    ])
  })

  it('a boundary bid matching both windows is output twice; equal max bids all output', async () => {
    // W0: c1 (70), c3 (70) → max 70, range [T0, T0+10000] holds c1, c3 and c2.
    // W1: c2 (70) only → max 70, range [T0+10000, T0+20000] holds c2.
    const path = writeEvents([
      bid(7101, 1, 70, T0 + 2000, 'c1'),
      bid(7102, 2, 70, T0 + 10000, 'c2'),
      bid(7103, 3, 70, T0 + 3000, 'c3'),
    ])
    expectRows(await runOracle('q7', path), [
      { auction: 7101, price: 70, bidder: 1, dateTime: T0 + 2000, extra: 'c1' },
      { auction: 7103, price: 70, bidder: 3, dateTime: T0 + 3000, extra: 'c3' },
      { auction: 7102, price: 70, bidder: 2, dateTime: T0 + 10000, extra: 'c2' },
      { auction: 7102, price: 70, bidder: 2, dateTime: T0 + 10000, extra: 'c2' },
    ])
  })
})

describe('oracle: q8', () => {
  it('joins new persons with sellers in the same 10 s window; two auctions give one row', async () => {
    const path = writeEvents([
      person(8001, 'Alice', 'Boise', 'ID', T0 + 1000),
      auction(9001, T0 + 2000, T0 + 9000, 8001, 10),
      auction(9002, T0 + 3000, T0 + 9000, 8001, 11), // second auction, same window → still one row
      person(8002, 'Bob', 'Boise', 'ID', T0 + 9000),
      auction(9003, T0 + 10000, T0 + 19000, 8002, 10), // next window → no row for 8002
      auction(9004, T0 + 11000, T0 + 19000, 8003, 10), // auction before its seller, same window W1
      person(8003, 'Carol', 'Bend', 'OR', T0 + 15000),
      auction(9005, T0 + 12000, T0 + 19000, 8004, 10), // no such person
    ])
    expectRows(await runOracle('q8', path), [
      { id: 8001, name: 'Alice', stime: T0 },
      { id: 8003, name: 'Carol', stime: T0 + 10000 },
    ])
  })
})

describe('oracle: q9', () => {
  it('picks the highest valid bid, then earliest, then smallest bidder, then smallest extra', async () => {
    const a1 = auction(9001, T0, T0 + 10000, 1000, 10, { itemName: 'lamp', description: 'old lamp', initialBid: 10, reserve: 20, extra: 'ax1' })
    const a2 = auction(9002, T0, T0 + 10000, 1001, 11, { itemName: 'vase', description: 'blue', initialBid: 30, reserve: 40, extra: 'ax2' })
    const a3 = auction(9003, T0, T0 + 10000, 1002, 12, { itemName: 'book', description: 'novel', initialBid: 1, reserve: 2, extra: 'ax3' })
    const a4 = auction(9004, T0, T0 + 10000, 1003, 13)
    const path = writeEvents([
      a1,
      bid(9001, 1, 500, T0 + 3000, 'b'),
      bid(9001, 2, 500, T0 + 2000, 'c'), // same price, earlier → wins
      bid(9001, 3, 900, T0 + 10001, 'd'), // after expires: excluded
      bid(9001, 4, 1000, T0 - 1, 'e'), // before dateTime: excluded
      a2,
      bid(9002, 7, 600, T0 + 4000, 'x'),
      bid(9002, 5, 600, T0 + 4000, 'z'),
      bid(9002, 5, 600, T0 + 4000, 'a'), // full tie on price and time: bidder 5, extra 'a'
      bid(9002, 6, 599, T0 + 1, 'y'),
      a3,
      bid(9003, 8, 50, T0 + 10000, 'at-expires'), // exactly at expires: included
      a4,
      bid(9004, 9, 70, T0 + 20000, 'late'), // no valid bid → no row for 9004
    ])
    const common = (id: number, itemName: string, description: string, initialBid: number, reserve: number, seller: number, category: number, extra: string): Row => ({
      id, itemName, description, initialBid, reserve, dateTime: T0, expires: T0 + 10000, seller, category, extra,
    })
    expectRows(await runOracle('q9', path), [
      { ...common(9001, 'lamp', 'old lamp', 10, 20, 1000, 10, 'ax1'), auction: 9001, bidder: 2, price: 500, bid_dateTime: T0 + 2000, bid_extra: 'c' },
      { ...common(9002, 'vase', 'blue', 30, 40, 1001, 11, 'ax2'), auction: 9002, bidder: 5, price: 600, bid_dateTime: T0 + 4000, bid_extra: 'a' },
      { ...common(9003, 'book', 'novel', 1, 2, 1002, 12, 'ax3'), auction: 9003, bidder: 8, price: 50, bid_dateTime: T0 + 10000, bid_extra: 'at-expires' },
    ])
  })
})

describe('oracle: q11', () => {
  it('splits sessions at a gap of 10001 ms but not 10000 ms (windows that touch merge, as in Flink)', async () => {
    const path = writeEvents([
      bid(1, 1, 10, T0),
      bid(1, 1, 10, T0 + 10000), // gap 10000 → same session (the windows touch)
      bid(1, 1, 10, T0 + 20001), // gap 10001 → new session
      bid(1, 1, 10, T0 + 25000), // gap 4999 → same session
      bid(1, 2, 10, T0 + 5000), // bidder 2: one bid
      bid(1, 3, 10, T0), // bidder 3: two bids at the same time
      bid(2, 3, 10, T0),
    ])
    expectRows(await runOracle('q11', path), [
      { bidder: 1, bid_count: 2, starttime: T0, endtime: T0 + 20000 },
      { bidder: 1, bid_count: 2, starttime: T0 + 20001, endtime: T0 + 35000 },
      { bidder: 2, bid_count: 1, starttime: T0 + 5000, endtime: T0 + 15000 },
      { bidder: 3, bid_count: 2, starttime: T0, endtime: T0 + 10000 },
    ])
  })

  it('does not depend on file order', async () => {
    const path = writeEvents([
      bid(1, 1, 10, T0 + 25000),
      bid(1, 1, 10, T0 + 10000),
      bid(1, 1, 10, T0 + 20001),
      bid(1, 1, 10, T0),
    ])
    expectRows(await runOracle('q11', path), [
      { bidder: 1, bid_count: 2, starttime: T0, endtime: T0 + 20000 },
      { bidder: 1, bid_count: 2, starttime: T0 + 20001, endtime: T0 + 35000 },
    ])
  })
})

describe('oracle: empty and one-sided inputs', () => {
  it('an empty file gives empty results for every query', async () => {
    const path = writeEvents([])
    const all = await runOracleAll([...ORACLE_QUERY_NAMES], path)
    expect(Object.keys(all).sort()).toEqual([...ORACLE_QUERY_NAMES].sort())
    for (const q of ORACLE_QUERY_NAMES) expect(all[q]).toEqual([])
  })

  it('a file with only bids: joins are empty, bid queries work', async () => {
    const path = writeEvents([bid(1107, 1, 10, T0), bid(1107, 1, 20, T0 + 1)])
    const all = await runOracleAll(['q0', 'q2', 'q3', 'q4', 'q8', 'q9'], path)
    expect(all.q0.length).toBe(2)
    expect(all.q2.length).toBe(2)
    expect(all.q3).toEqual([])
    expect(all.q4).toEqual([])
    expect(all.q8).toEqual([])
    expect(all.q9).toEqual([])
  })

  it('a file with only persons and auctions: bid queries are empty', async () => {
    const path = writeEvents([person(1000, 'P', 'Boise', 'ID', T0), auction(1000, T0, T0 + 1, 1000, 10)])
    const all = await runOracleAll(['q0', 'q1', 'q5', 'q7', 'q11', '3', 'Q8'], path)
    expect(all.q0).toEqual([])
    expect(all.q1).toEqual([])
    expect(all.q5).toEqual([])
    expect(all.q7).toEqual([])
    expect(all.q11).toEqual([])
    expect(all.q3).toEqual([{ name: 'P', city: 'Boise', state: 'ID', id: 1000 }])
    expect(all.q8).toEqual([{ id: 1000, name: 'P', stime: T0 }])
  })

  it('runOracleAll equals runOracle per query, and the oracle agrees with itself', async () => {
    const path = writeEvents([
      person(1000, 'Peter Jones', 'Boise', 'ID', T0),
      auction(1000, T0 + 1, T0 + 20000, 1000, 10),
      bid(1000, 1000, 300, T0 + 2),
      bid(1000, 1001, 400, T0 + 12000),
      bid(1107, 1001, 400, T0 + 12500),
    ])
    const all = await runOracleAll([...ORACLE_QUERY_NAMES], path)
    for (const q of ORACLE_QUERY_NAMES) {
      const single = await runOracle(q, path)
      expect(sorted(all[q])).toEqual(sorted(single))
      const cmp = compareResults(q, single, all[q])
      expect(cmp.equal, cmp.report).toBe(true)
    }
  })

  it('rejects an unknown query and a missing file', async () => {
    expect(() => getOracleQuery('q6')).toThrow(/unsupported/)
    await expect(runOracle('q6', join(dir, 'nope.jsonl'))).rejects.toThrow(/unsupported/)
    await expect(runOracle('q0', join(dir, 'does-not-exist.jsonl'))).rejects.toThrow()
  })
})

describe('compareResults', () => {
  it('is order-insensitive and ignores fields outside the result', () => {
    const expected = [{ auction: 1107, price: 1 }, { auction: 1230, price: 2 }]
    const actual = [{ price: 2, auction: 1230, extraField: 'x' }, { auction: 1107, price: 1 }]
    const r = compareResults('q2', actual, expected)
    expect(r.equal, r.report).toBe(true)
    expect(r.report).toContain('EQUAL')
  })

  it('counts duplicates (multiset)', () => {
    const expected = [{ auction: 1107, price: 1 }, { auction: 1107, price: 1 }]
    const once = compareResults('q2', [{ auction: 1107, price: 1 }], expected)
    expect(once.equal).toBe(false)
    expect(once.report).toContain('missing 1')
    expect(once.report).toContain('auction: 1107, price: 1')
    const thrice = compareResults('q2', [...expected, { auction: 1107, price: 1 }], expected)
    expect(thrice.equal).toBe(false)
    expect(thrice.report).toContain('unexpected 1')
    expect(compareResults('q2', [...expected], expected).equal).toBe(true)
  })

  it('normalises bigint values', () => {
    const r = compareResults('q2', [{ auction: 1107n, price: 5n }], [{ auction: 1107, price: 5 }])
    expect(r.equal, r.report).toBe(true)
  })

  it('uses a 1e-9 relative tolerance on decimals / averages only', () => {
    const q4exp = [{ id: 10, final: 100.5 }]
    expect(compareResults('q4', [{ id: 10, final: 100.5 * (1 + 1e-12) }], q4exp).equal).toBe(true)
    expect(compareResults('q4', [{ id: 10, final: 100.5 * (1 + 1e-8) }], q4exp).equal).toBe(false)
    expect(compareResults('q4', [{ id: 10, final: 100 }], q4exp).equal).toBe(false)
    const q1row = { auction: 1, bidder: 2, price: 0.908 * 33, dateTime: T0, extra: 'e' }
    const q1exp = [{ ...q1row, price: 29.964 }]
    expect(0.908 * 33).not.toBe(29.964) // a double product is not the exact decimal…
    expect(compareResults('q1', [q1row], q1exp).equal).toBe(true) // …but within tolerance
    expect(compareResults('q1', [{ ...q1row, price: '29.964' }], q1exp).equal).toBe(true) // decimal as string
    expect(compareResults('q1', [{ ...q1row, price: 29.965 }], q1exp).equal).toBe(false)
    // Integer fields (here an epoch-ms timestamp) are exact: 1 ms off is a difference.
    const q0exp = [{ auction: 1, bidder: 2, price: 3, dateTime: T0, extra: 'e' }]
    const off = compareResults('q0', [{ ...q0exp[0], dateTime: T0 + 1 }], q0exp)
    expect(off.equal).toBe(false)
    expect(off.report).toContain('missing 1')
    expect(off.report).toContain('unexpected 1')
  })

  it('q4: compares only the last row per id of the updating result', () => {
    const expected = [{ id: 10, final: 350 }, { id: 11, final: 100.5 }]
    const actual = [
      { id: 10, final: 500 },
      { id: 11, final: 101 },
      { id: 10, final: 350 },
      { id: 11, final: 100.5 },
    ]
    const ok = compareResults('q4', actual, expected)
    expect(ok.equal, ok.report).toBe(true)
    expect(ok.report).toContain('4 rows emitted')
    const stale = compareResults('q4', [...actual, { id: 10, final: 340 }], expected)
    expect(stale.equal).toBe(false)
    expect(stale.report).toContain('id: 10, final: 350') // missing
    expect(stale.report).toContain('id: 10, final: 340') // unexpected
    const lacking = compareResults('q4', [{ id: 10, final: 350 }], expected)
    expect(lacking.equal).toBe(false)
    expect(lacking.report).toContain('id: 11, final: 100.5')
  })

  it('reports a difference with counts and at most 10 rows of each kind', () => {
    const expected = Array.from({ length: 15 }, (_v, i) => ({ bidder: i, bid_count: 1, starttime: T0, endtime: T0 + 10000 }))
    const actual = [
      ...expected.slice(0, 3),
      ...Array.from({ length: 12 }, (_v, i) => ({ bidder: 100 + i, bid_count: 1, starttime: T0, endtime: T0 + 10000 })),
    ]
    const r = compareResults('q11', actual, expected)
    expect(r.equal).toBe(false)
    expect(r.report).toContain('expected 15 rows')
    expect(r.report).toContain('actual 15 rows')
    expect(r.report).toContain('matched 3')
    expect(r.report).toContain('missing 12')
    expect(r.report).toContain('unexpected 12')
    const listed = r.report.split('\n').filter((l) => l.startsWith('  {'))
    expect(listed.length).toBe(20)
  })

  it('a field missing from the actual rows is a difference', () => {
    const r = compareResults('q2', [{ auction: 1107 }], [{ auction: 1107, price: 1 }])
    expect(r.equal).toBe(false)
    expect(r.report).toContain('price: <missing>')
  })
})
