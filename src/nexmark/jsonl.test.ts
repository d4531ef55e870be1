import { describe, it, expect } from 'vitest'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatEventJsonl, parseEventJsonl, writeEventsFile, NexmarkFormatError } from './jsonl.ts'
import { NexmarkGenerator } from './generator.ts'
import type { NexmarkEvent } from './model.ts'

function generate(count: number, seed = 4): NexmarkEvent[] {
  const out: NexmarkEvent[] = []
  new NexmarkGenerator({ seed }, 0, count).next(out, count)
  return out
}

const bidLine = (bid: Record<string, unknown>): string => JSON.stringify({ event_type: 2, bid })
const goodBid = { auction: 1000, bidder: 1001, price: 250, channel: 'Google', url: 'https://x', dateTime: 5, extra: 'ab' }

describe('formatEventJsonl', () => {
  it('writes only the present entity, fields in model order', () => {
    const events = generate(100)
    const person = JSON.parse(formatEventJsonl(events.find((e) => e.person)!))
    const auction = JSON.parse(formatEventJsonl(events.find((e) => e.auction)!))
    const bid = JSON.parse(formatEventJsonl(events.find((e) => e.bid)!))
    expect(Object.keys(person)).toEqual(['event_type', 'person'])
    expect(Object.keys(person.person)).toEqual(['id', 'name', 'emailAddress', 'creditCard', 'city', 'state', 'dateTime', 'extra'])
    expect(Object.keys(auction)).toEqual(['event_type', 'auction'])
    expect(Object.keys(auction.auction)).toEqual(
      ['id', 'itemName', 'description', 'initialBid', 'reserve', 'dateTime', 'expires', 'seller', 'category', 'extra'])
    expect(Object.keys(bid)).toEqual(['event_type', 'bid'])
    expect(Object.keys(bid.bid)).toEqual(['auction', 'bidder', 'price', 'channel', 'url', 'dateTime', 'extra'])
    expect([person.event_type, auction.event_type, bid.event_type]).toEqual([0, 1, 2])
  })

  it('matches JSON.stringify of the entity exactly', () => {
    for (const e of generate(500)) {
      const expected = e.event_type === 0 ? { event_type: 0, person: e.person }
        : e.event_type === 1 ? { event_type: 1, auction: e.auction } : { event_type: 2, bid: e.bid }
      expect(formatEventJsonl(e)).toBe(JSON.stringify(expected))
    }
  })

  it('prints integers of any size exactly as JSON.stringify does', () => {
    for (const t of [0, -5, 7, 2147483647, 2147483648, 1767225000123, 1767225600000, 9007199254740991, -9007199254740991, 1.5]) {
      const e: NexmarkEvent = {
        event_type: 1, person: null, bid: null,
        auction: { id: 1, itemName: 'i', description: 'd', initialBid: 1, reserve: 2, dateTime: t, expires: t, seller: 3, category: 10, extra: '' },
      }
      expect(formatEventJsonl(e)).toBe(JSON.stringify({ event_type: 1, auction: e.auction }))
    }
  })

  it('escapes strings that need it', () => {
    const nasty = 'quote " backslash \\ newline \n tab \t nul \u0000 lone \ud800 emoji 😀 ünï'
    const e: NexmarkEvent = {
      event_type: 2, person: null, auction: null,
      bid: { auction: 1, bidder: 2, price: 3, channel: nasty, url: 'u"', dateTime: 4, extra: '\\' },
    }
    const line = formatEventJsonl(e)
    expect(line).not.toContain('\n')
    expect(JSON.parse(line).bid.channel).toBe(nasty)
    expect(parseEventJsonl(line)).toEqual(e)
  })

  it('refuses what JSON cannot represent or an inconsistent event', () => {
    const bad: NexmarkEvent = { event_type: 2, person: null, auction: null, bid: { ...goodBid, price: NaN } }
    expect(() => formatEventJsonl(bad)).toThrow(/non-finite/)
    expect(() => formatEventJsonl({ event_type: 2, person: null, auction: null, bid: null })).toThrow(/has no bid/)
    expect(() => formatEventJsonl({ event_type: 5 as 2, person: null, auction: null, bid: null })).toThrow(/0, 1 or 2/)
  })
})

describe('parseEventJsonl', () => {
  it('round-trips generated events', () => {
    for (const e of generate(5000, 8)) expect(parseEventJsonl(formatEventJsonl(e))).toEqual(e)
  })

  it('normalizes to the four-field shape, dropping unknown fields and accepting explicit nulls', () => {
    const e = parseEventJsonl(JSON.stringify({ event_type: 2, person: null, auction: null, bid: { ...goodBid, colour: 'red' }, x: 1 }))
    expect(Object.keys(e)).toEqual(['event_type', 'person', 'auction', 'bid'])
    expect(e).toEqual({ event_type: 2, person: null, auction: null, bid: goodBid })
  })

  it.each([
    ['not json', /^invalid JSON/],
    ['[1,2]', /must be a JSON object, got an array/],
    ['42', /must be a JSON object/],
    ['{"bid":{}}', /^missing field event_type$/],
    ['{"event_type":3,"bid":{}}', /^event_type must be 0, 1 or 2, got 3$/],
    ['{"event_type":"2","bid":{}}', /^event_type must be 0, 1 or 2, got "2"$/],
    ['{"event_type":2}', /^missing field bid$/],
    ['{"event_type":2,"bid":[]}', /^field bid must be an object, got an array$/],
    ['{"event_type":0,"person":null}', /^missing field person$/],
    [bidLine({ ...goodBid, price: undefined }), /^missing field bid\.price$/],
    [bidLine({ ...goodBid, price: '12' }), /^field bid\.price must be an integer, got "12"$/],
    [bidLine({ ...goodBid, price: 1.5 }), /^field bid\.price must be an integer, got 1\.5$/],
    [bidLine({ ...goodBid, url: 7 }), /^field bid\.url must be a string, got 7$/],
    [JSON.stringify({ event_type: 1, auction: { id: 1 } }), /^missing field auction\.itemName$/],
    [JSON.stringify({ event_type: 2, bid: goodBid, person: { id: 1 } }), /^event_type 2 \(bid\) must not carry a person$/],
  ])('rejects %s with a clear reason', (line, reason) => {
    let error: unknown
    try {
      parseEventJsonl(line)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(NexmarkFormatError)
    expect((error as Error).message).toMatch(reason)
  })
})

describe('writeEventsFile', () => {
  it('writes the generated events as JSON Lines and reports the bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-nexmark-'))
    try {
      const path = join(dir, 'events.jsonl')
      // Not a multiple of the write chunk, so the last write is partial.
      const result = await writeEventsFile(path, { seed: 4 }, 3001)
      const text = await readFile(path, 'utf8')
      expect(result).toEqual({ events: 3001, bytes: (await stat(path)).size })
      expect(text.endsWith('\n')).toBe(true)
      const lines = text.slice(0, -1).split('\n')
      expect(lines).toHaveLength(3001)
      expect(lines.map(parseEventJsonl)).toEqual(generate(3001, 4))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('writes an empty file for zero events', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-nexmark-'))
    try {
      const path = join(dir, 'empty.jsonl')
      expect(await writeEventsFile(path, {}, 0)).toEqual({ events: 0, bytes: 0 })
      expect(await readFile(path, 'utf8')).toBe('')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('fails with SINK_IO when the file cannot be written', async () => {
    await expect(writeEventsFile(join(tmpdir(), 'no-such-dir-sluice', 'x', 'e.jsonl'), {}, 10_000))
      .rejects.toMatchObject({ code: 'SINK_IO' })
  })

  it('rejects a non-integer event count', async () => {
    await expect(writeEventsFile('/tmp/unused.jsonl', {}, Infinity)).rejects.toMatchObject({ code: 'CONNECTOR_OPTION_INVALID' })
  })
})
