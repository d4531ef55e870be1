/**
 * What the Kafka source and sink share: the client options (bootstrap brokers, client id, SASL,
 * TLS, time limits), the same read from a `kafka://` URI, and the mapping of the client's errors
 * to Sluice's connector codes with the (redacted) address and what to check.
 *
 * The client is `@platformatic/kafka` 1.x: pure JavaScript, maintained, with idempotent and
 * transactional producers; its 1.x line runs on Node ≥ 20.19 (2.x needs Node 22).
 */
import type { BaseOptions, SASLOptions } from '@platformatic/kafka'
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import { describeCause, SluiceError, type ErrorCode } from '../../errors.ts'
import { ConnectorUri, redactUri } from '../uri.ts'

export const KAFKA_DEFAULT_PORT = 9092

export type KafkaSaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'

/** How to reach the brokers, for every Kafka connector. */
export interface KafkaConnectionOptions {
  /** Bootstrap brokers: "host:port", a list of them, or one comma-separated string. */
  readonly brokers: string | readonly string[]
  /** The client id the brokers see (logs, quotas); default "sluice". */
  readonly clientId?: string
  /** SASL credentials; the mechanism defaults to PLAIN. Never printed. */
  readonly sasl?: { readonly mechanism?: KafkaSaslMechanism; readonly username: string; readonly password: string }
  /** TLS: true for the system's CAs, or node:tls options. Default: plaintext. */
  readonly tls?: boolean | TlsOptions
  /** Time to open a TCP connection to a broker (default 5000 ms). */
  readonly connectTimeoutMs?: number
  /** Time a request may take before it fails and is retried (default 10000 ms). */
  readonly requestTimeoutMs?: number
}

export interface ParsedBroker {
  readonly host: string
  readonly port: number
}

/** Checks and splits the bootstrap list; fails with CONNECTOR_URI_INVALID naming the bad entry. */
export function parseBrokers(brokers: string | readonly string[]): ParsedBroker[] {
  const list = (typeof brokers === 'string' ? [brokers] : [...brokers]).flatMap((b) => (typeof b === 'string' ? b.split(',') : [b]))
  if (list.length === 0) throw new SluiceError('CONNECTOR_URI_INVALID', 'kafka: brokers is empty; give at least one "host:port"')
  return list.map((entry) => {
    const m = typeof entry === 'string' ? /^\s*(\[[0-9a-f:.]+\]|[^:\s[\]]+)(?::(\d{1,5}))?\s*$/i.exec(entry) : null
    const port = m?.[2] === undefined ? KAFKA_DEFAULT_PORT : Number(m[2])
    if (m === null || port < 1 || port > 65535) {
      throw new SluiceError('CONNECTOR_URI_INVALID', `kafka: broker ${JSON.stringify(entry)} is not "host:port"`)
    }
    return { host: m[1].startsWith('[') ? m[1].slice(1, -1) : m[1], port }
  })
}

/** The brokers as people should see them in messages: "kafka://h1:9092,h2:9092". */
export function describeBrokers(brokers: readonly ParsedBroker[]): string {
  return `kafka://${brokers.map((b) => `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`).join(',')}`
}

/**
 * The client options for `@platformatic/kafka`. `retries` are the client's own quick retries of
 * one request; the connectors add their own backoff above them.
 */
export function kafkaClientOptions(options: KafkaConnectionOptions, brokers: readonly ParsedBroker[], retries: number): BaseOptions {
  const base: BaseOptions = {
    clientId: options.clientId ?? 'sluice',
    bootstrapBrokers: brokers.map((b) => `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`),
    connectTimeout: positive('connectTimeoutMs', options.connectTimeoutMs, 5000),
    timeout: positive('requestTimeoutMs', options.requestTimeoutMs, 10_000),
    retries,
    retryDelay: 250,
    metadataMaxAge: 30_000,
    autocreateTopics: false,
  }
  if (options.sasl !== undefined) {
    const { mechanism = 'PLAIN', username, password } = options.sasl
    if (!['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'].includes(mechanism)) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `kafka: sasl.mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got ${JSON.stringify(mechanism)}`)
    }
    const sasl: SASLOptions = { mechanism, username, password }
    base.sasl = sasl
  }
  if (options.tls !== undefined && options.tls !== false) base.tls = options.tls === true ? {} : options.tls
  return base
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) throw new SluiceError('CONNECTOR_OPTION_INVALID', `kafka: ${name} must be a whole number of milliseconds >= 1, got ${String(value)}`)
  return value
}

/**
 * The connection part of a `kafka://[USER:PASSWORD@]HOST:PORT[,HOST:PORT]/TOPIC` URI: brokers,
 * SASL credentials from the user info (`?sasl=plain|scram-sha-256|scram-sha-512`, default
 * plain), `?tls=true`, `?clientId=NAME`. Reads those parameters from `uri`; the caller reads
 * its own and calls `uri.done()`.
 */
export function kafkaConnectionFromUri(uri: ConnectorUri): KafkaConnectionOptions {
  const mechanism = uri.oneOf('sasl', ['plain', 'scram-sha-256', 'scram-sha-512'] as const)
  const tls = uri.bool('tls')
  const clientId = uri.string('clientId')
  if (mechanism !== undefined && uri.user === null) {
    throw new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${uri.text}": sasl=${mechanism} needs a user and password, kafka://USER:PASSWORD@HOST:PORT/TOPIC`)
  }
  return {
    brokers: uri.hosts.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`),
    ...(clientId !== undefined ? { clientId } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(uri.user !== null
      ? { sasl: { mechanism: (mechanism?.toUpperCase() ?? 'PLAIN') as KafkaSaslMechanism, username: uri.user, password: uri.password ?? '' } }
      : {}),
  }
}

/** Parses a kafka:// URI (several hosts allowed) and returns it with its topic. */
export function parseKafkaUri(text: string): { uri: ConnectorUri; topic: string } {
  const uri = new ConnectorUri(text, 'kafka', KAFKA_DEFAULT_PORT, { multipleHosts: true })
  return { uri, topic: uri.requireName('topic') }
}

/** Some error in a client error's chain (it nests MultipleErrors) for which `test` holds. */
export function findInChain(e: unknown, test: (err: Record<string, unknown>) => boolean, depth = 0): Record<string, unknown> | null {
  if (typeof e !== 'object' || e === null || depth > 8) return null
  const err = e as Record<string, unknown>
  if (test(err)) return err
  const nested = err.errors
  if (Array.isArray(nested)) {
    for (const inner of nested) {
      const found = findInChain(inner, test, depth + 1)
      if (found !== null) return found
    }
  }
  return err.cause === undefined ? null : findInChain(err.cause, test, depth + 1)
}

const AUTH_IDS = new Set(['SASL_AUTHENTICATION_FAILED', 'TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM'])
const NOT_FOUND_IDS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID'])

/** What kind of failure a client error is: the connector code it maps to, or null for others. */
export function classifyKafkaError(e: unknown): 'CONNECTOR_AUTH' | 'CONNECTOR_NOT_FOUND' | 'CONNECTOR_UNREACHABLE' | null {
  if (findInChain(e, (x) => x.code === 'PLT_KFK_AUTHENTICATION' || (typeof x.apiId === 'string' && AUTH_IDS.has(x.apiId))) !== null) return 'CONNECTOR_AUTH'
  if (findInChain(e, (x) => (typeof x.apiId === 'string' && NOT_FOUND_IDS.has(x.apiId)) || (typeof x.message === 'string' && /^Unknown topic /.test(x.message))) !== null) return 'CONNECTOR_NOT_FOUND'
  if (findInChain(e, (x) => x.code === 'PLT_KFK_NETWORK' || x.code === 'PLT_KFK_TIMEOUT' || x.code === 'ECONNREFUSED' || x.code === 'ECONNRESET' || x.code === 'EPIPE' || x.code === 'ETIMEDOUT' ||
    (typeof x.message === 'string' && /Cannot connect to any broker|Connection closed|socket hang up/i.test(x.message))) !== null) return 'CONNECTOR_UNREACHABLE'
  return null
}

/** The innermost useful message of a client error (its MultipleErrors repeat themselves). */
export function kafkaErrorMessage(e: unknown): string {
  const leaf = (x: unknown, depth: number): string => {
    if (typeof x !== 'object' || x === null || depth > 8) return describeCause(x)
    const err = x as { errors?: unknown[]; message?: string; cause?: unknown; apiId?: string }
    if (Array.isArray(err.errors) && err.errors.length > 0) return leaf(err.errors[err.errors.length - 1], depth + 1)
    if (err.cause !== undefined && typeof err.message === 'string' && /failed|Cannot connect/.test(err.message)) return `${err.message} (${leaf(err.cause, depth + 1)})`
    return err.apiId !== undefined ? `${err.apiId}: ${err.message ?? ''}` : err.message ?? describeCause(x)
  }
  return leaf(e, 0).replace(/\s+/g, ' ').trim()
}

/**
 * A client error as a SluiceError: CONNECTOR_UNREACHABLE / CONNECTOR_AUTH / CONNECTOR_NOT_FOUND
 * when it is one of those, `fallback` (SOURCE_IO, SINK_IO) otherwise. `where` is the redacted
 * address ("kafka://127.0.0.1:9092/orders"), `doing` what failed ("reading", "committing
 * offsets"). A SluiceError passes through unchanged.
 */
export function kafkaError(e: unknown, where: string, doing: string, fallback: ErrorCode): SluiceError {
  if (e instanceof SluiceError) return e
  const safeWhere = redactUri(where)
  const why = kafkaErrorMessage(e)
  const code = classifyKafkaError(e)
  switch (code) {
    case 'CONNECTOR_UNREACHABLE':
      return new SluiceError(code, `${safeWhere}: cannot reach the Kafka brokers while ${doing}: ${why}. Check that a broker listens at that address and that its advertised listeners are reachable from here`, { cause: e })
    case 'CONNECTOR_AUTH':
      return new SluiceError(code, `${safeWhere}: the broker refused the credentials or access while ${doing}: ${why}. Check the SASL user, password and mechanism, and the ACLs for this topic and group`, { cause: e })
    case 'CONNECTOR_NOT_FOUND':
      return new SluiceError(code, `${safeWhere}: the topic does not exist (${why}). Create it first (this broker may not create topics on demand)`, { cause: e })
    default:
      return new SluiceError(fallback, `${safeWhere}: ${doing} failed: ${why}`, { cause: e })
  }
}
