import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireService } from '../../../test/support/services.ts'
import { cleanupStreams, createStream, natsAdmin, NATS_SERVERS, seedStream } from '../../../test/support/nats.ts'
import { readAll, readSource, sourceContract, TestSourceContext } from '../source-contract.ts'
import type { BrokerMessage } from '../broker.ts'
import { jetstreamSource, type JetStreamSourceOptions } from './jetstream-source.ts'
import { jetstreamSink } from './jetstream-sink.ts'
import { testSinkContext, writeAll } from '../sink-contract.ts'
import { until } from '../../../test/support/wait.ts'

beforeAll(async () => requireService('nats'))
afterAll(cleanupStreams)

type Row = { i: number; name: string }
const sample: Row[] = Array.from({ length: 240 }, (_, i) => ({ i, name: `row-${i}` }))

/** One stream per input, seeded round-robin over `partitions` subjects, so stream order is input order. */
function seeded(partitions: number): (records: readonly Row[]) => Promise<ReturnType<typeof jetstreamSource<Row>>> {
  const streams = new Map<readonly Row[], string>()
  return async (records) => {
    let stream = streams.get(records)
    if (stream === undefined) {
      stream = await createStream('src')
      await seedStream(stream, records.map((r) => JSON.stringify(r)), partitions)
      streams.set(records, stream)
    }
    return jetstreamSource<Row>({ servers: NATS_SERVERS, stream, bounded: true })
  }
}

sourceContract('jetstreamSource, one partition', seeded(1), sample)
sourceContract('jetstreamSource, 4 partitions', seeded(4), sample, { parallelism: [2, 3, 4] })

describe('jetstreamSource', () => {
  const open = (options: Partial<JetStreamSourceOptions<unknown>> & { stream: string }, ctx = new TestSourceContext('skip')) =>
    jetstreamSource({ servers: NATS_SERVERS, bounded: true, ...options }).open(ctx)

  it('reports a payload that does not decode with its partition and sequence, and reads on', async () => {
    const stream = await createStream('bad')
    await seedStream(stream, ['{"a":1}', 'not json', '{"a":3}', new Uint8Array([0xff, 0xfe])], 2)
    const ctx = new TestSourceContext('skip')
    const reader = await open({ stream }, ctx)
    expect(await readAll(reader)).toEqual([{ a: 1 }, { a: 3 }])
    expect(ctx.badRecords.map((b) => b.position)).toEqual([`${stream}.1 seq 2`, `${stream}.1 seq 4`])
    expect(ctx.badRecords[0].reason).toMatch(/not JSON/)
    expect(ctx.badRecords[0].raw).toEqual(new TextEncoder().encode('not json'))
    expect(ctx.badRecords[1].reason).toMatch(/UTF-8/)
    await reader.close()
  })

  it('fails under policy fail with SOURCE_MALFORMED_RECORD naming the position', async () => {
    const stream = await createStream('badfail')
    await seedStream(stream, ['{"a":1}', '{oops'])
    const reader = await open({ stream }, new TestSourceContext('fail'))
    await expect(readAll(reader)).rejects.toThrow(`${stream}.0 seq 2`)
    await reader.close()
  })

  it('gives the record function the value, key, headers, partition, offset and timestamp', async () => {
    const stream = await createStream('meta')
    await seedStream(stream, ['"x"', '"y"'], 2, (i) => ({ 'Sluice-Key': `k${i}`, tag: `t${i}` }))
    const source = jetstreamSource<BrokerMessage>({ servers: NATS_SERVERS, stream, bounded: true, record: (m) => m })
    const got = await readSource(source)
    expect(got.map((m) => [m.value, m.key, m.headers.tag, m.partition, m.offset])).toEqual([
      ['x', 'k0', 't0', `${stream}.0`, '1'],
      ['y', 'k1', 't1', `${stream}.1`, '2'],
    ])
    expect(got[0].timestamp).toBeGreaterThan(1_600_000_000_000)
  })

  it('reads string and bytes payloads', async () => {
    const stream = await createStream('fmt')
    await seedStream(stream, ['plain text'])
    expect(await readSource(jetstreamSource({ servers: NATS_SERVERS, stream, bounded: true, format: 'string' }))).toEqual(['plain text'])
    expect(await readSource(jetstreamSource({ servers: NATS_SERVERS, stream, bounded: true, format: 'bytes' }))).toEqual([new TextEncoder().encode('plain text')])
  })

  it('bounded: stops at the end seen at open, even while messages keep arriving', async () => {
    const stream = await createStream('bounded')
    await seedStream(stream, ['1', '2', '3'], 3)
    const reader = await open({ stream })
    await seedStream(stream, ['4', '5', '6'], 3)
    expect(await readAll(reader, 2)).toEqual([1, 2, 3])
    await reader.close()
  })

  it('unbounded: reads what arrives after open, shows position and lag per partition, and its connection', async () => {
    const stream = await createStream('live')
    await seedStream(stream, ['1', '2'], 2)
    const reader = await jetstreamSource({ servers: NATS_SERVERS, stream }).open(new TestSourceContext('fail'))
    expect(reader.connection().state).toBe('connected')
    const out: unknown[] = []
    const until = async (n: number): Promise<void> => {
      for (let tries = 0; out.length < n && tries < 400; tries++) await reader.read(out, 100)
    }
    await until(2)
    await seedStream(stream, ['3', '4', '5'], 2)
    await until(5)
    expect(out.sort()).toEqual([1, 2, 3, 4, 5])
    expect(reader.progress()).toEqual([
      { partition: `${stream}.0`, position: 'seq 5', lag: 0 },
      { partition: `${stream}.1`, position: 'seq 4', lag: 0 },
    ])
    expect(reader.snapshotPosition()).toEqual({ stream, partitions: 2, owned: [0, 1], seqs: [5, 4] })
    await reader.close()
  })

  it('stops and restarts the consumer of a partition whose buffer is full, losing nothing', async () => {
    const stream = await createStream('full')
    const n = 20_000
    const writer = await jetstreamSink<number>({ servers: NATS_SERVERS, stream, guarantee: 'at-least-once' }).open(testSinkContext)
    await writeAll(writer, Array.from({ length: n }, (_, i) => i), [5000])
    for (const bounded of [true, false]) {
      const reader = await jetstreamSource<number>({ servers: NATS_SERVERS, stream, bounded }).open(new TestSourceContext('fail'))
      const out: number[] = []
      while (out.length === 0) await reader.read(out, 1)
      // Not reading on, the buffer fills and the reader stops (deletes) its consumer.
      const { jsm } = await natsAdmin()
      await until(async () => ((await jsm.streams.info(stream)).state.consumer_count === 0 ? true : undefined), 'the consumer to stop')
      while (out.length < n) {
        const got = await reader.read(out, 100)
        if (got === -1) break
      }
      expect(out.length).toBe(n)
      expect(out.every((v, i) => v === i)).toBe(true)
      await reader.close()
    }
  })

  it('shows the lag of what is not read yet', async () => {
    const stream = await createStream('lag')
    await seedStream(stream, Array.from({ length: 50 }, (_, i) => String(i)))
    const reader = await open({ stream })
    const out: unknown[] = []
    while (out.length < 10) await reader.read(out, 10 - out.length)
    expect(reader.progress()).toEqual([{ partition: `${stream}.0`, position: 'seq 10', lag: 40 }])
    await reader.close()
  })

  it('refuses a position from another split or stream', async () => {
    const stream = await createStream('pos')
    await seedStream(stream, ['1', '2', '3', '4'], 4)
    const source = jetstreamSource({ servers: NATS_SERVERS, stream, bounded: true })
    const reader = await source.open(new TestSourceContext('fail', undefined, 's', 0, 2))
    const at = reader.snapshotPosition()
    await reader.close()
    await expect(Promise.resolve(source.open(new TestSourceContext('fail', undefined, 's', 1, 2), at))).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringMatching(/partitions \[0, 2\].*\[1, 3\]/) })
    await expect(Promise.resolve(source.open(new TestSourceContext('fail'), { ...at, stream: 'other' }))).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE' })
  })

  it('fails with CONNECTOR_NOT_FOUND for an unknown stream', async () => {
    await expect(open({ stream: 'no_such_stream_sluice' })).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining('no_such_stream_sluice') })
  })

  it('fails with CONNECTOR_UNREACHABLE naming the servers when nothing listens', async () => {
    await expect(Promise.resolve(jetstreamSource({ servers: '127.0.0.1:1', stream: 'x', bounded: true }).open(new TestSourceContext()))).rejects.toMatchObject({
      code: 'CONNECTOR_UNREACHABLE',
      message: expect.stringContaining('127.0.0.1:1'),
    })
  })

  it('asks for the partitions of an unbounded read of a stream with no messages', async () => {
    const stream = await createStream('empty')
    await expect(Promise.resolve(jetstreamSource({ servers: NATS_SERVERS, stream }).open(new TestSourceContext()))).rejects.toMatchObject({ code: 'CONNECTOR_OPTION_INVALID', message: expect.stringContaining('partitions') })
  })
})
