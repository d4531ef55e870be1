/**
 * Shared by the Kafka source's tests: the test broker, topics made per test (deleted after the
 * file's tests), and a producer to fill them.
 */
import { Admin, Producer } from '@platformatic/kafka'
import { afterAll, beforeAll } from 'vitest'
import { SERVICES, requireService, uniqueName } from '../../../test/support/services.ts'
import { kafkaSource, type KafkaSourceOptions } from './kafka-source.ts'

export const BROKERS = `${SERVICES.kafka.host}:${SERVICES.kafka.port}`
const topics: string[] = []
export let admin: Admin
let producer: Producer

/** Connects before the calling file's tests and deletes its topics after them. */
export function useKafka(): void {
  beforeAll(async () => {
    await requireService('kafka')
    admin = new Admin({ clientId: 'sluice-test', bootstrapBrokers: [BROKERS] })
    // Idempotent: a send the client retries (a slow first request to a new topic) is not written twice.
    producer = new Producer({ clientId: 'sluice-test', bootstrapBrokers: [BROKERS], idempotent: true })
  })

  afterAll(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => {})
    await Promise.allSettled([admin?.close(), producer?.close()])
  })
}

export async function createTopic(partitions: number): Promise<string> {
  const topic = uniqueName('ks')
  topics.push(topic)
  await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
  return topic
}

export interface Seed {
  readonly partition: number
  readonly value: Buffer | string | null
  readonly key?: string
  readonly headers?: Record<string, string>
  readonly timestamp?: number
}

/** Sends messages in batches of `batch` (one send per batch, so one record batch per partition). */
export async function produce(topic: string, seeds: readonly Seed[], batch = 20): Promise<void> {
  for (let i = 0; i < seeds.length; i += batch) {
    await producer.send({
      messages: seeds.slice(i, i + batch).map((s) => ({
        topic,
        partition: s.partition,
        value: s.value === null ? (null as unknown as Buffer) : Buffer.from(s.value),
        ...(s.key !== undefined ? { key: Buffer.from(s.key) } : {}),
        ...(s.headers !== undefined ? { headers: new Map(Object.entries(s.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])) } : {}),
        ...(s.timestamp !== undefined ? { timestamp: BigInt(s.timestamp) } : {}),
      })),
    })
  }
}

export const json = (v: unknown): string => JSON.stringify(v)

export function source<T = unknown>(topic: string, options: Partial<KafkaSourceOptions<T>> = {}): ReturnType<typeof kafkaSource<T>> {
  return kafkaSource<T>({ brokers: BROKERS, topic, bounded: true, ...options })
}
