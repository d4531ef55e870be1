import { describe, it, expect } from 'vitest'
import { splitEventRange } from './event-ranges.ts'
import { DEFAULT_GENERATOR_CONFIG, type GeneratorConfig } from './generator-config.ts'
import { NexmarkGenerator, lastBase0AuctionId, lastBase0PersonId } from './generator.ts'
import { eventTime, type NexmarkEvent } from './model.ts'

function generate(config: Partial<GeneratorConfig>, first: number, count: number, batch = 1024): NexmarkEvent[] {
  const gen = new NexmarkGenerator(config, first, count)
  const out: NexmarkEvent[] = []
  while (gen.next(out, batch) > 0) { /* fills out */ }
  return out
}

/** Calls `visit` for events [0, count) without keeping them, for runs too large to hold. */
function forEachEvent(config: Partial<GeneratorConfig>, count: number, visit: (e: NexmarkEvent, n: number) => void): void {
  const gen = new NexmarkGenerator(config, 0, count)
  const out: NexmarkEvent[] = []
  let n = 0
  for (;;) {
    out.length = 0
    const k = gen.next(out, 4096)
    if (k === 0) return
    for (let i = 0; i < k; i++) visit(out[i], n++)
  }
}

describe('NexmarkGenerator determinism', () => {
  it('gives identical events for the same seed', () => {
    expect(generate({ seed: 5 }, 0, 5000)).toEqual(generate({ seed: 5 }, 0, 5000))
  })

  it('gives different events for different seeds', () => {
    const a = generate({ seed: 1 }, 0, 2000)
    const b = generate({ seed: 2 }, 0, 2000)
    const differing = a.filter((e, i) => JSON.stringify(e) !== JSON.stringify(b[i])).length
    expect(differing).toBeGreaterThan(1900)
    // Seeds above 2^32 count too.
    const c = generate({ seed: 2 ** 40 + 1 }, 0, 200)
    expect(c).not.toEqual(a.slice(0, 200))
  })

  it.each([1, 2, 3, 7])('split into %i parts equals the sequential run exactly', (parts) => {
    const total = 12_345
    const sequential = generate({ seed: 9 }, 0, total)
    const ranges = splitEventRange(total, parts)
    // Generate the parts in reverse order with an odd batch size: neither may matter.
    const pieces = ranges.slice().reverse().map((r) => generate({ seed: 9 }, r.first, r.count, 97)).reverse()
    expect(pieces.flat()).toEqual(sequential)
  })

  it('generates any single event on its own (random access)', () => {
    const sequential = generate({ seed: 3 }, 0, 3000)
    for (const n of [0, 1, 49, 50, 51, 1234, 2999]) {
      expect(generate({ seed: 3 }, n, 1)).toEqual([sequential[n]])
    }
  })
})

describe('NexmarkGenerator batching', () => {
  it('honours max, counts down remaining and returns 0 when exhausted', () => {
    const gen = new NexmarkGenerator({}, 100, 10)
    const out: NexmarkEvent[] = []
    expect(gen.nextEventNumber).toBe(100)
    expect(gen.remaining).toBe(10)
    expect(gen.next(out, 4)).toBe(4)
    expect(gen.nextEventNumber).toBe(104)
    expect(gen.remaining).toBe(6)
    expect(gen.next(out, 100)).toBe(6)
    expect(gen.next(out, 100)).toBe(0)
    expect(gen.next(out, 0)).toBe(0)
    expect(out).toHaveLength(10)
  })

  it('is unbounded by default', () => {
    const gen = new NexmarkGenerator({})
    expect(gen.remaining).toBe(Infinity)
    const out: NexmarkEvent[] = []
    expect(gen.next(out, 3)).toBe(3)
    expect(gen.remaining).toBe(Infinity)
  })

  it('rejects invalid configuration with CONNECTOR_OPTION_INVALID', () => {
    expect(() => new NexmarkGenerator({ eventsPerSecond: 0 })).toThrow(/CONNECTOR_OPTION_INVALID.*eventsPerSecond/)
    expect(() => new NexmarkGenerator({ seed: 1.5 })).toThrow(/seed/)
    expect(() => new NexmarkGenerator({ baseTimeMs: NaN })).toThrow(/baseTimeMs/)
    expect(() => new NexmarkGenerator({}, -1)).toThrow(/firstEventNumber/)
    expect(() => new NexmarkGenerator({}, 0, 2.5)).toThrow(/count/)
  })

  it('every event has all four fields, exactly the typed one non-null', () => {
    for (const e of generate({}, 0, 200)) {
      expect(Object.keys(e)).toEqual(['event_type', 'person', 'auction', 'bid'])
      const present = [e.person, e.auction, e.bid].map((x) => x !== null)
      expect(present).toEqual([e.event_type === 0, e.event_type === 1, e.event_type === 2])
    }
  })
})

describe('Nexmark generator semantics', () => {
  const events = generate({ seed: 11 }, 0, 100_000)

  it('types events by eventId % 50: exactly 1:3:46 in every 50', () => {
    for (let start = 0; start + 50 <= events.length; start += 50 * 37) {
      const window = events.slice(start, start + 50)
      const counts = [0, 0, 0]
      for (const e of window) counts[e.event_type]++
      expect(counts).toEqual([1, 3, 46])
    }
    const counts = [0, 0, 0]
    for (const e of events) counts[e.event_type]++
    expect(counts).toEqual([2000, 6000, 92000])
    // Event 0 has id 1 (Flink's firstEventId), an auction; the first person is event 49 (id 50).
    expect(events[0].event_type).toBe(1)
    expect(events[49].event_type).toBe(0)
  })

  it('assigns sequential person and auction ids from 1000 and keeps references near them', () => {
    // Checked with plain comparisons (100 k expect() calls are slow); the first failure is reported.
    const failures: string[] = []
    const check = (ok: boolean, what: string, n: number): void => { if (!ok) failures.push(`event ${n}: ${what}`) }
    let lastPerson = 1000 // person 1000 would be event id 0, which the numbering skips
    let lastAuction = 999
    events.forEach((e, n) => {
      if (e.person) {
        check(e.person.id === lastPerson + 1, 'person id not sequential', n)
        lastPerson = e.person.id
      } else if (e.auction) {
        const a = e.auction
        check(a.id === lastAuction + 1, 'auction id not sequential', n)
        lastAuction = a.id
        check(a.seller >= 1000 && a.seller <= lastPerson + 10, `seller ${a.seller} out of range`, n)
        check(a.category >= 10 && a.category <= 14, `category ${a.category}`, n)
      } else {
        const b = e.bid!
        check(b.auction >= Math.max(1000, lastAuction - 100) && b.auction <= lastAuction + 10, `bid.auction ${b.auction}`, n)
        // Beam's offset: bidders are person ids (Flink's would be ≥ 2000 here).
        check(b.bidder >= 1000 && b.bidder <= lastPerson + 11, `bidder ${b.bidder}`, n)
      }
    })
    expect(failures.slice(0, 3)).toEqual([])
    expect(lastPerson).toBe(1000 + 2000)
    expect(lastAuction).toBe(999 + 6000)
  })

  it('matches the reference id helpers', () => {
    // Event ids 50k+0 are persons, 50k+1..3 auctions, the rest bids.
    expect([49, 50, 51, 99, 100].map(lastBase0PersonId)).toEqual([0, 1, 1, 1, 2])
    expect([1, 2, 3, 4, 49, 50, 51].map(lastBase0AuctionId)).toEqual([0, 1, 2, 2, 2, 2, 3])
  })

  it('sends about half the bids to the hot auction and three quarters from hot bidders', () => {
    let bids = 0, hotAuction = 0, hotBidder = 0, hotChannel = 0, auctions = 0, hotSeller = 0
    events.forEach((e, n) => {
      const eventId = n + 1
      const hotA = Math.floor(lastBase0AuctionId(eventId) / 100) * 100 + 1000
      const hotP = Math.floor(lastBase0PersonId(eventId) / 100) * 100 + 1000
      if (e.bid) {
        bids++
        if (e.bid.auction === hotA) hotAuction++
        if (e.bid.bidder === hotP + 1) hotBidder++
        if (['Google', 'Facebook', 'Baidu', 'Apple'].includes(e.bid.channel)) hotChannel++
      } else if (e.auction) {
        auctions++
        if (e.auction.seller === hotP) hotSeller++
      }
    })
    // The random branch can also land on the hot id, hence a slightly higher centre.
    expect(hotAuction / bids).toBeGreaterThan(0.49)
    expect(hotAuction / bids).toBeLessThan(0.53)
    expect(hotBidder / bids).toBeGreaterThan(0.74)
    expect(hotBidder / bids).toBeLessThan(0.77)
    expect(hotSeller / auctions).toBeGreaterThan(0.72)
    expect(hotSeller / auctions).toBeLessThan(0.78)
    expect(hotChannel / bids).toBeGreaterThan(0.49)
    expect(hotChannel / bids).toBeLessThan(0.51)
  })

  it('draws log-uniform prices in [100, 1e8] and reserves above the initial bid', () => {
    let below1e4 = 0, bids = 0, badPrices = 0, badReserves = 0
    for (const e of events) {
      if (e.bid) {
        bids++
        const p = e.bid.price
        if (!Number.isInteger(p) || p < 100 || p > 1e8) badPrices++
        if (p < 1e4) below1e4++
      } else if (e.auction) {
        const a = e.auction
        if (!Number.isInteger(a.initialBid) || a.initialBid < 100 || a.initialBid > 1e8) badPrices++
        if (a.reserve < a.initialBid + 100) badReserves++
      }
    }
    expect(badPrices).toBe(0)
    expect(badReserves).toBe(0)
    // log10(price) is uniform on [2, 8): a third of prices lie below 1e4.
    expect(below1e4 / bids).toBeGreaterThan(0.32)
    expect(below1e4 / bids).toBeLessThan(0.345)
  })

  it('makes auctions expire after their creation, within twice the horizon', () => {
    let totalLength = 0, auctions = 0
    for (const e of events) {
      if (!e.auction) continue
      const length = e.auction.expires - e.auction.dateTime
      // Horizon: time for 1666 more events at 10 000/s, 166 or 167 ms.
      if (length < 1 || length > 2 * 167) throw new Error(`auction ${e.auction.id} lasts ${length} ms`)
      totalLength += length
      auctions++
    }
    expect(totalLength / auctions).toBeGreaterThan(150)
    expect(totalLength / auctions).toBeLessThan(185)
  })

  it('builds strings as the reference does', () => {
    const channelIds = new Map<string, boolean>()
    for (const e of events.slice(0, 20_000)) {
      if (e.person) {
        const p = e.person
        expect(p.name).toMatch(/^(Peter|Paul|Luke|John|Saul|Vicky|Kate|Julie|Sarah|Deiter|Walter) (Shultz|Abrams|Spencer|White|Bartels|Walton|Smith|Jones|Noris)$/)
        expect(p.emailAddress).toMatch(/^[a-z ]*@[a-z ]*\.com$/)
        expect(p.creditCard).toMatch(/^\d{4} \d{4} \d{4} \d{4}$/)
        expect(['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne']).toContain(p.city)
        expect(['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']).toContain(p.state)
      } else if (e.auction) {
        expect(e.auction.itemName.length).toBeLessThanOrEqual(19)
        expect(e.auction.description.length).toBeLessThanOrEqual(99)
        expect(e.auction.itemName).toBe(e.auction.itemName.trim())
        expect(e.auction.description).toMatch(/^[a-z ]*$/)
      } else {
        const b = e.bid!
        expect(b.url).toMatch(/^https:\/\/www\.nexmark\.com\/[a-z_]{3,4}\/[a-z_]{3,4}\/[a-z_]{3,4}\/item\.htm\?query=1(&channel_id=\d+)?$/)
        expect(b.extra).toMatch(/^[a-z]+$/)
        if (b.channel.startsWith('channel-')) channelIds.set(b.channel, b.url.includes('&channel_id='))
        else expect(b.url).not.toContain('channel_id')
      }
    }
    // About 90 % of the cached channels carry a channel_id.
    const withId = [...channelIds.values()].filter(Boolean).length / channelIds.size
    expect(channelIds.size).toBeGreaterThan(5000)
    expect(withId).toBeGreaterThan(0.87)
    expect(withId).toBeLessThan(0.93)
  })

  it('produces only printable ASCII strings without quotes or backslashes', () => {
    // writeEventsFile relies on this to skip JSON escaping and encode lines as latin1.
    const safe = /^[\x20-\x7e]*$/
    let bad = 0
    for (const e of events) {
      const entity = (e.person ?? e.auction ?? e.bid) as unknown as Record<string, unknown>
      for (const v of Object.values(entity)) {
        if (typeof v === 'string' && (!safe.test(v) || v.includes('"') || v.includes('\\'))) bad++
      }
    }
    expect(bad).toBe(0)
  })

  it('pads events to the reference average sizes', () => {
    let personBytes = 0, persons = 0, auctionBytes = 0, auctions = 0, bidBytes = 0, bids = 0
    for (const e of events) {
      if (e.person) {
        const p = e.person
        personBytes += 8 + p.name.length + p.emailAddress.length + p.creditCard.length + p.city.length + p.state.length + p.extra.length
        persons++
      } else if (e.auction) {
        auctionBytes += 8 + e.auction.itemName.length + e.auction.description.length + 40 + e.auction.extra.length
        auctions++
      } else {
        bidBytes += 32 + e.bid!.extra.length
        bids++
      }
    }
    // The reference draws extra lengths in [d - δ, d + δ), so means sit half a byte below target.
    expect(Math.abs(personBytes / persons - 200)).toBeLessThan(3)
    expect(Math.abs(auctionBytes / auctions - 500)).toBeLessThan(5)
    expect(Math.abs(bidBytes / bids - 100)).toBeLessThan(1)
  })
})

describe('Nexmark event time', () => {
  it('starts at baseTimeMs and spaces 1 M events over 100 s at the default rate', () => {
    let first = NaN, last = NaN, previous = -Infinity, ordered = true
    forEachEvent({}, 1_000_000, (e, n) => {
      const t = eventTime(e)
      if (n === 0) first = t
      if (t < previous) ordered = false
      previous = last = t
    })
    expect(first).toBe(DEFAULT_GENERATOR_CONFIG.baseTimeMs)
    expect(first).toBe(Date.UTC(2026, 0, 1))
    expect(last - first).toBe(99_999)
    expect(ordered).toBe(true)
  })

  it('follows ts(n) = base + floor(floor(n × 1e6/rate) / 1000)', () => {
    const slow = generate({ eventsPerSecond: 3, baseTimeMs: 1_000 }, 0, 10)
    expect(slow.map(eventTime)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => 1_000 + Math.floor(Math.floor(n * (1e6 / 3)) / 1000)))
    const fast = generate({ eventsPerSecond: 1_000_000 }, 0, 3000)
    expect(eventTime(fast[2999]) - eventTime(fast[0])).toBe(2)
  })
})
