import { describe, expect, it } from 'vitest'
import type { BrokerMessage } from '../broker.ts'
import { TestSourceContext, expectResumesFromSnapshots, readAll, readSource, sourceContract } from '../source-contract.ts'
import type { SourcePosition } from '../spi.ts'
import { Producer } from '@platformatic/kafka'
import { uniqueName } from '../../../test/support/services.ts'
import { BROKERS, createTopic, json, produce, source, useKafka, type Seed } from './kafka-source-test-support.ts'

useKafka()

const sample = Array.from({ length: 240 }, (_, i) => ({ id: i, text: `record ${i} ${'x'.repeat(i % 17)}` }))

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
  it('read_committed from a position inside an aborted transaction: the committed records only', async () => {
    const topic = await createTopic(1)
    const tp = new Producer({ clientId: 'sluice-test-tx', bootstrapBrokers: [BROKERS], idempotent: true, transactionalId: uniqueName('tx') })
    try {
      const tx = await tp.beginTransaction()
      await tx.send({ messages: [0, 1, 2].map((i) => ({ topic, partition: 0, value: Buffer.from(json({ aborted: i })) })) })
      await tx.abort()
    } finally {
      await tp.close()
    }
    await produce(topic, [{ partition: 0, value: json({ committed: 1 }) }])
    // Offsets 0-2: the aborted records; then the abort marker and the committed record. A resume
    // inside the transaction gets the rest of it, which the fetcher's own filter drops. (The
    // fetch shape on which @platformatic/kafka 1.x's filter throws, platformatic/kafka#391, did
    // not come out of this one deterministically; kafka-fetcher.ts avoids that filter.)
    const position = { topic, partitionCount: 1, offsets: { 0: 1 }, ends: { 0: 5 } }
    const reader = await source(topic, { isolation: 'read_committed' }).open(new TestSourceContext('fail'), position as unknown as SourcePosition)
    try {
      expect(await readAll(reader)).toEqual([{ committed: 1 }])
    } finally {
      await reader.close?.()
    }
  })

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
