import { describe, expect, it } from 'vitest'
import { Pipeline, monotonousTimestamps } from '../../index.ts'
import { fromArray } from '../../connectors/array-source.ts'
import { memorySink } from '../../testing/index.ts'
import type { Bid, NexmarkEvent } from '../model.ts'
import { q7 } from './q7.ts'

const bid = (dateTime: number, price: number, bidder: number): NexmarkEvent =>
  ({ event_type: 2, bid: { auction: 1, bidder, price, channel: 'c', url: 'u', dateTime, extra: '' } as Bid }) as NexmarkEvent

async function run(events: NexmarkEvent[], batchSize: number): Promise<string[]> {
  const p = new Pipeline('q7')
  const out = memorySink<{ bidder: number; price: number; dateTime: number }>()
  q7(p.source('events', fromArray(events), { batchSize, watermarks: monotonousTimestamps((e: NexmarkEvent) => (e.bid as Bid).dateTime) })).to('out', out)
  await p.run().done
  return out.records.map((r) => `${r.bidder}:${r.price}@${r.dateTime}`).sort()
}

describe('q7 with its local pruning before the exchange', () => {
  // Window [0, 10 000): max 100 (bidders 1 and 2). At exactly 10 000, bidder 3 bids 100 (qualifies
  // for [0, 10 000) by the inclusive end) and bidder 4 bids 50 (does not). In [10 000, 20 000),
  // bidder 5 bids 200, so bidder 3's bid is not its own window's maximum: pruning must keep it.
  const events = [bid(1, 100, 1), bid(5, 7, 9), bid(9_999, 100, 2), bid(10_000, 100, 3), bid(10_000, 50, 4), bid(10_005, 200, 5), bid(15_000, 3, 6)]
  const expected = ['1:100@1', '2:100@9999', '3:100@10000', '5:200@10005']

  it('keeps boundary bids and every tie, whatever the batch size', async () => {
    for (const batchSize of [1, 2, 3, 7, 1024]) expect(await run(events, batchSize)).toEqual(expected)
  })

  it('prunes bids that cannot win before the exchange', async () => {
    const p = new Pipeline('q7')
    q7(p.source('events', fromArray(events), { watermarks: monotonousTimestamps((e: NexmarkEvent) => (e.bid as Bid).dateTime) })).to('out', memorySink())
    const r = await p.run().done
    const local = r.metrics.operators.find((o) => o.operator === 'q7-local-top')
    expect(local?.recordsIn).toBe(7)
    // 9:7 and 6:3 cannot win their windows; both boundary bids at 10 000 stay.
    expect(local?.recordsOut).toBe(5)
  })
})
