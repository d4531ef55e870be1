/**
 * `nats://[USER:PASS@]HOST:PORT/STREAM?partitions=8&bounded=true&format=json&create=true`: the
 * JetStream source and sink from a connector URI (the CLI's inputs and outputs).
 */
import { SluiceError } from '../../errors.ts'
import { PAYLOAD_FORMATS, type BrokerSinkOptions, type BrokerSourceOptions } from '../broker.ts'
import { ConnectorUri } from '../uri.ts'
import { jetstreamSink, type JetStreamSink, type JetStreamSinkOptions } from './jetstream-sink.ts'
import { jetstreamSource, type JetStreamSource, type JetStreamSourceOptions } from './jetstream-source.ts'

const NATS_PORT = 4222
const MAX_PARTITIONS = 10_000

function common(u: ConnectorUri): { servers: string; stream: string; user?: string; pass?: string } {
  const stream = u.requireName('stream')
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(stream)) {
    throw new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${u.text}": the stream name "${stream}" may hold only letters, digits, "-" and "_"`)
  }
  const host = u.host.includes(':') ? `[${u.host}]` : u.host
  return {
    servers: `${host}:${u.port}`,
    stream,
    ...(u.user !== null ? { user: u.user } : {}),
    ...(u.password !== null ? { pass: u.password } : {}),
  }
}

/**
 * A JetStream source from a URI. Parameters: `partitions` (1…10000; default discovered),
 * `bounded` (true/false), `format` (json, string, bytes). `extra` adds options a URI cannot
 * carry (a `record` function); the URI's parameters win over it.
 *
 * @example
 * ```ts
 * jetstreamSourceFromUri('nats://127.0.0.1:4222/orders?partitions=8&bounded=true')
 * ```
 */
export function jetstreamSourceFromUri<T = unknown>(uri: string, extra: BrokerSourceOptions<T> = {}): JetStreamSource<T> {
  const u = new ConnectorUri(uri, 'nats', NATS_PORT)
  const base = common(u)
  const partitions = u.int('partitions', 1, MAX_PARTITIONS)
  const bounded = u.bool('bounded')
  const format = u.oneOf('format', PAYLOAD_FORMATS)
  u.done()
  const options: JetStreamSourceOptions<T> = {
    ...extra,
    ...base,
    ...(partitions !== undefined ? { partitions } : {}),
    ...(bounded !== undefined ? { bounded } : {}),
    ...(format !== undefined ? { format } : {}),
  }
  return jetstreamSource(options)
}

/**
 * A JetStream sink from a URI. Parameters: `partitions` (1…10000, default 1), `create`
 * (true/false: create the stream when missing), `format` (json, string, bytes), `guarantee`
 * (exactly-once, at-least-once). `extra` adds a `key` or `headers` function.
 *
 * @example
 * ```ts
 * jetstreamSinkFromUri<{ id: number }>('nats://127.0.0.1:4222/nexmark?partitions=8&create=true', { key: (e) => String(e.id) })
 * ```
 */
export function jetstreamSinkFromUri<T = unknown>(uri: string, extra: BrokerSinkOptions<T> = {}): JetStreamSink<T> {
  const u = new ConnectorUri(uri, 'nats', NATS_PORT)
  const base = common(u)
  const partitions = u.int('partitions', 1, MAX_PARTITIONS)
  const create = u.bool('create')
  const format = u.oneOf('format', PAYLOAD_FORMATS)
  const guarantee = u.oneOf('guarantee', ['exactly-once', 'at-least-once'] as const)
  u.done()
  const options: JetStreamSinkOptions<T> = {
    ...extra,
    ...base,
    ...(partitions !== undefined ? { partitions } : {}),
    ...(create !== undefined ? { create } : {}),
    ...(format !== undefined ? { format } : {}),
    ...(guarantee !== undefined ? { guarantee } : {}),
  }
  return jetstreamSink(options)
}
