import { describe, expect, it } from 'vitest'
import { nodeStreamsQ1Like, nodeStreamsRollingCount } from './node-streams.ts'
import { rxjsQ1Like, rxjsRollingCount, rxjsRollingCountGroupBy, rxjsRollingCountScan } from './rxjs.ts'
import { BASE_TIME_MS, makeBids, referenceQ1Like, referenceRollingCount } from './workload.ts'

const N = 20_000
const bids = makeBids(N)

describe('makeBids', () => {
  it('is deterministic for a given (n, seed)', () => {
    expect(makeBids(N)).toEqual(bids)
    expect(makeBids(N, 1)).toEqual(bids)
    expect(makeBids(500, 7)).toEqual(makeBids(500, 7))
    expect(makeBids(500, 7)).not.toEqual(makeBids(500, 8))
  })

  it('produces fields in the documented ranges', () => {
    expect(bids).toHaveLength(N)
    const bad = bids.findIndex(
      (b, i) =>
        !(b.auction >= 1000 && b.auction <= 1999) ||
        !(b.bidder >= 1000 && b.bidder <= 10_999) ||
        !(Number.isInteger(b.price) && b.price >= 100 && b.price <= 1e8) ||
        b.dateTime !== BASE_TIME_MS + Math.floor(i / 10) ||
        !(b.extra.length >= 55 && b.extra.length <= 65),
    )
    expect(bad, `first out-of-range bid: ${JSON.stringify(bids[bad])}`).toBe(-1)
  })
})

describe('q1-like map/filter', () => {
  const expected = referenceQ1Like(bids)

  it('reference keeps a non-trivial share of the bids', () => {
    expect(expected.count).toBeGreaterThan(N * 0.5)
    expect(expected.count).toBeLessThan(N * 0.8)
  })

  it('RxJS matches the reference exactly', async () => {
    expect(await rxjsQ1Like(bids)).toEqual(expected)
  })

  it('Node streams match the reference exactly', async () => {
    expect(await nodeStreamsQ1Like(bids)).toEqual(expected)
  })
})

describe('keyed rolling count', () => {
  const expected = referenceRollingCount(bids)

  it('reference emits one record per bid', () => {
    expect(expected.count).toBe(N)
    expect(expected.checksum).toBeGreaterThan(N)
  })

  it('RxJS (benchmarked variant) matches the reference exactly', async () => {
    expect(await rxjsRollingCount(bids)).toEqual(expected)
  })

  it('RxJS groupBy/mergeMap/scan matches the reference exactly', async () => {
    expect(await rxjsRollingCountGroupBy(bids)).toEqual(expected)
  })

  it('RxJS scan over a Map matches the reference exactly', async () => {
    expect(await rxjsRollingCountScan(bids)).toEqual(expected)
  })

  it('Node streams match the reference exactly', async () => {
    expect(await nodeStreamsRollingCount(bids)).toEqual(expected)
  })
})
