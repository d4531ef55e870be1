import { describe, expect, it } from 'vitest'
import { Pipeline } from './pipeline.ts'
import { generatorSource } from '../connectors/generator-source.ts'
import { memorySink, until } from '../testing/harness.ts'

describe('job handle', () => {
  it('stop() ends an unbounded job, flushes its sinks and reports status "stopped"', async () => {
    const p = new Pipeline('forever')
    const sink = memorySink<number>()
    let closed = false
    p.source('n', generatorSource((i) => i)).map('sq', (i) => i * i).to('out', {
      kind: 'tracking',
      open: async () => {
        const w = await sink.open({ sinkId: 'out', clock: { now: () => 0 }, subtaskIndex: 0, parallelism: 1 })
        return { write: (b: readonly number[]) => w.write(b), close: () => void (closed = true) }
      },
    })
    const job = p.run()
    expect(job.status()).toBe('running')
    await until(() => sink.records.length > 10_000)
    const r = await job.stop()
    expect(r.status).toBe('stopped')
    expect(job.status()).toBe('stopped')
    expect(closed).toBe(true)
    expect(sink.records.slice(0, 4)).toEqual([0, 1, 4, 9])
    expect(r.metrics.operators.find((o) => o.operator === 'sq')?.recordsOut).toBe(sink.records.length)
  })

  it('a pipeline runs once', () => {
    const p = new Pipeline('once')
    p.source('n', generatorSource((i) => i, { count: 1 })).to('out', memorySink())
    void p.run().done
    expect(() => p.run()).toThrow(/JOB_ALREADY_RUNNING/)
  })
})
