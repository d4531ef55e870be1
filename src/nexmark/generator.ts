/**
 * A deterministic Nexmark event generator, following the reference algorithm of
 * `nexmark/nexmark` (nexmark-flink `generator/`) with Beam's per-event seeding.
 *
 * Event number `n` (0, 1, 2, …) has event id `n + 1` (Flink's `firstEventId = 1`) and event time
 * `baseTimeMs + floor(floor(n * interEventDelayUs) / 1000)`. Its type, ids and every random field
 * depend only on `(seed, n)`: each event seeds its own small PRNG from the seed and its id, as
 * Beam seeds `new Random(eventId)`. So any split of the event numbers into ranges, generated in
 * any order or on any thread, yields exactly the events of one sequential run.
 *
 * Deviations from the reference, and why:
 * - Randomness: a 32-bit counter-based PRNG (hash of a Weyl sequence) replaces Java's
 *   SplittableRandom; streams match the reference in distribution, not bit for bit.
 * - Flink starts its event number at 1 as well (first event id 2, first time base + delay); we
 *   start at 0 so event 0 is at `baseTimeMs` exactly.
 * - `str()` (item names, descriptions, e-mail parts) takes a random substring of a per-seed pool
 *   of i.i.d. characters (space with probability 1/13, else a–z) and trims it, instead of drawing
 *   each character. Each substring has the reference's distribution; it costs O(1) instead of
 *   two draws per character. `extra` is a substring of a letter pool, exactly as Flink does.
 * - Flink's hot URLs and channel cache come from an unseeded static random; ours come from the
 *   seed. Flink's `Math.abs(Integer.reverse(1))` overflows to -2147483648; ours gives 2147483648.
 */
import type { Auction, Bid, NexmarkEvent, Person } from './model.ts'
import { invalid, resolveConfig, type GeneratorConfig } from './generator-config.ts'
import { seedTables } from './seed-tables.ts'

/** Event id of event number 0 (Flink's table source uses firstEventId = 1). */
export const FIRST_EVENT_ID = 1
export const FIRST_PERSON_ID = 1000
export const FIRST_AUCTION_ID = 1000
export const FIRST_CATEGORY_ID = 10
export const NUM_CATEGORIES = 5
const PERSON_PROPORTION = 1
const AUCTION_PROPORTION = 3
const TOTAL_PROPORTION = 50
/** Ids may lead the last created one by this much: a bid can name a not-yet-created auction. */
const ID_LEAD = 10
const NUM_IN_FLIGHT_AUCTIONS = 100
const NUM_ACTIVE_PEOPLE = 1000
/** Hot ids are the latest id rounded down to a multiple of this. */
const HOT_BUCKET = 100
/** Events until `NUM_IN_FLIGHT_AUCTIONS` more auctions exist (Java long division: 1666). */
const EVENTS_FOR_IN_FLIGHT_AUCTIONS = Math.floor((NUM_IN_FLIGHT_AUCTIONS * TOTAL_PROPORTION) / AUCTION_PROPORTION)
export const AVG_PERSON_BYTES = 200
export const AVG_AUCTION_BYTES = 500
export const AVG_BID_BYTES = 100
const NUM_CHANNELS = 10_000
/**
 * Length of the per-seed character pools. Flink's extra pool is 1 MiB; 256 KiB gives as many
 * distinct substrings as any run needs, builds 4x faster and stays in L2 for serializers.
 */
const POOL_LENGTH = 1 << 18

const FIRST_NAMES = ['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate', 'Julie', 'Sarah', 'Deiter', 'Walter']
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris']
const CITIES = ['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland', 'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne']
const STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY']
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple']
// The hot code reads these sizes as this module's constants, which the compiler folds; imported
// from seed-tables.ts they would be a load per use (3-6 % of the generator's time, measured).
const TABLE_SIZES = { poolLength: POOL_LENGTH, channels: NUM_CHANNELS, hotChannels: HOT_CHANNELS.length }
/** "First Last" for index first * LAST_NAMES.length + last; built once so a person costs no concat. */
const FULL_NAMES = FIRST_NAMES.flatMap((f) => LAST_NAMES.map((l) => `${f} ${l}`))
const FOUR_DIGITS = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0'))
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

const INV_2_32 = 1 / 4294967296
/** PRICE_TABLE[i] = 100 × 10^(6i/4096): the price for the high 12 bits of a 32-bit draw. */
const PRICE_TABLE = Float64Array.from({ length: 4096 }, (_, i) => 100 * Math.pow(10, (6 * i) / 4096))
/** Maps the low 20 bits of the draw to the exponent they add: 6 ln 10 × low / 2^32. */
const PRICE_EXP_SCALE = (6 * Math.LN10) / 4294967296

/**
 * lowbias32 (C. Wellons): a fast 32-bit integer hash with good avalanche. Returns an int32 so
 * values held in fields stay small integers (no boxed doubles, no field-representation changes).
 */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d)
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b)
  return x ^ (x >>> 16)
}

/**
 * A counter-based PRNG: the state walks a Weyl sequence with an odd per-stream increment and
 * each output is its hash. Re-seeding is three hashes, cheap enough to do per event. Two streams
 * share draws only if both their 32-bit start and increment collide.
 */
class Random32 {
  private state = 0
  private step = 1

  /** Starts the stream of `(key, lo, hi)`; state and increment come from independent hashes. */
  reseed(key: number, lo: number, hi: number): void {
    const a = mix32(lo ^ key)
    this.state = mix32((a + hi + 0x9e3779b9) | 0)
    this.step = mix32(((a ^ hi ^ 0x5bd1e995) + key) | 0) | 1
  }

  /** Uniform in [0, 2^32). */
  u32(): number {
    const s = (this.state = (this.state + this.step) | 0)
    return mix32(s) >>> 0
  }

  /** Uniform integer in [0, n); exact for n < 2^21. */
  int(n: number): number {
    return Math.floor(this.u32() * n * INV_2_32)
  }
}

/** Hashes all 53 bits of the seed into the 32-bit key every event stream is derived from. */
function seedKey(seed: number): number {
  return mix32((seed | 0) ^ mix32((Math.floor(seed / 4294967296) + 0x2545f491) | 0))
}

/**
 * Generates the events numbered `[firstEventNumber, firstEventNumber + count)` of the stream
 * defined by `config`. Allocates nothing per event beyond the event, its entity and its strings.
 *
 * @example
 * ```ts
 * const gen = new NexmarkGenerator({ seed: 7 }, 0, 100_000)
 * const batch: NexmarkEvent[] = []
 * let bids = 0
 * while (gen.next(batch, 1024) > 0) {
 *   for (const e of batch) if (e.event_type === EVENT_BID) bids++
 *   batch.length = 0
 * }
 * ```
 */
export class NexmarkGenerator {
  readonly config: Readonly<GeneratorConfig>
  private readonly end: number
  private n: number
  private readonly baseTimeMs: number
  private readonly delayUs: number
  private readonly seedKey: number
  private readonly rnd = new Random32()
  private readonly letters: string
  private readonly words: string
  private readonly hotUrls: string[]
  private readonly channelNames: string[]
  private readonly channelUrls: string[]

  constructor(config: Partial<GeneratorConfig>, firstEventNumber = 0, count = Infinity) {
    this.config = Object.freeze(resolveConfig(config))
    if (!Number.isSafeInteger(firstEventNumber) || firstEventNumber < 0) {
      throw invalid(`firstEventNumber must be a non-negative integer, got ${firstEventNumber}`)
    }
    if (!(count === Infinity || (Number.isSafeInteger(count) && count >= 0))) {
      throw invalid(`event count must be a non-negative integer or Infinity, got ${count}`)
    }
    this.n = firstEventNumber
    this.end = firstEventNumber + count
    this.baseTimeMs = this.config.baseTimeMs
    this.delayUs = 1e6 / this.config.eventsPerSecond
    this.seedKey = seedKey(this.config.seed)
    const t = seedTables(this.config.seed, this.seedKey, this.rnd, TABLE_SIZES)
    this.letters = t.letters
    this.words = t.words
    this.hotUrls = t.hotUrls
    this.channelNames = t.channelNames
    this.channelUrls = t.channelUrls
  }

  /** The event number the next call to `next` starts at. */
  get nextEventNumber(): number {
    return this.n
  }

  /** Events left in this generator's range (Infinity when unbounded). */
  get remaining(): number {
    return this.end - this.n
  }

  /** Pushes up to `max` events onto `out`; returns how many (0 once the range is exhausted). */
  next(out: NexmarkEvent[], max: number): number {
    const k = Math.max(0, Math.min(Math.floor(max), this.end - this.n))
    for (let i = 0; i < k; i++) out.push(this.generate(this.n++))
    return k
  }

  /** Event time of event number `n`: Java's `baseTime + (long)(n * delayUs) / 1000`. */
  private timestamp(n: number): number {
    return this.baseTimeMs + Math.floor(Math.floor(n * this.delayUs) / 1000)
  }

  private generate(n: number): NexmarkEvent {
    const eventId = n + FIRST_EVENT_ID
    const ts = this.timestamp(n)
    this.rnd.reseed(this.seedKey, eventId >>> 0, Math.floor(eventId / 4294967296))
    const rem = eventId % TOTAL_PROPORTION
    if (rem >= PERSON_PROPORTION + AUCTION_PROPORTION) {
      return { event_type: 2, person: null, auction: null, bid: this.bid(eventId, ts) }
    }
    if (rem >= PERSON_PROPORTION) {
      return { event_type: 1, person: null, auction: this.auction(eventId, n, ts), bid: null }
    }
    return { event_type: 0, person: this.person(eventId, ts), auction: null, bid: null }
  }

  private person(eventId: number, ts: number): Person {
    const rnd = this.rnd
    const id = lastBase0PersonId(eventId) + FIRST_PERSON_ID
    const name = FULL_NAMES[rnd.int(FIRST_NAMES.length) * LAST_NAMES.length + rnd.int(LAST_NAMES.length)]
    const emailAddress = this.str(7) + '@' + this.str(5) + '.com'
    const creditCard = FOUR_DIGITS[rnd.int(10_000)] + ' ' + FOUR_DIGITS[rnd.int(10_000)] + ' ' +
      FOUR_DIGITS[rnd.int(10_000)] + ' ' + FOUR_DIGITS[rnd.int(10_000)]
    const city = CITIES[rnd.int(CITIES.length)]
    const state = STATES[rnd.int(STATES.length)]
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length
    const extra = this.extra(size, AVG_PERSON_BYTES)
    return { id, name, emailAddress, creditCard, city, state, dateTime: ts, extra }
  }

  private auction(eventId: number, n: number, ts: number): Auction {
    const rnd = this.rnd
    const id = lastBase0AuctionId(eventId) + FIRST_AUCTION_ID
    const seller = (rnd.int(4) > 0
      ? Math.floor(lastBase0PersonId(eventId) / HOT_BUCKET) * HOT_BUCKET
      : this.nextBase0PersonId(eventId)) + FIRST_PERSON_ID
    const category = FIRST_CATEGORY_ID + rnd.int(NUM_CATEGORIES)
    const initialBid = this.price()
    // Auctions last on average as long as it takes to create NUM_IN_FLIGHT_AUCTIONS more.
    const horizonMs = this.timestamp(n + EVENTS_FOR_IN_FLIGHT_AUCTIONS) - ts
    const expires = ts + 1 + rnd.int(Math.max(horizonMs * 2, 1))
    const itemName = this.str(20)
    const description = this.str(100)
    const reserve = initialBid + this.price()
    const extra = this.extra(8 + itemName.length + description.length + 40, AVG_AUCTION_BYTES)
    return { id, itemName, description, initialBid, reserve, dateTime: ts, expires, seller, category, extra }
  }

  private bid(eventId: number, ts: number): Bid {
    const rnd = this.rnd
    const lastAuction = lastBase0AuctionId(eventId)
    const auction = (rnd.int(2) > 0
      ? Math.floor(lastAuction / HOT_BUCKET) * HOT_BUCKET
      : this.nextBase0AuctionId(lastAuction)) + FIRST_AUCTION_ID
    // Hot bidders are the second person of their bucket so they differ from hot sellers.
    // Flink adds FIRST_PERSON_ID twice here (bidder ids start at 2000, matching no person);
    // we follow Beam and add it once, so bids join with persons.
    const bidder = (rnd.int(4) > 0
      ? Math.floor(lastBase0PersonId(eventId) / HOT_BUCKET) * HOT_BUCKET + 1
      : this.nextBase0PersonId(eventId)) + FIRST_PERSON_ID
    const price = this.price()
    let channel: string
    let url: string
    if (rnd.int(2) > 0) {
      const i = rnd.int(HOT_CHANNELS.length)
      channel = HOT_CHANNELS[i]
      url = this.hotUrls[i]
    } else {
      const k = rnd.int(NUM_CHANNELS)
      channel = this.channelNames[k]
      url = this.channelUrls[k]
    }
    const extra = this.extra(32, AVG_BID_BYTES)
    return { auction, bidder, price, channel, url, dateTime: ts, extra }
  }

  /** A random active person, or one of the next PERSON_ID_LEAD not yet created (base 0). */
  private nextBase0PersonId(eventId: number): number {
    const numPeople = lastBase0PersonId(eventId) + 1
    const active = Math.min(numPeople, NUM_ACTIVE_PEOPLE)
    return numPeople - active + this.rnd.int(active + ID_LEAD)
  }

  /** A random in-flight auction, or one of the next AUCTION_ID_LEAD not yet created (base 0). */
  private nextBase0AuctionId(lastAuction: number): number {
    const min = Math.max(lastAuction - NUM_IN_FLIGHT_AUCTIONS, 0)
    return min + this.rnd.int(lastAuction - min + 1 + ID_LEAD)
  }

  /**
   * The reference `round(10^(u*6) * 100)`, u uniform in [0,1): log-uniform in [100, 1e8].
   * Math.pow costs ~80 ns here, a third of the budget, so 10^(u*6) = table[high 12 bits of u] ×
   * exp(rest), the exp by a 4th-order Taylor series (relative error < 1e-14 for rest < 0.0034).
   */
  private price(): number {
    const u = this.rnd.u32()
    const t = (u & 0xfffff) * PRICE_EXP_SCALE
    return Math.round(PRICE_TABLE[u >>> 20] * (1 + t * (1 + t * (0.5 + t * (1 / 6 + t * (1 / 24))))))
  }

  /** The reference `str(max)`: 3..max-1 characters of a–z and spaces, trimmed. */
  private str(max: number): string {
    const len = 3 + this.rnd.int(max - 3)
    const offset = this.rnd.int(POOL_LENGTH - len)
    return this.words.slice(offset, offset + len).trim()
  }

  /** Padding so that `currentSize + extra.length` averages `averageSize`. */
  private extra(currentSize: number, averageSize: number): string {
    if (currentSize > averageSize) return ''
    const wanted = averageSize - currentSize
    const delta = Math.round(wanted * 0.2)
    const len = wanted - delta + (delta === 0 ? 0 : this.rnd.int(2 * delta))
    const offset = this.rnd.int(POOL_LENGTH - len)
    return this.letters.slice(offset, offset + len)
  }
}
