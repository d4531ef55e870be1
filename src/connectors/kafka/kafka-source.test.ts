import { Admin, Producer } from '@platformatic/kafka'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SERVICES, requireService, uniqueName } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import { isSluiceError } from '../../errors.ts'
import type { BrokerMessage } from '../broker.ts'
import { TestSourceContext, expectResumesFromSnapshots, readAll, readSource, sourceContract } from '../source-contract.ts'
import type { SourcePosition } from '../spi.ts'
import { ConnectorUri } from '../uri.ts'
import { classifyKafkaError, kafkaConnectionFromUri, parseBrokers } from './common.ts'
import { kafkaSource, kafkaSourceFromUri, type KafkaSourceOptions } from './kafka-source.ts'

const BROKERS = `${SERVICES.kafka.host}:${SERVICES.kafka.port}`
const topics: string[] = []
let admin: Admin
let producer: Producer

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

async function createTopic(partitions: number): Promise<string> {
  const topic = uniqueName('ks')
  topics.push(topic)
  await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
  return topic
}

interface Seed {
  readonly partition: number
  readonly value: Buffer | string | null
  readonly key?: string
  readonly headers?: Record<string, string>
  readonly timestamp?: number
}

/** Sends messages in batches of `batch` (one send per batch, so one record batch per partition). */
async function produce(topic: string, seeds: readonly Seed[], batch = 20): Promise<void> {
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

const json = (v: unknown): string => JSON.stringify(v)
const sample = Array.from({ length: 240 }, (_, i) => ({ id: i, text: `record ${i} ${'x'.repeat(i % 17)}` }))

function source<T = unknown>(topic: string, options: Partial<KafkaSourceOptions<T>> = {}): ReturnType<typeof kafkaSource<T>> {
  return kafkaSource<T>({ brokers: BROKERS, topic, bounded: true, ...options })
}

/** One topic per distinct input, made once (the contract asks for the same input many times). */
function memoTopics(partitions: number, place: (records: readonly unknown[]) => Seed[]): (records: readonly unknown[]) => Promise<string> {
  const made = new Map<readonly unknown[], Promise<string>>()
  return (records) => {
    let topic = made.get(records)
    if (topic === undefined) {
      topic = createTopic(partitions).then(async (t) => {
        await produce(t, place(records))
        return t
      })
      made.set(records, topic)
    }
    return topic
  }
}

// One partition: the order of the topic is the order of the input.
const onePartition = memoTopics(1, (records) => records.map((r) => ({ partition: 0, value: json(r) })))
sourceContract('kafka, 1 partition', async (records) => source(await onePartition(records)), sample)

// Three partitions holding the input's thirds in order, read with fetches of one batch each
// (fetchMaxBytes 1: the broker returns the first batch of the first partition with data), so
// one reader's order is partition 0, 1, 2 — the input's — and every resume repeats it.
const thirds = memoTopics(3, (records) => records.map((r, i) => ({ partition: Math.floor((i * 3) / records.length), value: json(r) })))
sourceContract('kafka, 3 partitions, one batch a fetch', async (records) => source(await thirds(records), { fetchMaxBytes: 1 }), sample, { parallelism: [2, 3] })

type Tagged = { p: number; o: number; v: unknown }
const tagged = (m: BrokerMessage): Tagged => ({ p: Number(m.partition.split('/')[1]), o: Number(m.offset), v: m.value })

function byPartition(records: readonly Tagged[]): Record<number, number[]> {
  const out: Record<number, number[]> = {}
  for (const r of records) (out[r.p] ??= []).push(r.o)
  return out
}

/**
 * Resume check for readers of several partitions at the default fetch sizes, where partitions
 * interleave by timing: after a resume from any snapshot, each partition goes on exactly where
 * the snapshot says, in offset order, with nothing lost or repeated.
 */
async function expectResumesPerPartition(src: ReturnType<typeof source<Tagged>>, subtask: number, parallelism: number): Promise<Tagged[]> {
  const ctx = (): TestSourceContext => new TestSourceContext('fail', undefined, 'kafka', subtask, parallelism)
  const reader = await src.open(ctx())
  const records: Tagged[] = []
  const snapshots: SourcePosition[] = [reader.snapshotPosition!()]
  const sizes = [5, 1, 64, 2, 13, 300]
  for (let i = 0; ; i++) {
    const n = await reader.read(records, sizes[i % sizes.length])
    snapshots.push(reader.snapshotPosition!())
    if (n === -1) break
  }
  await reader.close()
  for (const offsets of Object.values(byPartition(records))) expect(offsets, 'offsets ascend in each partition').toEqual([...offsets].sort((a, b) => a - b))
  const step = Math.max(1, Math.floor(snapshots.length / 8))
  for (let k = 0; k < snapshots.length; k += step) {
    const position = JSON.parse(JSON.stringify(snapshots[k])) as { offsets: Record<string, number> }
    const resumed = await src.open(ctx(), position)
    const rest = await readAll(resumed, [7, 100])
    await resumed.close()
    const expected = records.filter((r) => r.o >= position.offsets[r.p])
    expect(byPartition(rest), `resumed from ${JSON.stringify(position)}`).toEqual(byPartition(expected))
  }
  return records
}

describe('kafka source: several partitions per reader', () => {
  it.each([1, 2, 3])('at parallelism %i each subtask resumes per partition, and together they read every message once', async (parallelism) => {
    const topic = await createTopic(4)
    await produce(topic, Array.from({ length: 2000 }, (_, i) => ({ partition: i % 4, value: json({ i }) })), 50)
    const src = source<Tagged>(topic, { record: tagged, fetchMaxBytes: 4096, partitionMaxBytes: 2048 })
    const all: Tagged[] = []
    for (let k = 0; k < parallelism; k++) {
      const share = await expectResumesPerPartition(src, k, parallelism)
      for (const r of share) expect(r.p % parallelism, 'partition p is read by subtask p % parallelism').toBe(k)
      all.push(...share)
    }
    expect(all.map((r) => (r.v as { i: number }).i).sort((a, b) => a - b)).toEqual(Array.from({ length: 2000 }, (_, i) => i))
  })

  it('every read pushes one partition\'s records and names it (per-partition watermarks); a bounded partition reports its end', async () => {
    const topic = await createTopic(4)
    await produce(topic, Array.from({ length: 800 }, (_, i) => ({ partition: i % 4, value: json({ i }) })), 40)
    const reader = await source<Tagged>(topic, { record: tagged, fetchMaxBytes: 2048 }).open(new TestSourceContext('fail', undefined, 'kafka', 1, 2))
    expect(reader.partitionCount!()).toBe(2) // partitions 1 and 3
    const slotsSeen = new Set<number>()
    const total: Tagged[] = []
    for (;;) {
      const out: Tagged[] = []
      const n = await reader.read(out, 64)
      if (n === -1) break
      if (n === 0) continue
      const slot = reader.lastPartition!()
      slotsSeen.add(slot)
      expect(new Set(out.map((r) => r.p)), 'one partition per read').toEqual(new Set([[1, 3][slot]]))
      total.push(...out)
    }
    expect(slotsSeen).toEqual(new Set([0, 1]))
    expect(total).toHaveLength(400)
    expect([reader.partitionEnded!(0), reader.partitionEnded!(1)]).toEqual([true, true])
    await reader.close!()
  })

  it('checkpoint positions resume exactly at the default fetch sizes (expectResumesFromSnapshots, one partition per subtask)', async () => {
    const topic = await createTopic(3)
    await produce(topic, Array.from({ length: 900 }, (_, i) => ({ partition: i % 3, value: json({ i }) })), 30)
    for (let k = 0; k < 3; k++) {
      const share = await expectResumesFromSnapshots(source(topic), () => new TestSourceContext('fail', undefined, 'kafka', k, 3), [5, 1, 64, 2, 13], 6)
      expect(share).toEqual(Array.from({ length: 300 }, (_, j) => ({ i: j * 3 + k })))
    }
  })
})

describe('kafka source: messages', () => {
  it('gives the record function the key, headers, partition, offset and timestamp', async () => {
    const topic = await createTopic(2)
    await produce(topic, [
      { partition: 1, value: json({ a: 1 }), key: 'k1', headers: { trace: 't-1', empty: '' }, timestamp: 1_700_000_000_000 },
      { partition: 1, value: json({ a: 2 }) },
    ])
    const got = await readSource(source(topic, { record: (m) => m }))
    expect(got).toEqual([
      { value: { a: 1 }, key: 'k1', headers: { trace: 't-1', empty: '' }, partition: `${topic}/1`, offset: '0', timestamp: 1_700_000_000_000 },
      expect.objectContaining({ value: { a: 2 }, key: null, headers: {}, partition: `${topic}/1`, offset: '1' }),
    ])
  })

  it('decodes string and bytes formats', async () => {
    const topic = await createTopic(1)
    await produce(topic, [{ partition: 0, value: 'plain text' }, { partition: 0, value: Buffer.from([0xff, 0x00]) }])
    expect(await readSource(source(topic, { format: 'bytes' }))).toEqual([Buffer.from('plain text'), Buffer.from([0xff, 0x00])])
    const ctx = new TestSourceContext('skip')
    expect(await readSource(source(topic, { format: 'string' }), ctx)).toEqual(['plain text'])
    expect(ctx.badRecords).toEqual([{ raw: new Uint8Array([0xff, 0x00]), reason: 'the payload is not valid UTF-8', position: `${topic}/0 offset 1` }])
  })

  it('reports payloads that do not decode and records the function rejects, with partition and offset, and reads on', async () => {
    const topic = await createTopic(2)
    await produce(topic, [
      { partition: 0, value: json({ n: 1 }) },
      { partition: 0, value: '{not json' },
      { partition: 0, value: json({ n: 3 }) },
      { partition: 1, value: json({ n: -1 }) },
      { partition: 1, value: json({ n: 5 }) },
    ])
    const ctx = new TestSourceContext('skip')
    const got = await readSource(source<number>(topic, {
      record: (m) => {
        const n = (m.value as { n: number }).n
        if (n < 0) throw new Error('negative')
        return n
      },
    }), ctx)
    expect(got.sort()).toEqual([1, 3, 5])
    expect(ctx.badRecords).toEqual(expect.arrayContaining([
      { raw: '{not json', reason: expect.stringMatching(/^the payload is not JSON/), position: `${topic}/0 offset 1` },
      { raw: json({ n: -1 }), reason: 'negative', position: `${topic}/1 offset 0` },
    ]))
    expect(ctx.badRecords).toHaveLength(2)
    // Under 'fail' the read throws the coded error naming the position.
    await expect(readSource(source(topic, { partitionMaxBytes: 1 << 20 }), new TestSourceContext('fail'))).rejects.toThrow(`${topic}/0 offset 1`)
  })

  it('names the record of a later error by partition and offset (positionOf, rawOf)', async () => {
    const topic = await createTopic(1)
    await produce(topic, [0, 1, 2].map((n) => ({ partition: 0, value: json({ n }) })))
    const reader = await source(topic).open(new TestSourceContext('fail'))
    const out: unknown[] = []
    let n = 0
    while (n === 0) n = await reader.read(out, 10)
    expect(n).toBe(3)
    expect(reader.positionOf!(2)).toBe(`${topic}/0 offset 2`)
    expect(reader.rawOf!(1)).toBe(json({ n: 1 }))
    await reader.close!()
  })
})

describe('kafka source: start, bounded, group offsets', () => {
  const seedTwo = async (): Promise<string> => {
    const topic = await createTopic(2)
    await produce(topic, Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: json(i), timestamp: 1_000_000 + i * 1000 })))
    return topic
  }

  it('starts at earliest by default, at latest, or at the first message of a timestamp', async () => {
    const topic = await seedTwo()
    expect((await readSource(source<number>(topic))).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(await readSource(source(topic, { start: 'latest' }))).toEqual([])
    expect((await readSource(source<number>(topic, { start: { timestamp: 1_000_000 + 15_000 } }))).sort((a, b) => a - b)).toEqual([15, 16, 17, 18, 19])
    expect(await readSource(source(topic, { start: { timestamp: 9_000_000_000_000 } }))).toEqual([])
  })

  it('an unbounded reader from latest sees only what is produced after it opened; progress shows offsets and lag', async () => {
    const topic = await seedTwo()
    const reader = await source<number>(topic, { start: 'latest', bounded: false }).open(new TestSourceContext('fail'))
    expect(reader.progress!()).toEqual([
      { partition: `${topic}/0`, position: 'offset 10', lag: null },
      { partition: `${topic}/1`, position: 'offset 10', lag: null },
    ])
    await produce(topic, [{ partition: 0, value: json(100) }, { partition: 1, value: json(101) }])
    const got: number[] = []
    await until(async () => ((await reader.read(got, 100)) >= 0 && got.length >= 2 ? true : undefined), 'the two new messages')
    expect(got.sort()).toEqual([100, 101])
    expect(reader.progress!()).toEqual([
      { partition: `${topic}/0`, position: 'offset 11', lag: 0 },
      { partition: `${topic}/1`, position: 'offset 11', lag: 0 },
    ])
    expect(reader.connection!().state).toBe('connected')
    await reader.close!()
  })

  it('bounded stops at the end offsets seen at open, also when resumed after more messages arrived', async () => {
    const topic = await seedTwo()
    const reader = await source<number>(topic).open(new TestSourceContext('fail'))
    await produce(topic, [{ partition: 0, value: json(99) }])
    const got = await readAll(reader, 3)
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    await reader.close!()
    const first = await source<number>(topic).open(new TestSourceContext('fail'))
    const part: number[] = []
    while (part.length === 0) await first.read(part, 1)
    const position = first.snapshotPosition!()
    await first.close!()
    await produce(topic, [{ partition: 1, value: json(98) }])
    const resumed = await source<number>(topic).open(new TestSourceContext('fail'), position)
    expect((await readAll(resumed)).length).toBe(20) // 21 there when it first opened, 1 read before the snapshot
    await resumed.close!()
  })

  it('commits the group offsets when a checkpoint completes, and start: committed resumes from them (earliest where none)', async () => {
    const topic = await seedTwo()
    const group = uniqueName('ks-group')
    const reader = await source<number>(topic, { group }).open(new TestSourceContext('fail'))
    const got: number[] = []
    while (got.length < 12) await reader.read(got, 12 - got.length)
    const position = reader.snapshotPosition!() as { offsets: Record<string, number> }
    await reader.checkpointComplete!(position)
    const [listed] = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1] }] }] })
    const committed = Object.fromEntries(listed.topics[0].partitions.map((p) => [String(p.partitionIndex), Number(p.committedOffset)]))
    expect(committed).toEqual(position.offsets)
    await reader.close!()
    const rest = await readSource(source<number>(topic, { group, start: 'committed' }))
    expect([...got, ...rest].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    // A group that committed only partition 1 reads partition 0 from the earliest offset.
    const other = uniqueName('ks-group')
    await admin.alterConsumerGroupOffsets({ groupId: other, topics: [{ name: topic, partitionOffsets: [{ partition: 1, offset: 8n }] }] })
    expect((await readSource(source<number>(topic, { group: other, start: 'committed' }))).sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19])
    await admin.deleteGroups({ groups: [group, other] }).catch(() => {})
  })
})

describe('kafka source: transactions', () => {
  it('read_committed (default) skips aborted transactions and stops a bounded read before an open one; read_uncommitted reads all', async () => {
    const topic = await createTopic(1)
    const tx = new Producer({ clientId: 'sluice-test-tx', bootstrapBrokers: [BROKERS], idempotent: true, transactionalId: uniqueName('ks-tx') })
    try {
      const send = async (values: number[], end: 'commit' | 'abort' | 'open'): Promise<void> => {
        const t = await tx.beginTransaction()
        await t.send({ messages: values.map((v) => ({ topic, partition: 0, value: Buffer.from(json(v)) })) })
        if (end === 'commit') await t.commit()
        if (end === 'abort') await t.abort()
      }
      await send([1, 2], 'commit')
      await send([3, 4], 'abort')
      await produce(topic, [{ partition: 0, value: json(5) }])
      await send([6], 'commit')
      await send([7, 8], 'open')
      expect(await readSource(source(topic))).toEqual([1, 2, 5, 6])
      expect(await readSource(source(topic, { isolation: 'read_uncommitted' }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    } finally {
      await tx.close().catch(() => {})
    }
  })
})

describe('kafka source: errors', () => {
  const codeOf = async (p: Promise<unknown>): Promise<{ code: string; message: string }> => {
    try {
      await p
    } catch (e) {
      expect(isSluiceError(e)).toBe(true)
      return { code: (e as { code: string }).code, message: (e as Error).message }
    }
    throw new Error('expected a failure')
  }

  it('an unreachable broker at open is CONNECTOR_UNREACHABLE naming the address', async () => {
    const { code, message } = await codeOf(Promise.resolve(kafkaSourceFromUri('kafka://user:secret@127.0.0.1:9/orders').open(new TestSourceContext())))
    expect(code).toBe('CONNECTOR_UNREACHABLE')
    expect(message).toContain('kafka://user:***@127.0.0.1:9/orders')
    expect(message).not.toContain('secret')
  })

  it('an unknown topic is CONNECTOR_NOT_FOUND', async () => {
    const { code, message } = await codeOf(Promise.resolve(source(uniqueName('ks-missing')).open(new TestSourceContext())))
    expect(code).toBe('CONNECTOR_NOT_FOUND')
    expect(message).toMatch(/topic does not exist/)
  })

  it('a position of another topic or split fails instead of reading wrong data', async () => {
    const topic = await createTopic(2)
    const ctx = new TestSourceContext('fail', undefined, 'kafka', 0, 2)
    expect((await codeOf(Promise.resolve(source(topic).open(ctx, { topic: 'other', partitionCount: 2, offsets: { 0: 0 }, ends: null })))).code).toBe('CHECKPOINT_INCOMPATIBLE')
    expect((await codeOf(Promise.resolve(source(topic).open(ctx, { topic, partitionCount: 2, offsets: { 0: 0, 1: 0 }, ends: null })))).message).toMatch(/covers partitions \[0, 1\] but this subtask reads \[0\]/)
  })

  it('bad options and URIs fail when the source is built', () => {
    expect(() => kafkaSource({ brokers: '', topic: 't' })).toThrow(/CONNECTOR_URI_INVALID/)
    expect(() => kafkaSource({ brokers: BROKERS, topic: 't', start: 'committed' })).toThrow(/group/)
    expect(() => kafkaSourceFromUri('kafka://127.0.0.1:9092/t?grup=a')).toThrow(/unknown parameter "grup"/)
    expect(() => kafkaSourceFromUri('kafka://127.0.0.1:9092/t?start=yesterday')).toThrow(/"start" must be/)
    expect(() => kafkaSourceFromUri('kafka://127.0.0.1:9092/')).toThrow(/CONNECTOR_URI_INVALID/)
  })

  it('reads a URI with several brokers and its options', async () => {
    const topic = await createTopic(1)
    await produce(topic, [{ partition: 0, value: 'a' }])
    const src = kafkaSourceFromUri(`kafka://127.0.0.1:9,${BROKERS}/${topic}?bounded=true&format=string&start=earliest&isolation=read_uncommitted&group=g1`)
    expect(src.bounded).toBe(true)
    expect(await readSource(src)).toEqual(['a'])
  })
})

describe('kafka URIs and client errors', () => {
  it('a kafka:// URI may list several brokers; other schemes take one host', () => {
    const uri = new ConnectorUri('kafka://u:p%40ss@k1:9092,k2,[::1]:9094/orders?sasl=scram-sha-256', 'kafka', 9092, { multipleHosts: true })
    expect(uri.hosts).toEqual([{ host: 'k1', port: 9092 }, { host: 'k2', port: 9092 }, { host: '::1', port: 9094 }])
    expect(uri.text).toBe('kafka://u:***@k1:9092,k2,[::1]:9094/orders?sasl=scram-sha-256')
    expect(kafkaConnectionFromUri(uri)).toEqual({ brokers: ['k1:9092', 'k2:9092', '[::1]:9094'], sasl: { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p@ss' } })
    expect(new ConnectorUri('nats://n1:4222/s', 'nats', 4222).hosts).toEqual([{ host: 'n1', port: 4222 }])
    expect(() => new ConnectorUri('nats://n1:4222,n2:4222/s', 'nats', 4222)).toThrow(/takes one host:port/)
    expect(() => new ConnectorUri('kafka://k1:9092,k2:x/t', 'kafka', 9092, { multipleHosts: true })).toThrow(/"k2:x" is not a host:port/)
    expect(parseBrokers(['a:1,b', 'c:3'])).toEqual([{ host: 'a', port: 1 }, { host: 'b', port: 9092 }, { host: 'c', port: 3 }])
  })

  it('maps the client\'s error shapes to connector codes', () => {
    const nested = (inner: object): object => ({ code: 'PLT_KFK_MULTIPLE', message: 'metadata failed 2 times.', errors: [{ code: 'PLT_KFK_MULTIPLE', message: 'x', errors: [inner] }] })
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_AUTHENTICATION', message: 'SASL failed' }))).toBe('CONNECTOR_AUTH')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_PROTOCOL', apiId: 'TOPIC_AUTHORIZATION_FAILED', message: '' }))).toBe('CONNECTOR_AUTH')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_PROTOCOL', apiId: 'UNKNOWN_TOPIC_OR_PARTITION', message: '' }))).toBe('CONNECTOR_NOT_FOUND')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_NETWORK', message: 'Connection closed' }))).toBe('CONNECTOR_UNREACHABLE')
    expect(classifyKafkaError(nested({ code: 'PLT_KFK_PROTOCOL', apiId: 'NOT_LEADER_OR_FOLLOWER', message: '' }))).toBeNull()
  })
})
