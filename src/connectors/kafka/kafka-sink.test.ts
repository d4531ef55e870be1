import { Admin } from '@platformatic/kafka'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isSluiceError } from '../../errors.ts'
import { readCommitted, readCommittedState, type ReadMessage } from '../../../test/support/kafka-read-committed.ts'
import { until } from '../../../test/support/wait.ts'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import { sinkContract, testSinkContext, writeAll } from '../sink-contract.ts'
import type { SinkCommit, SinkContext } from '../spi.ts'
import { KAFKA_SINK_SLOTS, kafkaSink, kafkaSinkFromUri, type KafkaSinkOptions } from './kafka-sink.ts'

const brokers = `${SERVICES.kafka.host}:${SERVICES.kafka.port}`
const admin = new Admin({ clientId: 'kafka-sink-test', bootstrapBrokers: [brokers] })
const topics: string[] = []

beforeAll(() => requireService('kafka'))
afterAll(async () => {
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined)
  await admin.close()
})

async function newTopic(partitions = 1): Promise<string> {
  const topic = uniqueName('kafka_sink')
  await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
  topics.push(topic)
  return topic
}

const decode = (m: { value: Buffer }): unknown => JSON.parse(m.value.toString('utf8')) as unknown

/** The committed messages once no transaction of the topic is open or being ended. */
const readSettled = (topic: string): Promise<ReadMessage[]> =>
  until(async () => {
    let state: Awaited<ReturnType<typeof readCommittedState>>
    try {
      state = await readCommittedState(admin, topic)
    } catch (e) {
      // A topic just created may not have its leader in place yet (NOT_LEADER_OR_FOLLOWER): read again.
      if ((e as { canRetry?: unknown } | null)?.canRetry === true || /not the current leader/.test(String((e as Error)?.message))) return undefined
      throw e
    }
    return state.settled ? state.messages : undefined
  }, `every transaction on ${topic} to end`)

const readValues = async (topic: string): Promise<unknown[]> => (await readSettled(topic)).map(decode)

const sample = Array.from({ length: 120 }, (_, i) => ({ i, text: `record ${i} ${'ü'.repeat(i % 7)}` }))

function sinkOn<T>(topic: string, extra: Partial<KafkaSinkOptions<T>> = {}): ReturnType<typeof kafkaSink<T>> {
  return kafkaSink<T>({ brokers, topic, ...extra })
}

sinkContract('kafkaSink exactly-once', async () => {
  const topic = await newTopic()
  return { sink: sinkOn(topic), written: () => readValues(topic) }
}, sample, { exactlyOnce: true })

sinkContract('kafkaSink at-least-once', async () => {
  const topic = await newTopic()
  return { sink: sinkOn(topic, { guarantee: 'at-least-once' }), written: () => readValues(topic) }
}, sample)

describe('kafkaSink exactly-once', () => {
  it('keeps a pre-committed checkpoint invisible to read_committed consumers until commit', async () => {
    const topic = await newTopic()
    const writer = await sinkOn(topic).open(testSinkContext)
    await writer.write(sample.slice(0, 10))
    const commit = await writer.preCommit!(1)
    await writer.write(sample.slice(10, 20))
    expect((await readCommitted(admin, topic)).map(decode)).toEqual([])
    await writer.commit!(commit)
    const visible = await until(async () => {
      const values = (await readCommitted(admin, topic)).map(decode)
      return values.length > 0 ? values : undefined
    }, 'the commit to become visible')
    expect(visible).toEqual(sample.slice(0, 10))
    await writer.close!()
    expect(await readValues(topic)).toEqual(sample.slice(0, 20))
  })

  it('fences a zombie writer: its writes and commits fail with CONNECTOR_FENCED and its open output is aborted', async () => {
    const topic = await newTopic()
    const sink = sinkOn(topic)
    const zombie = await sink.open(testSinkContext)
    await zombie.write(sample.slice(0, 5))
    const first = await zombie.preCommit!(1)
    await zombie.commit!(first)
    await zombie.write(sample.slice(5, 10))
    const second = await zombie.preCommit!(2)
    await zombie.write(sample.slice(10, 15))
    // A new instance recovers from checkpoint 1 while the old one still runs.
    const successor = await sink.open(testSinkContext, JSON.parse(JSON.stringify(first)) as SinkCommit)
    await expect(zombie.commit!(second)).rejects.toMatchObject({ code: 'CONNECTOR_FENCED' })
    await expect((async () => {
      await zombie.write(sample.slice(15, 16))
      await zombie.flush!()
    })()).rejects.toMatchObject({ code: 'CONNECTOR_FENCED' })
    await zombie.abort!()
    expect(await readValues(topic)).toEqual(sample.slice(0, 5))
    await writeAll(successor, sample.slice(5), [7])
    expect(await readValues(topic)).toEqual(sample)
  })

  it('commits on recovery every transaction of a completed checkpoint, also those of earlier checkpoints that failed', async () => {
    const topic = await newTopic()
    const sink = sinkOn(topic)
    const writer = await sink.open(testSinkContext)
    await writer.write(sample.slice(0, 10))
    await writer.preCommit!(1) // checkpoint 1 fails: never committed
    await writer.write(sample.slice(10, 20))
    const second = await writer.preCommit!(2) // checkpoint 2 completes; the process dies before commit
    expect((second.transactions as unknown[]).length).toBe(2)
    await writer.write(sample.slice(20, 30))
    await writer.abort!()
    const recovered = await sink.open(testSinkContext, second)
    expect(await readValues(topic)).toEqual(sample.slice(0, 20))
    await writeAll(recovered, sample.slice(20), [50])
    expect(await readValues(topic)).toEqual(sample)
  })

  it('never commits a later transaction of a reused id when recovering from an older commit (each reuse bumps the epoch)', async () => {
    const topic = await newTopic()
    const sink = sinkOn(topic)
    const writer = await sink.open(testSinkContext)
    await writer.write(sample.slice(0, 10))
    const first = await writer.preCommit!(1)
    await writer.commit!(first)
    await writer.write(sample.slice(10, 20))
    const second = await writer.preCommit!(2)
    const [a] = first.transactions as Array<{ transactionalId: string; producerId: string; producerEpoch: number }>
    const [b] = second.transactions as Array<{ transactionalId: string; producerId: string; producerEpoch: number }>
    expect(b.transactionalId).toBe(a.transactionalId)
    expect(b.producerId).toBe(a.producerId)
    expect(b.producerEpoch).toBeGreaterThan(a.producerEpoch)
    await writer.abort!()
    // Checkpoint 2 never completed: resuming checkpoint 1's (id, producer, epoch) must not commit it.
    const recovered = await sink.open(testSinkContext, first)
    expect(await readValues(topic)).toEqual(sample.slice(0, 10))
    await recovered.close!()
  })

  it(`fails the write when ${KAFKA_SINK_SLOTS} checkpoints are pending and none completes, naming the cause`, async () => {
    const topic = await newTopic()
    const writer = await sinkOn(topic).open(testSinkContext)
    for (let c = 1; c <= KAFKA_SINK_SLOTS; c++) {
      await writer.write([{ c }])
      await writer.preCommit!(c)
    }
    await expect((async () => {
      await writer.write([{ c: KAFKA_SINK_SLOTS + 1 }])
      await writer.flush!()
    })()).rejects.toMatchObject({ code: 'SINK_IO', message: expect.stringContaining('never completed') })
    await writer.abort!()
  })

  it('gives each subtask its own transactional ids, so parallel writers do not fence each other', async () => {
    const topic = await newTopic(2)
    const sink = sinkOn<{ i: number }>(topic, { partition: (r) => r.i % 2 })
    const ctx = (subtaskIndex: number): SinkContext => ({ ...testSinkContext, subtaskIndex, parallelism: 2 })
    const [w0, w1] = await Promise.all([sink.open(ctx(0)), sink.open(ctx(1))])
    await w0.write(sample.filter((r) => r.i % 2 === 0))
    await w1.write(sample.filter((r) => r.i % 2 === 1))
    const [c0, c1] = await Promise.all([w0.preCommit!(1), w1.preCommit!(1)])
    await Promise.all([w0.commit!(c0), w1.commit!(c1)])
    await Promise.all([w0.close!(), w1.close!()])
    const values = (await readValues(topic)) as Array<{ i: number }>
    expect(values.map((v) => v.i).sort((a, b) => a - b)).toEqual(sample.map((r) => r.i))
  })
})

describe('kafkaSink messages', () => {
  it('takes keys, partitions and headers from the user functions', async () => {
    const topic = await newTopic(3)
    const records = Array.from({ length: 30 }, (_, i) => ({ id: `k${i}`, p: i % 3 }))
    const sink = sinkOn<{ id: string; p: number }>(topic, { key: (r) => r.id, partition: (r, n) => (r.p + 1) % n, headers: (r) => ({ source: 'test', id: r.id }) })
    await writeAll(await sink.open(testSinkContext), records, [7])
    const messages = await readSettled(topic)
    expect(messages).toHaveLength(30)
    for (const m of messages) {
      const r = JSON.parse(m.value.toString('utf8')) as { id: string; p: number }
      expect(m.key).toBe(r.id)
      expect(m.partition).toBe((r.p + 1) % 3)
      expect(m.headers).toEqual({ source: 'test', id: r.id })
    }
  })

  it('spreads keyed records by key hash, the same key always to the same partition', async () => {
    const topic = await newTopic(4)
    const records = Array.from({ length: 200 }, (_, i) => ({ user: `u${i % 20}` }))
    await writeAll(await sinkOn<{ user: string }>(topic, { key: (r) => r.user }).open(testSinkContext), records, [50])
    const messages = await readSettled(topic)
    const partitionOf = new Map<string, Set<number>>()
    for (const m of messages) partitionOf.set(m.key as string, (partitionOf.get(m.key as string) ?? new Set()).add(m.partition))
    expect(messages).toHaveLength(200)
    expect([...partitionOf.values()].every((s) => s.size === 1)).toBe(true)
    expect(new Set(messages.map((m) => m.partition)).size).toBeGreaterThan(1)
  })

  it('writes strings and bytes formats as they are', async () => {
    const topic = await newTopic()
    await writeAll(await sinkOn<string>(topic, { format: 'string' }).open(testSinkContext), ['a', 'ü'], [2])
    await writeAll(await sinkOn<Uint8Array>(topic, { format: 'bytes' }).open(testSinkContext), [new Uint8Array([0, 255])], [1])
    const values = (await readSettled(topic)).map((m) => m.value)
    expect(values.map((v) => [...v])).toEqual([[...Buffer.from('a')], [...Buffer.from('ü')], [0, 255]])
  })

  it('reports a record it cannot encode through ctx.reportBadRecord and writes the rest', async () => {
    const topic = await newTopic()
    const bad: Array<{ record: unknown; reason: string }> = []
    const ctx: SinkContext = { ...testSinkContext, reportBadRecord: (record, reason) => bad.push({ record, reason }) }
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await writeAll(await sinkOn<unknown>(topic).open(ctx), [{ a: 1 }, cyclic, { a: 2 }, 10n], [4])
    expect(await readValues(topic)).toEqual([{ a: 1 }, { a: 2 }])
    expect(bad.map((b) => b.record)).toEqual([cyclic, 10n])
    expect(bad[0].reason).toMatch(/JSON/)
  })

  it('reports a partition function result out of range as a bad record', async () => {
    const topic = await newTopic(2)
    const bad: string[] = []
    const ctx: SinkContext = { ...testSinkContext, reportBadRecord: (_record, reason) => bad.push(reason) }
    await writeAll(await sinkOn<number>(topic, { partition: (r) => r }).open(ctx), [0, 1, 2], [3])
    expect((await readValues(topic)).sort()).toEqual([0, 1])
    expect(bad).toEqual([expect.stringContaining('returned 2')])
  })
})

describe('kafkaSink errors and URIs', () => {
  it('fails to open with CONNECTOR_UNREACHABLE naming the URI when no broker answers', async () => {
    const e = await kafkaSink({ brokers: '127.0.0.1:1', topic: 't', openTimeoutMs: 8000 }).open(testSinkContext).catch((x: unknown) => x)
    expect(isSluiceError(e)).toBe(true)
    expect(e).toMatchObject({ code: 'CONNECTOR_UNREACHABLE', message: expect.stringContaining('kafka://127.0.0.1:1/t') })
  })

  it('fails to open with CONNECTOR_NOT_FOUND on an unknown topic, and creates it with createTopic', async () => {
    const topic = uniqueName('kafka_sink_missing')
    await expect(sinkOn(topic).open(testSinkContext)).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining(topic) })
    topics.push(topic)
    await writeAll(await sinkOn(topic, { createTopic: { partitions: 3 } }).open(testSinkContext), [{ a: 1 }], [1])
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    expect(metadata.topics.get(topic)?.partitionsCount).toBe(3)
    expect(await readValues(topic)).toEqual([{ a: 1 }])
  })

  it('builds a sink from a URI, creating the topic with ?partitions=N', async () => {
    const topic = uniqueName('kafka_sink_uri')
    topics.push(topic)
    const sink = kafkaSinkFromUri<string>(`${SERVICES.kafka.uri}/${topic}?partitions=2&format=string&guarantee=at-least-once&transactionalIdPrefix=x`)
    expect(sink.exactlyOnce).toBe(false)
    await writeAll(await sink.open(testSinkContext), ['x', 'y'], [2])
    // At-least-once: no transactions, visible once acknowledged.
    expect((await readCommitted(admin, topic)).map((m) => m.value.toString()).sort()).toEqual(['x', 'y'])
    expect(kafkaSinkFromUri(`${SERVICES.kafka.uri}/t`).exactlyOnce).toBe(true)
  })

  it.each([
    ['kafka://127.0.0.1:9092/t?partitons=2', 'unknown parameter "partitons"'],
    ['kafka://127.0.0.1:9092/t?guarantee=maybe', 'guarantee'],
    ['kafka://127.0.0.1:9092/', 'topic'],
    ['kafka://127.0.0.1:9092/t?partitions=0', 'partitions'],
  ])('rejects the URI %s with CONNECTOR_URI_INVALID', (uri, what) => {
    expect(() => kafkaSinkFromUri(uri)).toThrow(expect.objectContaining({ code: 'CONNECTOR_URI_INVALID', message: expect.stringContaining(what) }))
  })

  it('rejects a commit that is not its own', async () => {
    const topic = await newTopic()
    await expect(sinkOn(topic).open(testSinkContext, { path: 'out.jsonl', length: 3 })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE' })
  })
})
