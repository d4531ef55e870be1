import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Pipeline } from '../../api/pipeline.ts'
import { generatorSource } from '../../connectors/generator-source.ts'
import type { Sink } from '../../connectors/spi.ts'

describe('backpressure', () => {
  it('a slow asynchronous sink holds the source back: in-flight records stay bounded by channel capacity', async () => {
    const capacity = 2048
    const total = 100_000
    const p = new Pipeline('bp')
    let received = 0
    let maxInFlight = 0
    let readAtWrite = 0
    const job: { current: ReturnType<Pipeline['run']> | null } = { current: null }
    const slow: Sink<number> = {
      kind: 'slow',
      open: () => ({
        write: async (batch) => {
          received += batch.length
          const read = job.current?.metrics().operators.find((o) => o.operator === 'numbers')?.recordsOut ?? 0
          readAtWrite = read
          maxInFlight = Math.max(maxInFlight, read - received)
          await new Promise((r) => setImmediate(r))
        },
      }),
    }
    p.source('numbers', generatorSource((n) => n, { count: total }), { batchSize: 256 })
      .keyBy((n) => n % 10)
      .reduce('running-sum', (a, b) => a + b)
      .to('slow', slow)
    job.current = p.run({ channelCapacity: capacity })
    const r = await job.current.done
    expect(received).toBe(total)
    expect(readAtWrite).toBeGreaterThan(0)
    // One channel (keyBy) between source and sink: at most capacity + one batch waiting in it,
    // one batch being written, and one batch read but not yet sent.
    expect(maxInFlight).toBeLessThanOrEqual(capacity + 3 * 256)
    const source = r.metrics.tasks.find((t) => t.task === 'numbers')
    expect(source?.backpressuredMs).toBeGreaterThan(0)
  })

  /** numbers → keyBy → reduce → a sink that takes `msPerBatch` per batch; returns what it received. */
  const slowJob = (total: number, msPerBatch: number) => {
    const got: number[] = []
    const p = new Pipeline('bp-checkpoints')
    const slow: Sink<number> = {
      kind: 'slow',
      open: () => ({
        write: async (batch) => {
          for (const x of batch) got.push(x)
          await new Promise((r) => setTimeout(r, msPerBatch))
        },
      }),
    }
    p.source('numbers', generatorSource((n) => n, { count: total }), { batchSize: 128 })
      .keyBy((n) => n % 10)
      .reduce('running-sum', (a, b) => a + b)
      .to('slow', slow)
    return { p, got }
  }

  it('checkpoints complete while a slow sink backpressures the job: a barrier waits behind one channel of records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bp-chk-'))
    try {
      const { p, got } = slowJob(20_000, 2)
      const h = p.run({ channelCapacity: 1024, checkpoints: { dir, intervalMs: 20 } })
      const r = await h.done
      expect(r.status).toBe('finished')
      expect(got.length).toBe(20_000)
      const source = r.metrics.tasks.find((t) => t.task === 'numbers')
      expect(source?.backpressuredMs).toBeGreaterThan(0)
      const c = h.checkpoints()
      expect(c?.completed).toBeGreaterThanOrEqual(2)
      const done = c?.history.filter((x) => x.status === 'completed') ?? []
      expect(done.length).toBe(c?.completed)
      // The barrier queued behind records: its start delay is recorded for every completed one.
      for (const x of done) expect(x.startDelayMs).toBeGreaterThanOrEqual(0)
      expect(Math.max(...done.map((x) => x.startDelayMs ?? 0))).toBeGreaterThan(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a checkpoint that cannot complete within its timeout is abandoned with the reason, and the job goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bp-timeout-'))
    try {
      // ~16 batches queued ahead of each barrier at 15 ms a batch: far beyond a 30 ms timeout.
      const { p, got } = slowJob(8_000, 15)
      const h = p.run({ channelCapacity: 2048, checkpoints: { dir, intervalMs: 20, timeoutMs: 30 } })
      const r = await h.done
      expect(r.status).toBe('finished')
      expect(got.length).toBe(8_000)
      const c = h.checkpoints()
      expect(c?.failed).toBeGreaterThan(0)
      const timedOut = c?.history.filter((x) => x.status === 'failed' && /timed out after 30 ms with [01] of 2 tasks acknowledged/.test(x.failure ?? '')) ?? []
      expect(timedOut.length).toBeGreaterThan(0)
      expect(timedOut[0].failure).toMatch(/under backpressure/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

