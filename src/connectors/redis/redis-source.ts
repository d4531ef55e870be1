/**
 * Reads Redis Streams with XREAD: one or several stream keys, each a partition; key i goes to
 * subtask i % parallelism. Replayable: the position is the last entry id read per key.
 */
import { SluiceError } from '../../errors.ts'
import { PAYLOAD_FORMATS, type BrokerSourceOptions, type PayloadFormat } from '../broker.ts'
import { badPosition } from '../position.ts'
import type { Source, SourceContext, SourcePosition } from '../spi.ts'
import { compareIds, connectRedis, DEFAULT_CONNECT_TIMEOUT_MS, destroyQuietly, isEntryId, parseRedisUri, redisError, type RedisClient } from './redis-client.ts'
import { RedisStreamReader, type KeyStart } from './redis-stream-reader.ts'

export interface RedisStreamSourceOptions<T> extends BrokerSourceOptions<T> {
  /** The server, as node-redis takes it: `redis://[user:pass@]HOST:PORT[/DB]`. */
  readonly url: string
  /** One stream key, or several: each is a partition, and key i goes to subtask i % parallelism. */
  readonly key: string | readonly string[]
  /** The entry field holding the payload (default 'value'). A 'key' field becomes the message key; the others its headers. */
  readonly field?: string
  /** How long XREAD blocks waiting for new entries when there are none (unbounded reads; default 100 ms). */
  readonly blockMs?: number
  /** With several keys per subtask: entries read from one key before the next key's turn (default 1000). */
  readonly turnRecords?: number
  /** How long the first connect may take (default 5 s). */
  readonly connectTimeoutMs?: number
}

/**
 * Where a reader is: per stream key it reads (`keys`, in the order of the source's key list),
 * the last entry id read ("0-0": none yet); `added`, the stream's `entries-added` count at that
 * entry (for lag; null when unknown); `ends`, a bounded read's last id, fixed when the first
 * reader opened so that a recovered job stops where the first run would have (null: unbounded);
 * `turn`, the index of the key whose turn it is, and `taken`, the entries read in that turn.
 */
export type RedisStreamPosition = {
  readonly keys: readonly string[]
  readonly ids: readonly string[]
  readonly added: readonly (number | null)[]
  readonly ends: readonly (string | null)[]
  readonly turn: number
  readonly taken: number
}

/**
 * A source of Redis Stream entries, replayable from the entry ids in a checkpoint and split over
 * subtasks by key. A reader of several keys returns one key's entries per read (per-partition
 * watermarks), the keys taking turns of `turnRecords` entries, so a replay repeats the order.
 * With `bounded`, it stops at each key's last entry when the first reader opened.
 *
 * @example
 * ```ts
 * interface Order { id: string; amount: number }
 * pipeline.source('orders', redisStreamSource<Order>({ url: 'redis://127.0.0.1:6379', key: ['orders.0', 'orders.1'], bounded: true }))
 * ```
 */
export function redisStreamSource<T = unknown>(options: RedisStreamSourceOptions<T>): Source<T> {
  return new RedisStreamSource(options)
}

/**
 * The same from a URI: `redis://[user:pass@]HOST:PORT/KEY[,KEY…]?bounded=true&format=json&field=value&db=0&block=100`.
 * `extra` gives what a URI cannot (`record`); a parameter in the URI wins over the same option in `extra`.
 *
 * @example
 * ```ts
 * redisStreamSourceFromUri('redis://127.0.0.1:6379/orders.0,orders.1?bounded=true')
 * ```
 */
export function redisStreamSourceFromUri<T = unknown>(uri: string, extra: Partial<RedisStreamSourceOptions<T>> = {}): Source<T> {
  const parts = parseRedisUri(uri)
  const bounded = parts.uri.bool('bounded')
  const format = parts.uri.oneOf('format', PAYLOAD_FORMATS)
  const field = parts.uri.string('field')
  const blockMs = parts.uri.int('block', 1, 60_000)
  parts.uri.done()
  return new RedisStreamSource<T>({
    ...extra,
    url: parts.url,
    key: parts.keys,
    ...(bounded === undefined ? {} : { bounded }),
    ...(format === undefined ? {} : { format }),
    ...(field === undefined ? {} : { field }),
    ...(blockMs === undefined ? {} : { blockMs }),
  })
}

class RedisStreamSource<T> implements Source<T> {
  readonly kind = 'redis'
  readonly bounded: boolean
  readonly splittable = true
  readonly replayable = true
  private readonly keys: readonly string[]
  private readonly format: PayloadFormat
  private readonly field: string
  private readonly blockMs: number
  private readonly turnRecords: number

  constructor(private readonly options: RedisStreamSourceOptions<T>) {
    const keys = typeof options.key === 'string' ? [options.key] : [...options.key]
    if (keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === '')) invalid('key', 'a stream key or a non-empty list of them', options.key)
    if (new Set(keys).size !== keys.length) invalid('key', 'keys without repeats', options.key)
    if (typeof options.url !== 'string' || options.url === '') invalid('url', 'a redis:// URL', options.url)
    this.format = options.format ?? 'json'
    if (!PAYLOAD_FORMATS.includes(this.format)) invalid('format', PAYLOAD_FORMATS.join(', '), options.format)
    this.field = options.field ?? 'value'
    if (typeof this.field !== 'string' || this.field === '' || this.field === 'key') invalid('field', "a field name other than 'key'", options.field)
    this.blockMs = options.blockMs ?? 100
    if (!Number.isSafeInteger(this.blockMs) || this.blockMs < 1) invalid('blockMs', 'a whole number >= 1', options.blockMs)
    this.turnRecords = options.turnRecords ?? 1000
    if (!Number.isSafeInteger(this.turnRecords) || this.turnRecords < 1) invalid('turnRecords', 'a whole number >= 1', options.turnRecords)
    if (options.record !== undefined && typeof options.record !== 'function') invalid('record', 'a function', options.record)
    this.keys = keys
    this.bounded = options.bounded === true
  }

  async open(ctx: SourceContext, from?: SourcePosition): Promise<RedisStreamReader<T>> {
    const mine = this.keys.filter((_, i) => i % ctx.parallelism === ctx.subtaskIndex)
    const resume = from === undefined ? undefined : checkPosition(from, mine, ctx)
    const link = await connectRedis(this.options.url, 'source', `sluice-source-${ctx.sourceId}-${ctx.subtaskIndex}`, this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
    try {
      const starts: KeyStart[] = []
      const infos = await Promise.all(mine.map((key) => streamInfo(link.client, key, this.bounded, link.text)))
      for (let k = 0; k < mine.length; k++) {
        const info = infos[k]
        const id = resume?.ids[k] ?? '0-0'
        // Entries ever added before the first one still there: where a reader from the start stands.
        const added = resume === undefined ? (info === null ? 0 : info.added === null ? null : info.added - info.length) : resume.added[k]
        const end = !this.bounded ? null : resume?.ends[k] ?? (info === null || info.length === 0 ? id : info.lastId)
        starts.push({ key: mine[k], id, added, end: end === null ? null : compareIds(end, id) > 0 ? end : id, streamAdded: info?.added ?? null })
      }
      return new RedisStreamReader<T>(ctx, link, starts, { turn: resume?.turn ?? 0, taken: resume?.taken ?? 0 }, {
        format: this.format,
        field: this.field,
        record: this.options.record,
        blockMs: this.bounded ? null : this.blockMs,
        turnRecords: this.turnRecords,
      })
    } catch (e) {
      destroyQuietly(link.client)
      throw e
    }
  }
}

interface StreamInfo {
  readonly length: number
  readonly lastId: string
  /** `entries-added` (Redis ≥ 7); null on older servers. */
  readonly added: number | null
}

/** XINFO STREAM of a key; null when the key does not exist and the read is unbounded. */
async function streamInfo(client: RedisClient, key: string, bounded: boolean, text: string): Promise<StreamInfo | null> {
  let reply: unknown[]
  try {
    reply = await client.sendCommand<unknown[]>(['XINFO', 'STREAM', key])
  } catch (e) {
    if (/no such key/i.test(String((e as Error).message))) {
      if (!bounded) return null
      throw new SluiceError('CONNECTOR_NOT_FOUND', `redis source: there is no stream "${key}" at ${text} to read to its end (bounded); create it or check the key`)
    }
    throw redisError(e, 'SOURCE_IO', `redis source: cannot read stream "${key}" at ${text}`)
  }
  let length = 0
  let lastId = '0-0'
  let added: number | null = null
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const name = String(reply[i])
    if (name === 'length') length = Number(reply[i + 1])
    else if (name === 'last-generated-id') lastId = String(reply[i + 1])
    else if (name === 'entries-added') added = Number(reply[i + 1])
  }
  return { length, lastId, added }
}

function checkPosition(from: SourcePosition, mine: readonly string[], ctx: SourceContext): RedisStreamPosition {
  const { keys, ids, added, ends, turn, taken } = from as Partial<Record<string, unknown>>
  if (!Array.isArray(keys) || !Array.isArray(ids) || !Array.isArray(added) || !Array.isArray(ends) || [ids, added, ends].some((a) => a.length !== keys.length)) {
    throw badPosition('redis', from, 'it needs keys, ids, added and ends, arrays of one length')
  }
  if (keys.length !== mine.length || keys.some((k, i) => k !== mine[i])) {
    throw badPosition('redis', from, `it covers keys ${JSON.stringify(keys)}, but subtask ${ctx.subtaskIndex} of ${ctx.parallelism} reads ${JSON.stringify(mine)}: restore with the keys and parallelism the checkpoint was taken with`)
  }
  for (const id of ids) if (typeof id !== 'string' || !isEntryId(id)) throw badPosition('redis', from, `${JSON.stringify(id)} is not a stream entry id`)
  for (const id of ends) if (id !== null && (typeof id !== 'string' || !isEntryId(id))) throw badPosition('redis', from, `end ${JSON.stringify(id)} is not a stream entry id`)
  if (typeof turn !== 'number' || !Number.isSafeInteger(turn) || turn < 0 || turn >= Math.max(1, keys.length)) throw badPosition('redis', from, `turn must be a key index below ${keys.length}`)
  if (typeof taken !== 'number' || !Number.isSafeInteger(taken) || taken < 0) throw badPosition('redis', from, 'taken must be a whole number >= 0')
  for (const n of added) if (n !== null && (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)) throw badPosition('redis', from, 'added must hold whole numbers or null')
  return { keys: keys as string[], ids: ids as string[], added: added as (number | null)[], ends: ends as (string | null)[], turn, taken }
}

function invalid(option: string, expected: string, got: unknown): never {
  throw new SluiceError('CONNECTOR_OPTION_INVALID', `redisStreamSource: option ${option} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`)
}
