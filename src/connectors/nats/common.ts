/**
 * What the JetStream source and sink share: connecting (with coded errors for an unreachable
 * server and bad credentials), connection-state tracking, server feature checks, and the
 * partition subject naming (`<stream>.<n>`).
 */
import type { NatsConnection } from '@nats-io/transport-node'
import type { JetStreamManager } from '@nats-io/jetstream'
import { jetstreamLibrary, natsLibrary } from '../client-libraries.ts'
import { describeCause, SluiceError } from '../../errors.ts'
import type { ConnectionTracker } from '../broker.ts'

/** How to reach the server; shared by the source and the sink. */
export interface JetStreamConnectionOptions {
  /** "127.0.0.1:4222", "nats://host:4222", or several for a cluster. */
  readonly servers: string | readonly string[]
  /** User and password, when the server requires them. */
  readonly user?: string
  readonly pass?: string
  /** Token authentication, instead of user and password. */
  readonly token?: string
  /** How long opening may wait for the first connection (default 5000 ms): an unreachable server fails within it. */
  readonly connectTimeoutMs?: number
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000

/** The servers as one string for messages (no credentials: they are never part of `servers`). */
export function describeServers(servers: string | readonly string[]): string {
  return typeof servers === 'string' ? servers : servers.join(',')
}

/** The subject of partition `p` of `stream`. */
export function partitionSubject(stream: string, p: number): string {
  return `${stream}.${p}`
}

/** Stream names JetStream accepts: no spaces, dots, wildcards or path separators. */
export function checkStreamName(kind: string, stream: unknown): string {
  if (typeof stream !== 'string' || !/^[A-Za-z0-9_-]{1,255}$/.test(stream)) {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `${kind} option stream must be a JetStream stream name (letters, digits, "-", "_"), got ${JSON.stringify(stream)}`)
  }
  return stream
}

export interface JetStreamLink {
  readonly nc: NatsConnection
  readonly jsm: JetStreamManager
}

/**
 * Connects and checks that JetStream is on. Fails with CONNECTOR_UNREACHABLE (naming the
 * servers) when no server answers within the timeout, CONNECTOR_AUTH when the credentials are
 * refused, CONNECTOR_UNSUPPORTED when the server has no JetStream. Afterwards the client
 * reconnects by itself (with backoff); `tracker` follows its state.
 */
export async function connectJetStream(options: JetStreamConnectionOptions, what: string, tracker: ConnectionTracker): Promise<JetStreamLink> {
  const where = describeServers(options.servers)
  const timeout = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  // The sources and sinks use both libraries once connected (jetstreamLibrary.get()).
  const [{ connect }, { jetstreamManager }] = await Promise.all([natsLibrary.load(), jetstreamLibrary.load()])
  let nc: NatsConnection
  try {
    nc = await connect({
      servers: typeof options.servers === 'string' ? options.servers : [...options.servers],
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.pass !== undefined ? { pass: options.pass } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      timeout,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      name: `sluice ${what}`,
    })
  } catch (e) {
    const name = (e as { name?: unknown }).name
    if (name === 'AuthorizationError' || /authori[sz]ation|authentication/i.test(describeCause(e))) {
      throw new SluiceError('CONNECTOR_AUTH', `${what}: the NATS server at ${where} refused the credentials (${describeCause(e)})`, { cause: e })
    }
    throw new SluiceError('CONNECTOR_UNREACHABLE', `${what}: cannot connect to NATS at ${where} within ${timeout} ms (${describeCause(e)}); check the host and port, that nats-server runs there with JetStream on (-js)`, { cause: e })
  }
  let jsm: JetStreamManager
  try {
    jsm = await jetstreamManager(nc, { timeout })
  } catch (e) {
    await nc.close().catch(() => {})
    throw new SluiceError('CONNECTOR_UNSUPPORTED', `${what}: the NATS server at ${where} (version ${nc.info?.version ?? 'unknown'}) has no JetStream (${describeCause(e)}); start it with -js`, { cause: e })
  }
  tracker.set('connected')
  void followStatus(nc, tracker)
  return { nc, jsm }
}

async function followStatus(nc: NatsConnection, tracker: ConnectionTracker): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case 'disconnect':
      case 'reconnecting':
        tracker.set('reconnecting', `disconnected from ${s.type === 'disconnect' ? s.server : 'the server'}`)
        break
      case 'reconnect':
        tracker.set('connected')
        break
      case 'error':
        tracker.set(tracker.state, describeCause(s.error))
        break
      case 'close':
        break
      default:
        break
    }
  }
  // The iterator ends when the connection closes: by close() (the caller's choice) or for good.
  const closed = await nc.closed()
  if (closed !== undefined && closed !== null) tracker.set('failed', describeCause(closed))
}

/** A server version as [major, minor, patch]; unparsable parts are 0. */
export function parseVersion(version: string): [number, number, number] {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim())
  if (m === null) return [0, 0, 0]
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)]
}

/** A server feature a connector option needs, with the first version that has it. */
export interface ServerFeature {
  readonly option: string
  readonly needs: string
  readonly minVersion: string
}

/** Per-message TTL (the `Nats-TTL` header and a stream with `allow_msg_ttl`). */
export const MESSAGE_TTL: ServerFeature = { option: 'messageTtlMs', needs: 'per-message TTL (Nats-TTL)', minVersion: '2.11.0' }

function atLeast(version: string, min: string): boolean {
  const a = parseVersion(version)
  const b = parseVersion(min)
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i]
  return true
}

/**
 * The decision behind every version-gated option: null when `version` has every feature in
 * `needed`, otherwise the CONNECTOR_UNSUPPORTED error naming the server version, the option and
 * what it needs. An option is refused, never quietly ignored (2.9 accepts some of these fields
 * through the raw API and does not apply them).
 */
export function unsupportedFeature(what: string, version: string, needed: readonly ServerFeature[]): SluiceError | null {
  const missing = needed.filter((f) => !atLeast(version, f.minVersion))
  if (missing.length === 0) return null
  const list = missing.map((f) => `option ${f.option} needs ${f.needs}, from NATS ${f.minVersion}`).join('; ')
  return new SluiceError('CONNECTOR_UNSUPPORTED', `${what}: the NATS server runs version ${version}: ${list}`)
}

/** The stream's info, or CONNECTOR_NOT_FOUND naming it. */
export async function streamInfo(link: JetStreamLink, stream: string, what: string, subjectsFilter?: string): ReturnType<JetStreamManager['streams']['info']> {
  try {
    return await link.jsm.streams.info(stream, subjectsFilter === undefined ? undefined : { subjects_filter: subjectsFilter })
  } catch (e) {
    if ((e as { name?: unknown }).name === 'StreamNotFoundError') {
      throw new SluiceError('CONNECTOR_NOT_FOUND', `${what}: JetStream has no stream "${stream}" on ${describeServers(link.nc.getServer())}`, { cause: e })
    }
    throw new SluiceError('SOURCE_IO', `${what}: cannot read the info of stream "${stream}": ${describeCause(e)}`, { cause: e })
  }
}

/** Closes a connection, ignoring errors from one that is already gone. */
export async function closeQuietly(nc: NatsConnection | null): Promise<void> {
  if (nc === null || nc.isClosed()) return
  await nc.close().catch(() => {})
}
