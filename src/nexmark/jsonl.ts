/**
 * Nexmark events as JSON Lines, mirroring the reference source row: one event per line,
 * `{"event_type":0,"person":{…}}`, `{"event_type":1,"auction":{…}}` or `{"event_type":2,"bid":{…}}`,
 * with the entity's fields in model order and timestamps as epoch milliseconds.
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { SluiceError, describeCause } from '../errors.ts'
import type { GeneratorConfig } from './generator-config.ts'
import { NexmarkGenerator } from './generator.ts'
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts'

/** A line that is not a valid Nexmark event; `message` is the reason, fit for a dead letter. */
export class NexmarkFormatError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'NexmarkFormatError'
  }
}

/** Characters that JSON strings must escape (plus lone surrogates, which JSON.stringify escapes). */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/

/**
 * A JSON string literal. `trusted` skips the escape check (a regex scan, ~1 ns per character
 * here) for generator output, whose strings are printable ASCII without quotes or backslashes.
 */
function str(s: string, trusted: boolean): string {
  return trusted || !NEEDS_ESCAPE.test(s) ? '"' + s + '"' : JSON.stringify(s)
}

/** A JSON number; NaN and ±Infinity have no JSON form. */
function num(x: number): number {
  if (x - x !== 0) throw new NexmarkFormatError(`cannot write non-finite number ${x} as JSON`)
  return x
}

/**
 * Epoch-ms timestamps are not small integers, so V8 prints them by its generic double path,
 * ~200 ns each here. Printed as two small integers instead: ~40 ns.
 */
function bigInt(x: number): string {
  if (x >= 2147483648 && x <= Number.MAX_SAFE_INTEGER && Number.isInteger(x)) {
    const high = Math.floor(x / 1e6)
    return `${high}${String(x - high * 1e6 + 1e6).slice(1)}`
  }
  return `${num(x)}`
}

let lastTime = NaN
let lastTimeText = ''

/** Consecutive events mostly share their dateTime (10 per ms at the default rate). */
function time(x: number): string {
  if (x !== lastTime) {
    lastTimeText = bigInt(x)
    lastTime = x
  }
  return lastTimeText
}

function format(e: NexmarkEvent, trusted: boolean): string {
  switch (e.event_type) {
    case 2: {
      const b = e.bid
      if (b === null) throw new NexmarkFormatError('event_type 2 (bid) has no bid')
      return `{"event_type":2,"bid":{"auction":${num(b.auction)},"bidder":${num(b.bidder)},"price":${num(b.price)},` +
        `"channel":${str(b.channel, trusted)},"url":${str(b.url, trusted)},"dateTime":${time(b.dateTime)},` +
        `"extra":${str(b.extra, trusted)}}}`
    }
    case 1: {
      const a = e.auction
      if (a === null) throw new NexmarkFormatError('event_type 1 (auction) has no auction')
      return `{"event_type":1,"auction":{"id":${num(a.id)},"itemName":${str(a.itemName, trusted)},` +
        `"description":${str(a.description, trusted)},"initialBid":${num(a.initialBid)},"reserve":${num(a.reserve)},` +
        `"dateTime":${time(a.dateTime)},"expires":${bigInt(a.expires)},"seller":${num(a.seller)},` +
        `"category":${num(a.category)},"extra":${str(a.extra, trusted)}}}`
    }
    case 0: {
      const p = e.person
      if (p === null) throw new NexmarkFormatError('event_type 0 (person) has no person')
      return `{"event_type":0,"person":{"id":${num(p.id)},"name":${str(p.name, trusted)},` +
        `"emailAddress":${str(p.emailAddress, trusted)},"creditCard":${str(p.creditCard, trusted)},` +
        `"city":${str(p.city, trusted)},"state":${str(p.state, trusted)},"dateTime":${time(p.dateTime)},` +
        `"extra":${str(p.extra, trusted)}}}`
    }
    default:
      throw new NexmarkFormatError(`event_type must be 0, 1 or 2, got ${String(e.event_type)}`)
  }
}

/**
 * One event as a JSON line (without the newline): only the present entity, in model order.
 * Hand-written rather than JSON.stringify because it is cheaper on this hot path; any string is
 * escaped as JSON requires.
 *
 * @example
 * ```ts
 * declare const e: NexmarkEvent
 * formatEventJsonl(e) // '{"event_type":2,"bid":{"auction":1000,"bidder":1001,…}}'
 * ```
 */
export function formatEventJsonl(e: NexmarkEvent): string {
  return format(e, false)
}

type Json = Record<string, unknown>

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)
  if (typeof v === 'object') return 'an object'
  return String(v)
}

function entity(row: Json, name: string): Json {
  const v = row[name]
  if (v === undefined || v === null) throw new NexmarkFormatError(`missing field ${name}`)
  if (typeof v !== 'object' || Array.isArray(v)) throw new NexmarkFormatError(`field ${name} must be an object, got ${describe(v)}`)
  return v as Json
}

function int(o: Json, entityName: string, field: string): number {
  const v = o[field]
  if (v === undefined) throw new NexmarkFormatError(`missing field ${entityName}.${field}`)
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new NexmarkFormatError(`field ${entityName}.${field} must be an integer, got ${describe(v)}`)
  }
  return v
}

function text(o: Json, entityName: string, field: string): string {
  const v = o[field]
  if (v === undefined) throw new NexmarkFormatError(`missing field ${entityName}.${field}`)
  if (typeof v !== 'string') throw new NexmarkFormatError(`field ${entityName}.${field} must be a string, got ${describe(v)}`)
  return v
}

function noOther(row: Json, type: number, own: string): void {
  for (const other of ['person', 'auction', 'bid']) {
    if (other !== own && row[other] !== undefined && row[other] !== null) {
      throw new NexmarkFormatError(`event_type ${type} (${own}) must not carry a ${other}`)
    }
  }
}

function parsePerson(o: Json): Person {
  return {
    id: int(o, 'person', 'id'),
    name: text(o, 'person', 'name'),
    emailAddress: text(o, 'person', 'emailAddress'),
    creditCard: text(o, 'person', 'creditCard'),
    city: text(o, 'person', 'city'),
    state: text(o, 'person', 'state'),
    dateTime: int(o, 'person', 'dateTime'),
    extra: text(o, 'person', 'extra'),
  }
}

function parseAuction(o: Json): Auction {
  return {
    id: int(o, 'auction', 'id'),
    itemName: text(o, 'auction', 'itemName'),
    description: text(o, 'auction', 'description'),
    initialBid: int(o, 'auction', 'initialBid'),
    reserve: int(o, 'auction', 'reserve'),
    dateTime: int(o, 'auction', 'dateTime'),
    expires: int(o, 'auction', 'expires'),
    seller: int(o, 'auction', 'seller'),
    category: int(o, 'auction', 'category'),
    extra: text(o, 'auction', 'extra'),
  }
}

function parseBid(o: Json): Bid {
  return {
    auction: int(o, 'bid', 'auction'),
    bidder: int(o, 'bid', 'bidder'),
    price: int(o, 'bid', 'price'),
    channel: text(o, 'bid', 'channel'),
    url: text(o, 'bid', 'url'),
    dateTime: int(o, 'bid', 'dateTime'),
    extra: text(o, 'bid', 'extra'),
  }
}

/**
 * Parses one JSON line into the four-field event shape (absent entities become `null`; unknown
 * fields are dropped). Throws a NexmarkFormatError whose message says what is wrong, e.g.
 * "missing field bid.price" or "event_type must be 0, 1 or 2".
 *
 * @example
 * ```ts
 * const line = '{"event_type":2,"bid":{"auction":1000,"bidder":1001,"price":120,"channel":"web","url":"https://x/1","dateTime":1767225600000,"extra":""}}'
 * parseEventJsonl(line).bid!.price // 120
 * ```
 */
export function parseEventJsonl(line: string): NexmarkEvent {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch (e) {
    throw new NexmarkFormatError(`invalid JSON: ${describeCause(e)}`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new NexmarkFormatError(`an event must be a JSON object, got ${describe(v)}`)
  }
  const row = v as Json
  switch (row.event_type) {
    case 0:
      noOther(row, 0, 'person')
      return { event_type: 0, person: parsePerson(entity(row, 'person')), auction: null, bid: null }
    case 1:
      noOther(row, 1, 'auction')
      return { event_type: 1, person: null, auction: parseAuction(entity(row, 'auction')), bid: null }
    case 2:
      noOther(row, 2, 'bid')
      return { event_type: 2, person: null, auction: null, bid: parseBid(entity(row, 'bid')) }
    case undefined:
      throw new NexmarkFormatError('missing field event_type')
    default:
      throw new NexmarkFormatError(`event_type must be 0, 1 or 2, got ${describe(row.event_type)}`)
  }
}

/** Lines per write: ~60 KB of text, below V8's 128 KB large-object threshold for the joined chunk. */
const LINES_PER_CHUNK = 256

/**
 * Writes events `[0, events)` of the stream `config` defines to `path` as JSON Lines, one
 * write per ~256 lines, waiting for 'drain' whenever the file stream asks. Resolves with the
 * event count and the bytes written.
 *
 * @example
 * ```ts
 * await writeEventsFile('nexmark.jsonl', { seed: 1 }, 10_000)
 * ```
 */
export async function writeEventsFile(
  path: string,
  config: Partial<GeneratorConfig>,
  events: number,
): Promise<{ events: number; bytes: number }> {
  if (!Number.isSafeInteger(events) || events < 0) {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `events must be a non-negative integer, got ${events}`)
  }
  const generator = new NexmarkGenerator(config, 0, events)
  const stream = createWriteStream(path, { highWaterMark: 1 << 20 })
  let failure: unknown = null
  stream.on('error', (e) => { failure ??= e })
  const batch: NexmarkEvent[] = []
  const lines: string[] = []
  try {
    while (failure === null) {
      batch.length = 0
      const n = generator.next(batch, LINES_PER_CHUNK)
      if (n === 0) break
      lines.length = n
      // Generated strings are printable ASCII needing no escapes (generator tests check this),
      // so lines skip the escape scan and latin1 encodes them byte for byte, faster than utf8.
      for (let i = 0; i < n; i++) lines[i] = format(batch[i], true)
      if (!stream.write(lines.join('\n') + '\n', 'latin1')) await once(stream, 'drain')
    }
    stream.end()
    await finished(stream)
  } catch (e) {
    failure ??= e
  }
  if (failure !== null) {
    stream.destroy()
    throw new SluiceError('SINK_IO', `cannot write Nexmark events to ${path}: ${describeCause(failure)}`, { cause: failure })
  }
  return { events, bytes: stream.bytesWritten }
}
