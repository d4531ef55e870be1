/**
 * The JetStream source and sink inside a running job (the runtime's read loop, parallel sink
 * writers, checkpoints), not only through the contract helpers.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../../index.ts'
import { requireService } from '../../../test/support/services.ts'
import { cleanupStreams, createStream, NATS_SERVERS, readStream, seedStream } from '../../../test/support/nats.ts'
import { jetstreamSink } from './jetstream-sink.ts'
import { jetstreamSource } from './jetstream-source.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-nats-job-'))
beforeAll(async () => requireService('nats'))
afterAll(async () => {
  await cleanupStreams()
  rmSync(dir, { recursive: true, force: true })
})

describe('a job from JetStream to JetStream', () => {
  it('reads every partition at parallelism 2 and writes each record once, with checkpoints on', async () => {
    const input = await createStream('job_in')
    const output = await createStream('job_out')
    const n = 5000
    await seedStream(input, Array.from({ length: n }, (_, i) => JSON.stringify({ i })), 4)
    const p = new Pipeline('nats-job', { parallelism: 2 })
    p.source('in', jetstreamSource<{ i: number }>({ servers: NATS_SERVERS, stream: input, bounded: true }))
      .map('double', (r) => ({ i: r.i, twice: r.i * 2 }))
      .to('out', jetstreamSink({ servers: NATS_SERVERS, stream: output, partitions: 3, key: (r) => String(r.i) }))
    const result = await p.run({ checkpoints: { dir: join(dir, 'ckpt'), intervalMs: 20 } }).done
    expect(result.status).toBe('finished')
    const written = (await readStream(output)).map((m) => JSON.parse(m.text) as { i: number; twice: number })
    expect(written.length).toBe(n)
    expect(written.map((r) => r.i).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
    expect(written.every((r) => r.twice === r.i * 2)).toBe(true)
  })
})
