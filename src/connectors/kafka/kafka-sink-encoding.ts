/** How the Kafka sink turns records into messages: value, key, partition and headers, in one loop per batch. */
import { reasonOf, SluiceError } from '../../errors.ts'
import type { MessageToProduce } from '@platformatic/kafka'
import { encodePayload, type PayloadFormat } from '../broker.ts'
import type { RejectRecord } from '../line-encoder.ts'

/** Per-message overhead in a record batch, roughly, for the byte counts that bound the sink's queue. */
export const MESSAGE_OVERHEAD_BYTES = 24

export type KafkaMessage = MessageToProduce<Buffer, Buffer, string, string>

/** How records become messages: the sink's options, resolved. */
export interface MessageEncoding<T> {
  readonly topic: string
  readonly format: PayloadFormat
  readonly partitions: number
  readonly key: ((record: T) => string | null) | undefined
  readonly partition: ((record: T, partitions: number) => number) | undefined
  readonly headers: ((record: T) => Record<string, string>) | undefined
}

/**
 * Appends the messages of `batch` to `queue` and returns their bytes (roughly: see
 * MESSAGE_OVERHEAD_BYTES); a record that cannot be encoded goes to `reject` instead.
 */
export function encodeBatch<T>(batch: readonly T[], encoding: MessageEncoding<T>, queue: KafkaMessage[], reject: RejectRecord): number {
  const { topic, format, partitions, key, partition, headers } = encoding
  let bytes = 0
  for (let i = 0; i < batch.length; i++) {
    const record = batch[i]
    let message: KafkaMessage
    try {
      const value = encodeValue(format, record)
      message = { topic, value }
      let size = value.length + MESSAGE_OVERHEAD_BYTES
      if (key !== undefined) {
        const k = key(record)
        if (k !== null && k !== undefined) {
          message.key = Buffer.from(k, 'utf8')
          size += message.key.length
        }
      }
      if (partition !== undefined) message.partition = checkPartition(partition(record, partitions), partitions)
      if (headers !== undefined) {
        const h = headers(record)
        message.headers = h
        for (const name in h) size += name.length + h[name].length
      }
      bytes += size
    } catch (e) {
      reject(record, reasonOf(e))
      continue
    }
    queue.push(message)
  }
  return bytes
}

/**
 * encodePayload's encoding as a Buffer. JSON and text go through Buffer.from, which carves small
 * buffers out of a shared slab, where TextEncoder allocates an ArrayBuffer per record (about a fifth of
 * the client's CPU per message here); a record encodePayload refuses still gets its reason.
 */
function encodeValue(format: PayloadFormat, record: unknown): Buffer {
  if (format === 'json') {
    let text: string | undefined
    try {
      text = JSON.stringify(record)
    } catch {
      text = undefined
    }
    if (typeof text === 'string') return Buffer.from(text, 'utf8')
  } else if (format === 'string' && typeof record === 'string') {
    return Buffer.from(record, 'utf8')
  }
  const bytes = encodePayload(format, record)
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function checkPartition(p: number, partitions: number): number {
  if (Number.isInteger(p) && p >= 0 && p < partitions) return p
  throw new SluiceError('SINK_RECORD_UNWRITABLE', `the partition function returned ${String(p)}; the topic has partitions 0 to ${partitions - 1}`)
}
