/**
 * The Redis source and sink in a running job: bounded keys split over two subtasks into a
 * parallel Redis sink, with checkpoints, and a sink failure the job recovers from. The output is
 * at-least-once; dropping repeats by sluice-id leaves exactly a fault-free run's output.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { requireService, SERVICES, uniqueName } from '../../../test/support/services.ts'
import { Pipeline } from '../../index.ts'
import { redisStreamSink } from './redis-sink.ts'
import { redisStreamSourceFromUri } from './redis-source.ts'
import { failingOnce } from '../../../test/support/failing-sink.ts'

const URL = SERVICES.redis.uri
const admin = createClient({ url: URL })
const keys: string[] = []
let dir: string
const INPUT = 3_000

function newKey(): string {
  const key = uniqueName('sluice_job')
  keys.push(key)
  return key
}

async function entries(key: string): Promise<{ value: number; id: string }[]> {
  const reply = await admin.sendCommand<[string, string[]][]>(['XRANGE', key, '-', '+'])
  return reply.map(([, f]) => ({ value: Number(f[1]), id: f[3] }))
}

/** Three input keys holding 0..INPUT-1 between them. */
async function input(): Promise<string[]> {
  const three = [newKey(), newKey(), newKey()]
  await Promise.all(Array.from({ length: INPUT }, (_, i) => admin.sendCommand(['XADD', three[i % 3], '*', 'value', String(i)])))
  return three
}

beforeAll(async () => {
  await requireService('redis')
  await admin.connect()
  dir = mkdtempSync(join(tmpdir(), 'sluice-redis-job-'))
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (!admin.isOpen) return
  if (keys.length > 0) await admin.sendCommand(['DEL', ...keys])
  admin.destroy()
})

describe('Redis Streams in a job', () => {
  it('reads bounded keys over two subtasks into a parallel Redis sink, with checkpoints', async () => {
    const [from, out] = [await input(), newKey()]
    const p = new Pipeline(uniqueName('redis-job'))
    p.source('in', redisStreamSourceFromUri<number>(`redis://127.0.0.1:6379/${from.join(',')}?bounded=true`), { batchSize: 100 })
      .map('double', (n) => n * 2)
      .to('out', redisStreamSink<number>({ url: URL, key: out }))
    const result = await p.run({ parallelism: 2, checkpoints: { dir: join(dir, 'a'), intervalMs: 10 } }).done
    expect(result.status).toBe('finished')
    const written = await entries(out)
    expect(written.map((e) => e.value).sort((a, b) => a - b)).toEqual(Array.from({ length: INPUT }, (_, i) => i * 2))
    expect(new Set(written.map((e) => e.id)).size).toBe(INPUT)
  })

  it('recovers from a sink failure: every record at least once, and exactly once after dropping repeated sluice-ids', async () => {
    const [from, out] = [await input(), newKey()]
    let writes = 0
    const p = new Pipeline(uniqueName('redis-job'))
    p.source('in', redisStreamSourceFromUri<number>(`redis://127.0.0.1:6379/${from.join(',')}?bounded=true`), { batchSize: 50 })
      .map('double', (n) => n * 2)
      // Subtask 0's writer fails once, on its 12th write.
      .to('out', failingOnce(redisStreamSink<number>({ url: URL, key: out }), (ctx) => ctx.subtaskIndex === 0 && ++writes === 12))
    const result = await p.run({ parallelism: 2, checkpoints: { dir: join(dir, 'b'), intervalMs: 10 }, restart: { attempts: 2, delayMs: 0, resetMs: 60_000 } }).done
    expect(result.status).toBe('finished')
    const written = await entries(out)
    const expected = Array.from({ length: INPUT }, (_, i) => i * 2)
    expect([...new Set(written.map((e) => e.value))].sort((a, b) => a - b)).toEqual(expected)
    const byId = new Map<string, number>()
    for (const e of written) {
      expect(byId.get(e.id) ?? e.value, `sluice-id ${e.id} names one record`).toBe(e.value)
      byId.set(e.id, e.value)
    }
    expect([...byId.values()].sort((a, b) => a - b)).toEqual(expected)
  })
})
