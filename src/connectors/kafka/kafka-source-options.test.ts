import { Producer } from '@platformatic/kafka'
import { describe, expect, it } from 'vitest'
import { uniqueName } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import { TestSourceContext, readAll, readSource } from '../source-contract.ts'
import { BROKERS, admin, createTopic, json, produce, source, useKafka } from './kafka-source-test-support.ts'

useKafka()

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
