/**
 * What the broker connectors (Kafka, NATS JetStream, Redis Streams) share: payload formats, the
 * message a user function sees (value, key, headers, where it came from), and the options every
 * broker source and sink takes.
 */

import { SluiceError } from '../errors.ts'

/** How a message's payload becomes a record and back. */
export type PayloadFormat = 'json' | 'string' | 'bytes'

export const PAYLOAD_FORMATS: readonly PayloadFormat[] = ['json', 'string', 'bytes']

/** A message as a broker source read it, for the `record` function. */
export interface BrokerMessage<V = unknown> {
  /** The payload, decoded with the source's format. */
  readonly value: V
  /** The message key as text (Kafka key, Redis field…); null when the message has none. */
  readonly key: string | null
  /** Headers as text. Empty when the message has none. */
  readonly headers: Readonly<Record<string, string>>
  /** The partition's name as in monitoring: "orders/3", "nexmark.5", the stream key. */
  readonly partition: string
  /** The position in the partition: Kafka offset, JetStream sequence, Redis entry id. */
  readonly offset: string
  /** The broker's timestamp of the message (epoch ms); 0 when the broker has none. */
  readonly timestamp: number
}

/** Options every broker source takes. */
export interface BrokerSourceOptions<T> {
  /** Payload format: 'json' (default), 'string' (UTF-8 text) or 'bytes' (a Uint8Array). */
  readonly format?: PayloadFormat
  /**
   * Builds the record from the message (its key, headers, partition…); default: the value. A
   * throw makes the message a bad record (the source's onError policy), as a payload that does
   * not decode does.
   */
  readonly record?: (message: BrokerMessage) => T
  /**
   * Stop at the end positions seen when the reader opens, so the job reprocesses what is there
   * and finishes. Default false: read on as messages arrive.
   */
  readonly bounded?: boolean
}

/** Options every broker sink takes. */
export interface BrokerSinkOptions<T> {
  /** Payload format: 'json' (default), 'string' (the record must be a string) or 'bytes' (a Uint8Array). */
  readonly format?: PayloadFormat
  /** The message key from the record; null or absent: no key. */
  readonly key?: (record: T) => string | null
  /** Headers from the record. */
  readonly headers?: (record: T) => Record<string, string>
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

/**
 * Decodes a payload. Throws SOURCE_MALFORMED_RECORD saying why (for the bad-record report, which
 * takes `reasonOf` it) when the bytes are not valid UTF-8 or not JSON.
 */
export function decodePayload(format: PayloadFormat, bytes: Uint8Array): unknown {
  if (format === 'bytes') return bytes
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new SluiceError('SOURCE_MALFORMED_RECORD', 'the payload is not valid UTF-8')
  }
  if (format === 'string') return text
  try {
    return JSON.parse(text) as unknown
  } catch (e) {
    throw new SluiceError('SOURCE_MALFORMED_RECORD', `the payload is not JSON: ${(e as Error).message}`)
  }
}

/** Decodes a payload that arrived as text (Redis fields). */
export function decodeTextPayload(format: PayloadFormat, text: string): unknown {
  if (format === 'string') return text
  if (format === 'bytes') return encoder.encode(text)
  try {
    return JSON.parse(text) as unknown
  } catch (e) {
    throw new SluiceError('SOURCE_MALFORMED_RECORD', `the payload is not JSON: ${(e as Error).message}`)
  }
}

/**
 * Encodes a record for a broker. Throws SINK_RECORD_UNWRITABLE saying why (for the sink's
 * bad-record report, which takes `reasonOf` it) when the record does not fit the format.
 */
export function encodePayload(format: PayloadFormat, record: unknown): Uint8Array {
  if (format === 'bytes') {
    if (record instanceof Uint8Array) return record
    throw new SluiceError('SINK_RECORD_UNWRITABLE', `format 'bytes' needs a Uint8Array record, got ${describeType(record)}`)
  }
  if (format === 'string') {
    if (typeof record === 'string') return encoder.encode(record)
    throw new SluiceError('SINK_RECORD_UNWRITABLE', `format 'string' needs a string record, got ${describeType(record)}`)
  }
  return encoder.encode(jsonText(record))
}

/** Like encodePayload, as text (Redis fields). */
export function encodeTextPayload(format: PayloadFormat, record: unknown): string {
  if (format === 'string') {
    if (typeof record === 'string') return record
    throw new SluiceError('SINK_RECORD_UNWRITABLE', `format 'string' needs a string record, got ${describeType(record)}`)
  }
  if (format === 'bytes') throw new SluiceError('CONNECTOR_OPTION_INVALID', "format 'bytes' is not available for this sink (its payloads are text)")
  return jsonText(record)
}

/** The record as JSON text; throws SINK_RECORD_UNWRITABLE saying why when it has none (a BigInt, a cycle, undefined). */
function jsonText(record: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(record)
  } catch (e) {
    throw new SluiceError('SINK_RECORD_UNWRITABLE', `cannot encode the record as JSON: ${(e as Error).message}`)
  }
  if (text === undefined) throw new SluiceError('SINK_RECORD_UNWRITABLE', `cannot encode ${describeType(record)} as JSON`)
  return text
}

function describeType(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (v instanceof Uint8Array) return 'a Uint8Array'
  if (v === undefined) return 'undefined'
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

/** FNV-1a over a key's UTF-16 code units: the partition of a keyed record is keyHash(key) % partitions (JetStream and Redis sinks); stable across processes and versions. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A connection's state, kept by a connector and read by monitoring (see ConnectionStatus). */
export class ConnectionTracker {
  state: 'connected' | 'reconnecting' | 'failed' = 'connected'
  lastError: string | null = null
  since = Date.now()

  set(state: 'connected' | 'reconnecting' | 'failed', error?: string): void {
    if (error !== undefined) this.lastError = error
    else if (state === 'connected') this.lastError = null
    if (state !== this.state) {
      this.state = state
      this.since = Date.now()
    }
  }

  status(): { state: 'connected' | 'reconnecting' | 'failed'; lastError: string | null; since: number } {
    return { state: this.state, lastError: this.lastError, since: this.since }
  }
}
