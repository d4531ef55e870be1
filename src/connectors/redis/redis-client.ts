/**
 * What the Redis Streams source and sink share: a node-redis connection whose first connect is
 * bounded (node-redis would retry forever) and whose state monitoring sees, the mapping of
 * server errors to Sluice codes, entry-id comparison, and the parts of a `redis://` URI.
 */
import type { createClient } from 'redis'
import { describeCause, SluiceError, type ErrorCode } from '../../errors.ts'
import { ConnectionTracker } from '../broker.ts'
import { ConnectorUri, redactUri } from '../uri.ts'
import { redisLibrary } from '../client-libraries.ts'

export type RedisClient = ReturnType<typeof createClient>
/** How long the first connect may take before the connector gives up (CONNECTOR_UNREACHABLE). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
/**
 * How long a connection lost mid-run is retried (backoff 50 ms doubling to 2 s) before the
 * connector reports it failed and the commands waiting on it fail.
 */
export const RECONNECT_GIVE_UP_MS = 60_000

export interface RedisLink {
  readonly client: RedisClient
  readonly tracker: ConnectionTracker
  /** The URL without its password, for messages. */
  readonly text: string
}

/**
 * Connects, failing within about `connectTimeoutMs` with CONNECTOR_UNREACHABLE (naming the URL)
 * or CONNECTOR_AUTH. Once connected, a lost connection is retried with backoff for
 * RECONNECT_GIVE_UP_MS; commands issued meanwhile wait in node-redis's offline queue. `name`
 * is the connection's name in CLIENT LIST ("sluice-source-orders-0").
 */
export async function connectRedis(url: string, what: 'source' | 'sink' | 'lookup', name: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<RedisLink> {
  const text = redactUri(url)
  const tracker = new ConnectionTracker()
  let ready = false
  let lostAt = 0
  const { createClient } = await redisLibrary.load()
  const client = createClient({
    url,
    name: name.replace(/[^\w.-]/g, '_'),
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries: number, cause: Error) => {
        // Before the first connect, one failure is final: the caller gets a coded error at once.
        if (!ready) return cause
        if (retries === 0 || lostAt === 0) lostAt = Date.now()
        if (Date.now() - lostAt > RECONNECT_GIVE_UP_MS) {
          tracker.set('failed', describeCause(cause))
          return new SluiceError('CONNECTOR_UNREACHABLE', `gave up reconnecting to ${text} after ${RECONNECT_GIVE_UP_MS / 1000} s: ${describeCause(cause)}`, { cause })
        }
        return Math.min(2_000, 50 * 2 ** retries)
      },
    },
  })
  client.on('error', (e: unknown) => tracker.set(tracker.state === 'failed' ? 'failed' : ready ? 'reconnecting' : 'failed', describeCause(e)))
  client.on('reconnecting', () => tracker.set('reconnecting'))
  client.on('ready', () => {
    ready = true
    lostAt = 0
    tracker.set('connected')
  })
  const timer = setTimeout(() => destroyQuietly(client), connectTimeoutMs + 1_000)
  try {
    await client.connect()
  } catch (e) {
    destroyQuietly(client)
    const cause = describeCause(e)
    if (/WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i.test(cause)) {
      throw new SluiceError('CONNECTOR_AUTH', `redis ${what} cannot log in to ${text}: ${cause}`, { cause: e })
    }
    throw new SluiceError('CONNECTOR_UNREACHABLE', `redis ${what} cannot connect to ${text}: ${cause === '' ? 'connection timed out' : cause}`, { cause: e })
  } finally {
    clearTimeout(timer)
  }
  return { client, tracker, text }
}

/**
 * True when a command failed because the connection dropped (its reply never came), not because
 * the server refused it: the command may or may not have been applied.
 */
export function isConnectionLoss(e: unknown): boolean {
  return !(e instanceof redisLibrary.get().ErrorReply) && !(e instanceof SluiceError)
}

/** Closes the connection at once; a client already closed (a failed connect closes itself) is fine. */
export function destroyQuietly(client: RedisClient): void {
  if (client.isOpen) client.destroy()
}

/**
 * A server error as a Sluice error: WRONGTYPE (the key holds a string, a hash…) is the user's to
 * fix and not retryable; anything else is I/O (`io`: SOURCE_IO or SINK_IO).
 */
export function redisError(e: unknown, io: ErrorCode, what: string): SluiceError {
  if (e instanceof SluiceError) return e
  const cause = describeCause(e)
  if (cause.startsWith('WRONGTYPE')) {
    return new SluiceError('CONNECTOR_NOT_FOUND', `${what}: the key holds another type of value, not a stream (${cause}); name a stream key or delete that key`, { cause: e })
  }
  if (/^(NOAUTH|NOPERM|WRONGPASS)/.test(cause)) return new SluiceError('CONNECTOR_AUTH', `${what}: ${cause}`, { cause: e })
  return new SluiceError(io, `${what}: ${cause}`, { cause: e })
}

const ENTRY_ID = /^(0|[1-9]\d*)-(0|[1-9]\d*)$/

/** True for a complete stream entry id as Redis writes it: "ms-seq", no leading zeros. */
export function isEntryId(id: string): boolean {
  return ENTRY_ID.test(id)
}

/**
 * Orders two entry ids ("1700000000000-3") numerically, exactly for any 64-bit parts: the
 * longer digit string is the larger number, equal lengths compare as text. Negative: a < b.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0
  const da = a.indexOf('-')
  const db = b.indexOf('-')
  if (da !== db) return da - db
  if (a.length === b.length) return a < b ? -1 : 1
  const msA = a.slice(0, da)
  const msB = b.slice(0, db)
  if (msA !== msB) return msA < msB ? -1 : 1
  return a.length - b.length
}

/** The epoch ms an entry id carries. */
export function idTimestamp(id: string): number {
  return Number(id.slice(0, id.indexOf('-')))
}

/** A `redis://` URI's connection URL (without the key path), the keys it names, and the parsed URI. */
export interface RedisUriParts {
  readonly uri: ConnectorUri
  readonly url: string
  /** The stream keys: the path's, or with `?partitions=N` the keys KEY.0 … KEY.(N-1). */
  readonly keys: string[]
  /** With `?partitions=N`: the path's key and N; null otherwise. */
  readonly partitioned: { readonly key: string; readonly partitions: number } | null
}

/**
 * Parses `redis://[user:pass@]HOST:PORT/KEY[,KEY…]?db=N&partitions=N`: the path is the stream key,
 * or several separated by commas (a key containing a comma cannot be named in a URI); with
 * `partitions=N`, one key whose partitions are the streams KEY.0 … KEY.(N-1). The database
 * number, which plain Redis URLs put in the path, is the `db` parameter here.
 */
export function parseRedisUri(text: string): RedisUriParts {
  const uri = new ConnectorUri(text, 'redis', 6379)
  let keys = uri.name.split(',')
  if (uri.name === '' || keys.some((k) => k === '')) {
    throw new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${uri.text}": the path must be the stream key, or keys separated by commas, e.g. redis://${uri.host}:${uri.port}/orders`)
  }
  const partitions = uri.int('partitions', 1, 10_000)
  let partitioned: RedisUriParts['partitioned'] = null
  if (partitions !== undefined) {
    if (keys.length > 1) throw new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${uri.text}": give one key with "partitions" (its partitions are KEY.0 … KEY.${partitions - 1}), or a list of keys without it`)
    partitioned = { key: keys[0], partitions }
    keys = partitionKeys(keys[0], partitions)
  }
  const db = uri.int('db', 0, 1_000_000) ?? 0
  const host = uri.host.includes(':') ? `[${uri.host}]` : uri.host
  const auth = uri.user === null && uri.password === null
    ? ''
    : `${encodeURIComponent(uri.user ?? '')}${uri.password === null ? '' : `:${encodeURIComponent(uri.password)}`}@`
  return { uri, url: `redis://${auth}${host}:${uri.port}/${db}`, keys, partitioned }
}

/** The stream keys of a partitioned key: KEY.0 … KEY.(n-1). */
export function partitionKeys(key: string, n: number): string[] {
  return Array.from({ length: n }, (_, p) => `${key}.${p}`)
}

