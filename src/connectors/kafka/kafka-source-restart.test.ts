/**
 * A broker that stalls or restarts while the source reads: the reader shows `reconnecting`,
 * retries with backoff from its own position, and reads on with nothing lost or repeated. Runs
 * against a private broker (test/support/kafka-private-broker.ts) so the shared one on 9092
 * stays up for the other tests.
 */
import { Admin, Producer } from '@platformatic/kafka'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateKafka, type PrivateKafka } from '../../../test/support/kafka-private-broker.ts'
import { requireService } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import { TestSourceContext } from '../source-contract.ts'
import type { SourceReader } from '../spi.ts'
import { kafkaSource } from './kafka-source.ts'

const PORT = 19_092
let broker: PrivateKafka

beforeAll(async () => {
  await requireService('kafka') // the shared broker's jars and script are what the private one uses
  broker = await startPrivateKafka(PORT)
}, 300_000)

afterAll(async () => {
  await broker?.stop()
}, 120_000)

async function produce(topic: string, from: number, count: number): Promise<void> {
  const producer = new Producer({ clientId: 'sluice-test', bootstrapBrokers: [broker.brokers], idempotent: true, retries: 10, retryDelay: 500 })
  try {
    for (let i = from; i < from + count; i += 50) {
      await producer.send({ messages: Array.from({ length: Math.min(50, from + count - i) }, (_, k) => ({ topic, partition: (i + k) % 2, value: Buffer.from(JSON.stringify(i + k)) })) })
    }
  } finally {
    await producer.close()
  }
}

/** Reads as a source task does (a 0 is polled again shortly) until `count` records are in. */
async function readUntil(reader: SourceReader<number>, out: number[], count: number, states: Set<string>, ms: number): Promise<void> {
  await until(async () => {
    const n = await reader.read(out, 100)
    states.add(reader.connection!().state)
    expect(n).not.toBe(-1)
    return out.length >= count ? true : undefined
  }, `${count} records (have ${out.length})`, ms, 10)
}

describe('kafka source: broker faults', () => {
  it('reads on with no loss or duplicate across a stalled broker (SIGSTOP) and a restarted one', async () => {
    const admin = new Admin({ clientId: 'sluice-test', bootstrapBrokers: [broker.brokers] })
    const topic = `ks_restart_${Date.now().toString(36)}`
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 })
    await admin.close()
    await produce(topic, 0, 600)
    const reader = await kafkaSource<number>({ brokers: broker.brokers, topic, requestTimeoutMs: 2000, connectTimeoutMs: 2000, fetchMaxBytes: 2048, partitionMaxBytes: 1024 })
      .open(new TestSourceContext('fail'))
    const out: number[] = []
    const states = new Set<string>()
    await readUntil(reader, out, 100, states, 30_000)

    broker.pause()
    try {
      // Buffered records may still come; then fetches time out and the reader reconnects.
      await until(async () => {
        await reader.read(out, 100)
        return reader.connection!().state === 'reconnecting' ? true : undefined
      }, 'the reader to notice the stalled broker', 60_000, 10)
      expect(reader.connection!().lastError).not.toBeNull()
    } finally {
      broker.resume()
    }
    await readUntil(reader, out, 300, states, 60_000)

    const restarted = broker.restart()
    const seen = new Set<string>()
    let reading = true
    const reads = (async () => {
      while (reading) {
        await reader.read(out, 100)
        seen.add(reader.connection!().state)
        await new Promise((r) => setTimeout(r, 10))
      }
    })()
    await restarted
    await produce(topic, 600, 400)
    reading = false
    await reads
    await readUntil(reader, out, 1000, states, 120_000)
    expect(seen.has('reconnecting'), `states during the restart: ${[...seen].join(', ')}`).toBe(true)
    await until(async () => {
      await reader.read(out, 100)
      return reader.connection!().state === 'connected' ? true : undefined
    }, 'the reader to report connected again', 30_000, 10)
    expect(reader.progress!().map((p) => p.position)).toEqual(['offset 500', 'offset 500'])
    expect([...out].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    await reader.close!()
  }, 400_000)
})
