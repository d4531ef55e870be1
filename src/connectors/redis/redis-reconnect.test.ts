import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import { until } from '../../../test/support/wait.ts'
import { testSinkContext } from '../sink-contract.ts'
import { TestSourceContext } from '../source-contract.ts'
import { redisStreamSink } from './redis-sink.ts'
import { redisStreamSource } from './redis-source.ts'

const URL = SERVICES.redis.uri
const admin = createClient({ url: URL })
const keys: string[] = []

/** The server-side id of the connection named `name`, or undefined when there is none. */
async function connectionId(name: string): Promise<string | undefined> {
  const list = await admin.sendCommand<string>(['CLIENT', 'LIST'])
  return /(?:^|\s)id=(\d+)\s/.exec(list.split('\n').find((line) => line.includes(` name=${name} `)) ?? '')?.[1]
}

/** Drops the connection named `name` from the server side and waits until its client is back. */
async function dropConnection(name: string): Promise<void> {
  const id = await until(() => connectionId(name), `connection ${name}`)
  await admin.sendCommand(['CLIENT', 'KILL', 'ID', id])
  await until(async () => {
    const now = await connectionId(name)
    return now !== undefined && now !== id ? true : undefined
  }, `${name} reconnected`)
}

beforeAll(async () => {
  await requireService('redis')
  await admin.connect()
})

afterAll(async () => {
  if (!admin.isOpen) return
  if (keys.length > 0) await admin.sendCommand(['DEL', ...keys])
  admin.destroy()
})

describe('Redis connection lost mid-run', () => {
  it('the source reconnects and reads on from its position: nothing lost, nothing twice', async () => {
    const key = uniqueName('sluice_reconnect')
    keys.push(key)
    const sourceId = uniqueName('src')
    const reader = await redisStreamSource<number>({ url: URL, key, blockMs: 30_000 }).open(new TestSourceContext('fail', undefined, sourceId))
    const out: number[] = []
    const add = (from: number, to: number): Promise<unknown> => Promise.all(Array.from({ length: to - from }, (_, i) => admin.sendCommand(['XADD', key, '*', 'value', String(from + i)])))
    await add(0, 50)
    await until(async () => (await reader.read(out, 20), out.length === 50 ? true : undefined), 'the first 50 entries')
    // Drop it while an XREAD blocks (for up to 30 s: only the drop ends it early), then while it is idle.
    const pending = reader.read(out, 20)
    await dropConnection(`sluice-source-${sourceId}-0`)
    expect(await pending, 'the XREAD the drop cut off reads nothing, and the next one asks again').toBe(0)
    await add(50, 80)
    await until(async () => (await reader.read(out, 20), out.length >= 80 ? true : undefined), 'the entries after the first drop')
    await dropConnection(`sluice-source-${sourceId}-0`)
    await add(80, 100)
    await until(async () => (await reader.read(out, 20), out.length >= 100 ? true : undefined), 'the entries after the second drop')
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(reader.connection!()).toMatchObject({ state: 'connected', lastError: null })
    await reader.close!()
  })

  it('the sink reconnects and writes the batches after the drop', async () => {
    const key = uniqueName('sluice_reconnect')
    keys.push(key)
    const sinkId = uniqueName('sink')
    const writer = await redisStreamSink<number>({ url: URL, key }).open({ ...testSinkContext, sinkId })
    await writer.write([0, 1, 2])
    await writer.preCommit!(1)
    await dropConnection(`sluice-sink-${sinkId}-0`)
    await writer.write([3, 4])
    await writer.close!()
    const values = (await admin.sendCommand<[string, string[]][]>(['XRANGE', key, '-', '+'])).map(([, f]) => f[1])
    expect(values).toEqual(['0', '1', '2', '3', '4'])
  })

  it('the sink sends again the XADDs whose replies a drop cut off: every record at least once, a repeat with the same sluice-id', async () => {
    const key = uniqueName('sluice_reconnect')
    keys.push(key)
    const sinkId = uniqueName('sink')
    const writer = await redisStreamSink<number>({ url: URL, key }).open({ ...testSinkContext, sinkId })
    const records = Array.from({ length: 20_000 }, (_, i) => i)
    await writer.write(records.slice(0, 10))
    await writer.preCommit!(1)
    const written = writer.write(records.slice(10))
    await dropConnection(`sluice-sink-${sinkId}-0`)
    await written
    await writer.close!()
    const entries = (await admin.sendCommand<[string, string[]][]>(['XRANGE', key, '-', '+'])).map(([, f]) => ({ value: Number(f[1]), id: f[3] }))
    expect(new Set(entries.map((e) => e.value))).toEqual(new Set(records))
    for (const e of entries) expect(e.id).toBe(`${sinkId}-0-${e.value}`)
  })
})
