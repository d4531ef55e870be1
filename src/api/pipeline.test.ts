import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Pipeline, type RestartEvent } from './pipeline.ts'
import { generatorSource } from '../connectors/generator-source.ts'
import type { Sink } from '../connectors/spi.ts'
import { memorySink, until } from '../testing/index.ts'
import { ManualClock } from '../time/clock.ts'

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

/** A sink that counts what it is given and fails its next write when told (SINK_IO: restartable). */
function flakySink(): Sink<number> & { writes: number; failNext: boolean } {
  const s = {
    kind: 'flaky',
    writes: 0,
    failNext: false,
    open: () => ({
      write: () => {
        if (s.failNext) {
          s.failNext = false
          throw new Error('lost the connection')
        }
        s.writes++
      },
    }),
  }
  return s
}

describe('restarts', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-restart-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const WAIT = 60_000

  it('regression: the count of restarts starts again after resetMs without a failure (on the run\'s clock)', async () => {
    const clock = new ManualClock(0)
    const sink = flakySink()
    const p = new Pipeline('flaky')
    p.source('n', generatorSource((i) => i)).to('out', sink)
    const job = p.run({ clock, checkpoints: { dir, intervalMs: 20 }, restart: { attempts: 1, delayMs: 0, resetMs: 60_000 } })
    const events: RestartEvent[] = []
    job.onRestart((e) => events.push(e))
    let ended = false
    job.done.catch(() => {}).finally(() => (ended = true))
    /** Fails the sink once the attempt that runs now writes, and waits for the restart (or the end). */
    const failOnce = async (): Promise<void> => {
      const before = events.length
      const writes = sink.writes
      await until(() => sink.writes > writes, WAIT)
      sink.failNext = true
      await until(() => events.length > before || ended, WAIT)
    }
    /** Waits for the restarted attempt: running (the failed one reports 'failed') and writing. */
    const restarted = async (): Promise<void> => {
      const writes = sink.writes
      await until(() => job.status() === 'running' && sink.writes > writes, WAIT)
    }
    await failOnce()
    expect(events.map((e) => e.restart)).toEqual([1])
    // The restarted attempt runs a healthy minute: the one restart allowed is available again.
    await restarted()
    clock.advance(60_000)
    await failOnce()
    expect(events.map((e) => `${e.restart} of ${e.attempts}`)).toEqual(['1 of 1', '1 of 1'])
    expect(job.checkpoints()?.restarts).toBe(2)
    // Without a healthy period in between, the next failure is one too many.
    await restarted()
    await failOnce()
    await expect(job.done).rejects.toThrow(/SINK_IO: sink "out" failed to write: lost the connection/)
    expect(events).toHaveLength(2)
    expect(existsSync(join(dir, 'sluice.lock'))).toBe(false)
  }, 120_000)

  it('restart.resetMs must be > 0', () => {
    const p = new Pipeline('bad')
    p.source('n', generatorSource((i) => i, { count: 1 })).to('out', memorySink())
    expect(() => p.run({ checkpoints: { dir, intervalMs: 20 }, restart: { attempts: 1, delayMs: 0, resetMs: 0 } })).toThrow(/PIPELINE_OPTION_INVALID: restart.resetMs must be > 0/)
  })

  it('regression: a second run on the same checkpoint directory is refused while the first holds it; the lock goes when the job ends', async () => {
    const first = new Pipeline('first')
    first.source('n', generatorSource((i) => i)).to('out', memorySink())
    const h = first.run({ checkpoints: { dir, intervalMs: 20 } })
    const second = new Pipeline('second')
    second.source('n', generatorSource((i) => i, { count: 10 })).to('out', memorySink())
    expect(() => second.run({ checkpoints: { dir, intervalMs: 20 } })).toThrow(new RegExp(`CHECKPOINT_LOCKED: checkpoint directory ${dir} is in use by job "first", process ${process.pid} on this host`))
    expect((await h.stop()).status).toBe('stopped')
    expect(existsSync(join(dir, 'sluice.lock'))).toBe(false)
    // Refused, the pipeline has not run and may run now.
    expect((await second.run({ checkpoints: { dir, intervalMs: 20 } }).done).status).toBe('finished')
  }, 60_000)
})

