/**
 * Sources and sinks from connector URIs (see uri.ts): what the CLI accepts wherever it takes a
 * file path. Each scheme maps to its connector's `…FromUri` functions, in a module loaded only
 * when a URI of that scheme is used: the broker clients cost ~2 s of start-up together, which a
 * command or worker that reads a file should not pay.
 *
 * @example
 * await loadConnectors([input, output])          // once, before building the pipeline
 * p.source('events', sourceFromUri(input)).to('out', sinkFromUri(output))
 */
import { SluiceError } from '../errors.ts'
import type { BrokerSinkOptions, BrokerSourceOptions } from './broker.ts'
import type { Sink, Source } from './spi.ts'
import { isConnectorUri, redactUri } from './uri.ts'

/** Options a URI's source takes besides its query parameters (how to build records). */
export type UriSourceOptions<T> = BrokerSourceOptions<T>

/** Options a URI's sink takes besides its query parameters (format, message key, headers). */
export type UriSinkOptions<T> = BrokerSinkOptions<T>

interface Factories {
  readonly source?: (uri: string, options: UriSourceOptions<unknown>) => Source<unknown>
  readonly sink?: (uri: string, options: UriSinkOptions<unknown>) => Sink<unknown>
}

interface Scheme {
  readonly roles: readonly ('source' | 'sink')[]
  readonly load: () => Promise<Factories>
}

const SCHEMES: Record<string, Scheme> = {
  kafka: {
    roles: ['source', 'sink'],
    load: async () => {
      const [{ kafkaSourceFromUri }, { kafkaSinkFromUri }] = await Promise.all([import('./kafka/kafka-source.ts'), import('./kafka/kafka-sink.ts')])
      return { source: (u, o) => kafkaSourceFromUri(u, o), sink: (u, o) => kafkaSinkFromUri(u, o) }
    },
  },
  nats: {
    roles: ['source', 'sink'],
    load: async () => {
      const m = await import('./nats/jetstream-uri.ts')
      return { source: (u, o) => m.jetstreamSourceFromUri(u, o), sink: (u, o) => m.jetstreamSinkFromUri(u, o) }
    },
  },
  redis: {
    roles: ['source', 'sink'],
    load: async () => {
      const [{ redisStreamSourceFromUri }, { redisStreamSinkFromUri }] = await Promise.all([import('./redis/redis-source.ts'), import('./redis/redis-sink.ts')])
      return { source: (u, o) => redisStreamSourceFromUri(u, o), sink: (u, o) => redisStreamSinkFromUri(u, o) }
    },
  },
  postgres: { roles: ['sink'], load: async () => ({ sink: (await import('./postgres/postgres-sink.ts')).postgresSinkFromUri }) },
  postgresql: { roles: ['sink'], load: async () => ({ sink: (await import('./postgres/postgres-sink.ts')).postgresSinkFromUri }) },
}

const loaded = new Map<string, Factories>()

function schemeOf(text: string): string {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase() ?? ''
}

function unknownScheme(text: string, role: 'source' | 'sink'): SluiceError {
  const known = Object.entries(SCHEMES).filter(([, v]) => v.roles.includes(role)).map(([k]) => `${k}://`).join(', ')
  return new SluiceError('CONNECTOR_URI_INVALID', `"${redactUri(text)}" is not a ${role} Sluice knows: ${role}s are a file path or one of ${known}`)
}

/**
 * Loads the connector modules the given URIs need (file paths and undefined are ignored), so
 * that sourceFromUri / sinkFromUri can build them. Checks nothing else: the URIs' parameters
 * are checked when the source or sink is built.
 */
export async function loadConnectors(uris: readonly (string | undefined)[]): Promise<void> {
  for (const text of uris) {
    if (text === undefined || !isConnectorUri(text)) continue
    const name = schemeOf(text)
    const s = SCHEMES[name]
    if (s === undefined || loaded.has(name)) continue
    loaded.set(name, await s.load())
  }
}

function factories(text: string, role: 'source' | 'sink'): Factories {
  const name = schemeOf(text)
  const s = SCHEMES[name]
  if (s === undefined || !s.roles.includes(role)) throw unknownScheme(text, role)
  const f = loaded.get(name)
  if (f === undefined) throw new SluiceError('INTERNAL', `the ${name}:// connector is not loaded: call await loadConnectors([uri]) before building a ${role} from "${redactUri(text)}"`)
  return f
}

/** The source a connector URI names (its scheme's module loaded by loadConnectors). */
export function sourceFromUri<T>(text: string, options: UriSourceOptions<T> = {}): Source<T> {
  return (factories(text, 'source').source as NonNullable<Factories['source']>)(text, options as UriSourceOptions<unknown>) as Source<T>
}

/** The sink a connector URI names (its scheme's module loaded by loadConnectors). */
export function sinkFromUri<T>(text: string, options: UriSinkOptions<T> = {}): Sink<T> {
  return (factories(text, 'sink').sink as NonNullable<Factories['sink']>)(text, options as UriSinkOptions<unknown>) as Sink<T>
}

export { isConnectorUri }
