/**
 * Sources and sinks from connector URIs (see uri.ts): what the CLI accepts wherever it takes a
 * file path. Each scheme maps to its connector's `…FromUri` function.
 */
import { SluiceError } from '../errors.ts'
import type { BrokerSinkOptions, BrokerSourceOptions } from './broker.ts'
import type { Sink, Source } from './spi.ts'
import { isConnectorUri, redactUri } from './uri.ts'
import { kafkaSinkFromUri } from './kafka/kafka-sink.ts'
import { kafkaSourceFromUri } from './kafka/kafka-source.ts'
import { postgresSinkFromUri } from './postgres/postgres-sink.ts'
import { redisStreamSinkFromUri } from './redis/redis-sink.ts'
import { redisStreamSourceFromUri } from './redis/redis-source.ts'

/** Options a URI's source takes besides its query parameters (how to build records). */
export type UriSourceOptions<T> = BrokerSourceOptions<T>

/** Options a URI's sink takes besides its query parameters: the broker sink options, and for generators, how many partitions to create. */
export type UriSinkOptions<T> = BrokerSinkOptions<T>

interface Scheme {
  readonly source?: (uri: string, options: UriSourceOptions<unknown>) => Source<unknown>
  readonly sink?: (uri: string, options: UriSinkOptions<unknown>) => Sink<unknown>
  /** Example URI, for messages. */
  readonly example: string
}

const SCHEMES: Record<string, Scheme> = {}

/** Registers a scheme (done once, below, for the connectors Sluice ships). */
function scheme(name: string, s: Scheme): void {
  SCHEMES[name] = s
}

function lookup(text: string, role: 'source' | 'sink'): Scheme {
  const name = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase() ?? ''
  const s = SCHEMES[name]
  if (s === undefined || s[role] === undefined) {
    const known = Object.entries(SCHEMES).filter(([, v]) => v[role] !== undefined).map(([k]) => `${k}://`).join(', ')
    throw new SluiceError('CONNECTOR_URI_INVALID', `"${redactUri(text)}" is not a ${role} Sluice knows: ${role}s are a file path or one of ${known}`)
  }
  return s
}

/** The source a connector URI names. */
export function sourceFromUri<T>(text: string, options: UriSourceOptions<T> = {}): Source<T> {
  return (lookup(text, 'source').source as NonNullable<Scheme['source']>)(text, options as UriSourceOptions<unknown>) as Source<T>
}

/** The sink a connector URI names. */
export function sinkFromUri<T>(text: string, options: UriSinkOptions<T> = {}): Sink<T> {
  return (lookup(text, 'sink').sink as NonNullable<Scheme['sink']>)(text, options as UriSinkOptions<unknown>) as Sink<T>
}

export { isConnectorUri }

scheme('kafka', {
  source: (uri, o) => kafkaSourceFromUri(uri, o),
  sink: (uri, o) => kafkaSinkFromUri(uri, o),
  example: 'kafka://127.0.0.1:9092/TOPIC',
})
scheme('postgres', { sink: (uri) => postgresSinkFromUri(uri), example: 'postgres://USER@127.0.0.1:5432/DB?table=NAME' })
scheme('postgresql', { sink: (uri) => postgresSinkFromUri(uri), example: 'postgresql://USER@127.0.0.1:5432/DB?table=NAME' })
scheme('redis', { source: redisStreamSourceFromUri, sink: redisStreamSinkFromUri, example: 'redis://127.0.0.1:6379/KEY' })
