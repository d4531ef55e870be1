import { describe, expect, it } from 'vitest'
import { Pipeline } from '../api/pipeline.ts'
import { generatorSource } from '../connectors/generator-source.ts'
import type { Sink } from '../connectors/spi.ts'

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
})
