/**
 * A stalled service holds memory bounded (issue 14: "backpressure with a stalled service"). An
 * endless, fast source feeds an asynchronous operator whose calls never answer (or, ordered, whose
 * first call never answers while the others do). Once the source's output channel is full, the
 * operator holds at most concurrency records (batched: (concurrency + 1) × maxBatch) plus HEADROOM, taking from an input batch only what it has room for; the source reads no
 * more, and the heap does not grow over further rounds of waiting. Nothing here measures time:
 * each wait is for a state of the job (`until`), and the rounds are counted in event-loop turns.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { Pipeline, type JobHandle, type JobMetrics } from '../src/index.ts'
import { generatorSource } from '../src/connectors/generator-source.ts'
import type { Stream } from '../src/api/stream.ts'
import type { CallContext } from '../src/operators/async/options.ts'
import { memorySink, until } from '../src/testing/index.ts'
import { stalledKeyedPipeline } from './fixtures/async-stall-job.ts'
import { HEADROOM } from '../src/operators/async/options.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const CHANNEL = 1024
const SOURCE_BATCH = 64
const ROUNDS = 3
/** Event-loop turns (1 ms timers) per round: the job's loop runs many times in each. */
const TURNS_PER_ROUND = 100
/** Heap growth allowed over the rounds, after a full GC (the records themselves are ~8 B each). */
const HEAP_SLACK = 8 * 2 ** 20

/** A service that never answers; it counts its calls and the signals aborted since. */
class StalledService {
  calls = 0
  aborted = 0
  readonly fn = (_v: unknown, call: CallContext): Promise<never> => {
    this.calls++
    call.signal.addEventListener('abort', () => this.aborted++, { once: true })
    return new Promise<never>(() => {})
  }
}

interface Probe {
  read: number
  held: number
  inFlight: number
  calls: number
  sourceQueue: number
}

function probe(m: JobMetrics): Probe {
  const call = m.operators.find((o) => o.operator === 'call')?.calls
  const source = m.tasks.find((t) => t.operators.includes('numbers'))
  return {
    read: m.operators.filter((o) => o.operator === 'numbers').reduce((n, o) => n + o.recordsOut, 0),
    held: call?.held ?? -1,
    inFlight: call?.inFlight ?? -1,
    calls: call?.calls ?? -1,
    sourceQueue: source?.outputQueueUsage ?? 0,
  }
}

function heapAfterGc(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 1))
}

/**
 * Runs numbers → `attach` (the operator under test, id 'call') → memory sink until the source's
 * channel is full with `inFlight` calls in flight; checks the bound, then the rounds.
 */
async function stalled<O>(name: string, attach: (s: Stream<number>) => Stream<O>, bound: { held: number; inFlight: number }): Promise<{ job: JobHandle; at: Probe; out: O[] }> {
  const sink = memorySink<O>()
  const p = new Pipeline(name)
  attach(p.source('numbers', generatorSource((n) => n), { batchSize: SOURCE_BATCH })).to('out', sink)
  const job = p.run({ channelCapacity: CHANNEL })
  // Full and settled: two probes a turn apart agree (the job's loop runs between them).
  let at = probe(job.metrics())
  await until(() => {
    const now = probe(job.metrics())
    const settled = now.read === at.read && now.held === at.held && now.calls === at.calls
    at = now
    return settled && at.sourceQueue >= 1 && at.inFlight === bound.inFlight
  })
  // The operator took what it may hold and no more; the channel holds the rest, at most one batch
  // over its capacity, and at most one batch more was read and not yet sent.
  // It takes only what it has room for: an input batch is split (held was up to one batch over).
  expect(at.held).toBe(bound.held + HEADROOM)
  expect(at.read).toBeLessThanOrEqual(at.held + CHANNEL + 2 * SOURCE_BATCH)
  const heap0 = heapAfterGc()
  for (let round = 1; round <= ROUNDS; round++) {
    await turns(TURNS_PER_ROUND)
    const now = probe(job.metrics())
    expect({ round, read: now.read, held: now.held, inFlight: now.inFlight, calls: now.calls }).toEqual({ round, read: at.read, held: at.held, inFlight: at.inFlight, calls: at.calls })
    expect(now.sourceQueue).toBeGreaterThanOrEqual(1)
  }
  expect(heapAfterGc() - heap0).toBeLessThan(HEAP_SLACK)
  return { job, at, out: sink.records }
}

describe('a stalled service', () => {
  it('mapAsync: at most concurrency records held (plus HEADROOM), the source backpressured, the heap flat; stop aborts the calls', async () => {
    const service = new StalledService()
    const c = 8
    const { job, at, out } = await stalled('stall-map', (s) => s.mapAsync('call', service.fn, { concurrency: c, timeoutMs: 0 }), { held: c, inFlight: c })
    expect(at.calls).toBe(c)
    expect(service.calls).toBe(c)
    expect(out).toEqual([])
    await job.stop()
    expect(service.aborted).toBe(c)
  })

  it('mapAsyncBatch: at most (concurrency + 1) × maxBatch records held (one batch fills while every slot is busy) plus HEADROOM, the source backpressured, the heap flat', async () => {
    const service = new StalledService()
    const c = 3
    const maxBatch = 10
    const { job, at } = await stalled('stall-batch', (s) => s.mapAsyncBatch('call', (vs: number[], call) => service.fn(vs, call), { concurrency: c, maxBatch, maxWaitMs: 5, timeoutMs: 0 }), { held: (c + 1) * maxBatch, inFlight: c })
    expect(at.calls).toBe(c)
    await job.stop()
    expect(service.aborted).toBe(c)
  })

  it('ordered mapAsync: a first call that never answers holds back the rest, and what waits for its turn stays bounded', async () => {
    const c = 16
    let calls = 0
    const answered: number[] = []
    const fn = (v: number): Promise<number> => {
      calls++
      if (v === 0) return new Promise<number>(() => {})
      answered.push(v)
      return Promise.resolve(v)
    }
    const { job, at, out } = await stalled('stall-ordered', (s) => s.mapAsync('call', fn, { concurrency: c, ordered: true, timeoutMs: 0 }), { held: c, inFlight: 1 })
    // Record 0 blocks the head: nothing leaves, the completed records wait for their turn.
    expect(out).toEqual([])
    expect(at.held).toBeGreaterThanOrEqual(c)
    expect(calls).toBe(at.calls)
    expect(answered.length).toBe(calls - 1)
    await job.stop()
  })

  it('on worker threads, a full async head fed through a ring does not spin its thread while it waits', async () => {
    // Before the fix the scheduler took the batch waiting in the ring for work it could do, and
    // went round through setImmediate without end: one core per stalled worker.
    const job = stalledKeyedPipeline().run({ parallelism: 2, workers: 2 })
    try {
      const inFlight = (): number => job.metrics().operators.filter((o) => o.operator === 'call').reduce((n, o) => n + (o.calls?.inFlight ?? 0), 0)
      await until(() => inFlight() === 8, 60_000)
      const cpu = (): number[] => (job.metrics().threads ?? []).filter((t) => t.worker !== undefined).map((t) => t.cpuMs ?? 0)
      // Workers post their metrics every 500 ms: compare two posts a few apart.
      const before = cpu()
      const t0 = performance.now()
      await until(() => performance.now() - t0 > 1500 && cpu().every((c, i) => c !== before[i]), 60_000)
      const spent = cpu().map((c, i) => c - before[i])
      const elapsed = performance.now() - t0
      expect(spent).toHaveLength(2)
      // A spinning worker burns most of the elapsed time; a waiting one almost none.
      for (const ms of spent) expect(ms / elapsed).toBeLessThan(0.5)
    } finally {
      job.stop()
      await job.done.catch(() => {})
    }
  })
})
