import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import { requireService, uniqueName } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import { cleanupStreams, createStream, forgetStreamLater, natsAdmin, NATS_SERVERS, readStream } from '../../../test/support/nats.ts'
import { sinkContract, testSinkContext, writeAll } from '../sink-contract.ts'
import type { SinkContext } from '../spi.ts'
import { jetstreamSink, type JetStreamSinkOptions } from './jetstream-sink.ts'
import { keyHash } from '../broker.ts'

beforeAll(async () => requireService('nats'))
afterAll(cleanupStreams)

function freePort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}

/** Waits until the server has forgotten the stream's message ids: a repeated probe id is stored again. */
async function untilIdsForgotten(stream: string): Promise<void> {
  const js = jetstream((await natsAdmin()).nc)
  const probe = async (): Promise<boolean> => {
    const h = natsHeaders()
    h.set('Nats-Msg-Id', 'probe')
    return (await js.publish(`${stream}.probe`, 'p', { headers: h })).duplicate
  }
  await probe()
  await until(async () => ((await probe()) ? undefined : true), 'the duplicate window to pass')
}

type Row = { i: number; name: string }
const sample: Row[] = Array.from({ length: 90 }, (_, i) => ({ i, name: `row-${i}` }))

async function parsed(stream: string, filter?: string): Promise<unknown[]> {
  return (await readStream(stream, filter)).map((m) => JSON.parse(m.text) as unknown)
}

function makeWith(options: Partial<JetStreamSinkOptions<Row>> = {}) {
  return async () => {
    const stream = await createStream('sink')
    return { sink: jetstreamSink<Row>({ servers: NATS_SERVERS, stream, ...options }), written: () => parsed(stream) as Promise<Row[]> }
  }
}

sinkContract('jetstreamSink exactly-once', makeWith(), sample, { exactlyOnce: true, recovery: 'replay' })
sinkContract('jetstreamSink exactly-once, 3 partitions, keyed', makeWith({ partitions: 3, key: (r) => r.name }), sample, { exactlyOnce: true, recovery: 'replay' })
sinkContract('jetstreamSink at-least-once', makeWith({ guarantee: 'at-least-once' }), sample)

describe('jetstreamSink', () => {
  it('gives each message the id <sinkId>-<subtask>-<run>-<ordinal>, and a recovery the same ids', async () => {
    const stream = await createStream('ids')
    const sink = jetstreamSink({ servers: NATS_SERVERS, stream })
    const ctx: SinkContext = { ...testSinkContext, sinkId: 'out', subtaskIndex: 2, parallelism: 3 }
    const writer = await sink.open(ctx)
    await writer.write(['a', 'b'])
    const commit = await writer.preCommit(1)
    await writer.write(['c'])
    await writer.flush()
    await writer.abort()
    const run = commit.run as string
    expect(commit).toMatchObject({ checkpoint: 1, subtask: 2, count: 2, lastId: `out-2-${run}-1` })
    expect((await readStream(stream)).map((m) => m.id)).toEqual([`out-2-${run}-0`, `out-2-${run}-1`, `out-2-${run}-2`])
    const recovered = await sink.open(ctx, commit)
    await recovered.write(['c', 'd'])
    await recovered.close()
    expect((await readStream(stream)).map((m) => [m.id, m.text])).toEqual([0, 1, 2, 3].map((n) => [`out-2-${run}-${n}`, JSON.stringify('abcd'[n])]))
  })

  it('does not rely on the duplicate window: a recovery after the server forgot the ids still writes each record once', async () => {
    const stream = await createStream('window', { duplicate_window: 200_000_000 })
    const sink = jetstreamSink<Row>({ servers: NATS_SERVERS, stream })
    const writer = await sink.open(testSinkContext)
    await writer.write(sample.slice(0, 30))
    const commit = await writer.preCommit(1)
    await writer.commit(commit)
    await writer.write(sample.slice(30, 50))
    await writer.flush()
    await writer.abort()
    await untilIdsForgotten(stream)
    const recovered = await sink.open(testSinkContext, JSON.parse(JSON.stringify(commit)))
    await recovered.write(sample.slice(30))
    await recovered.close()
    expect(await parsed(stream, `${stream}.0`)).toEqual(sample)
  })

  it('recovers from a checkpoint a recovered writer took while skipping what the failed one had written (regression: duplicates)', async () => {
    // The duplicate window is far shorter than the test: only the read-back prevents repeats.
    const stream = await createStream('chain', { duplicate_window: 100_000_000 })
    const sink = jetstreamSink<Row>({ servers: NATS_SERVERS, stream })
    const w1 = await sink.open(testSinkContext)
    await w1.write(sample.slice(0, 20))
    const c1 = await w1.preCommit(1)
    await w1.write(sample.slice(20, 70))
    await w1.flush()
    await w1.abort()
    const w2 = await sink.open(testSinkContext, c1)
    await w2.write(sample.slice(20, 40)) // all in the stream already: skipped
    const c2 = await w2.preCommit(2)
    await w2.write(sample.slice(40, 45))
    await w2.abort()
    await untilIdsForgotten(stream)
    const w3 = await sink.open(testSinkContext, c2)
    await w3.write(sample.slice(40))
    await w3.close()
    expect(await parsed(stream, `${stream}.0`)).toEqual(sample)
  })

  it('goes on across a server restart, each record once (unacknowledged publishes are sent again under their ids)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-nats-sink-'))
    const port = await freePort()
    const start = (): ChildProcess => spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
    let server = start()
    try {
      const servers = `127.0.0.1:${port}`
      const admin = await until(() => connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 }).catch(() => undefined), 'the JetStream server to listen')
      const jsm = await jetstreamManager(admin)
      await jsm.streams.add({ name: 'restart', subjects: ['restart.*'] })
      const writer = await jetstreamSink<number>({ servers, stream: 'restart', partitions: 2 }).open(testSinkContext)
      const all = Array.from({ length: 3000 }, (_, i) => i)
      await writer.write(all.slice(0, 1000))
      server.kill('SIGKILL')
      await until(() => (writer.connection().state === 'reconnecting' ? true : undefined), 'the writer to see the server gone')
      const during = writer.write(all.slice(1000, 2000))
      server = start()
      await during
      await writer.write(all.slice(2000))
      await writer.flush()
      expect(writer.connection().state).toBe('connected')
      await writer.close()
      const c = await jetstream(admin).consumers.get('restart')
      const got: number[] = []
      let pending = (await c.info(true)).num_pending
      while (pending > 0) {
        for await (const m of await c.fetch({ max_messages: Math.min(pending, 1000), expires: 10_000 })) {
          got.push(m.json<number>())
          pending = m.info.pending
        }
      }
      await admin.close()
      expect(got.length).toBe(all.length)
      expect(new Set(got).size).toBe(all.length)
    } finally {
      server.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('spreads keyed records over <stream>.<hash(key) % partitions> with the key in a header', async () => {
    const stream = await createStream('keys')
    const sink = jetstreamSink<Row>({ servers: NATS_SERVERS, stream, partitions: 4, key: (r) => `k${r.i % 7}`, headers: (r) => ({ n: String(r.i) }) })
    await writeAll(await sink.open(testSinkContext), sample, [40])
    const msgs = await readStream(stream)
    expect(msgs.map((m) => m.subject)).toEqual(sample.map((r) => `${stream}.${keyHash(`k${r.i % 7}`) % 4}`))
    expect(new Set(msgs.map((m) => m.subject)).size).toBeGreaterThan(1)
  })

  it('publishes to the subject a function gives', async () => {
    const stream = await createStream('subj')
    const sink = jetstreamSink<Row>({ servers: NATS_SERVERS, stream, subject: (r) => `${stream}.${r.i % 2 === 0 ? 'even' : 'odd'}` })
    await writeAll(await sink.open(testSinkContext), sample.slice(0, 4), [4])
    expect((await readStream(stream)).map((m) => m.subject)).toEqual(['even', 'odd', 'even', 'odd'].map((s) => `${stream}.${s}`))
  })

  it('fails with SINK_IO when no stream takes a subject', async () => {
    const stream = await createStream('nosubj')
    const writer = await jetstreamSink<Row>({ servers: NATS_SERVERS, stream, subject: () => 'elsewhere.x' }).open(testSinkContext)
    await writer.write(sample.slice(0, 2))
    await expect(writer.flush()).rejects.toMatchObject({ code: 'SINK_IO', message: expect.stringContaining('no stream takes the subject') })
    await writer.abort()
  })

  it('hands a record it cannot encode to reportBadRecord and writes the rest', async () => {
    const stream = await createStream('badrec')
    const bad: unknown[] = []
    const ctx: SinkContext = { ...testSinkContext, reportBadRecord: (record) => bad.push(record) }
    const writer = await jetstreamSink<unknown>({ servers: NATS_SERVERS, stream, format: 'string' }).open(ctx)
    await writeAll(writer, ['a', 42, 'b'], [3])
    expect(bad).toEqual([42])
    expect((await readStream(stream)).map((m) => m.text)).toEqual(['a', 'b'])
  })

  it('creates a missing stream with create: true, and fails with CONNECTOR_NOT_FOUND without it', async () => {
    const stream = uniqueName('created')
    await expect(Promise.resolve(jetstreamSink({ servers: NATS_SERVERS, stream }).open(testSinkContext))).rejects.toMatchObject({ code: 'CONNECTOR_NOT_FOUND', message: expect.stringContaining(stream) })
    forgetStreamLater(stream)
    await writeAll(await jetstreamSink({ servers: NATS_SERVERS, stream, create: true }).open(testSinkContext), [1, 2], [2])
    expect(await parsed(stream)).toEqual([1, 2])
  })

  it('refuses per-message TTL on this server, naming its version', async () => {
    const stream = await createStream('ttl')
    const { nc } = await natsAdmin()
    const version = nc.info!.version
    await expect(Promise.resolve(jetstreamSink({ servers: NATS_SERVERS, stream, messageTtlMs: 1000 }).open(testSinkContext))).rejects.toMatchObject({
      code: 'CONNECTOR_UNSUPPORTED',
      message: expect.stringContaining(`version ${version}`),
    })
  })

  it('fails with CONNECTOR_UNREACHABLE naming the servers when nothing listens', async () => {
    await expect(Promise.resolve(jetstreamSink({ servers: '127.0.0.1:1', stream: 'x' }).open(testSinkContext))).rejects.toMatchObject({ code: 'CONNECTOR_UNREACHABLE', message: expect.stringContaining('127.0.0.1:1') })
  })

  it('refuses a commit of another subtask', async () => {
    const stream = await createStream('othersub')
    const sink = jetstreamSink({ servers: NATS_SERVERS, stream })
    const writer = await sink.open(testSinkContext)
    const commit = await writer.preCommit(1)
    await writer.close()
    await expect(Promise.resolve(sink.open({ ...testSinkContext, subtaskIndex: 1, parallelism: 2 }, commit))).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE' })
  })
})
