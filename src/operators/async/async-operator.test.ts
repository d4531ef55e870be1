import { describe, expect, it } from 'vitest'
import { Pipeline } from '../../api/pipeline.ts'
import { fromArray } from '../../connectors/array-source.ts'
import { SluiceError } from '../../errors.ts'
import { ManualClock } from '../../time/clock.ts'
import { boundedOutOfOrderness } from '../../time/watermarks.ts'
import { manualSource } from '../../testing/manual-source.ts'
import { memorySink } from '../../testing/memory-sink.ts'
import { until } from '../../testing/until.ts'
import type { Batch, Operator, OperatorContext, Output } from '../types.ts'
import type { CallContext } from './options.ts'
import { failRecord } from './record-failure.ts'

/** A service the test answers by hand: each call waits until the test resolves or rejects it. */
class Service<I, O> {
  readonly calls: { input: I; call: CallContext; resolve: (v: O) => void; reject: (e: unknown) => void; aborted: () => boolean }[] = []
  inFlight = 0
  maxInFlight = 0

  readonly fn = (input: I, call: CallContext): Promise<O> =>
    new Promise<O>((resolve, reject) => {
      this.inFlight++
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
      const done = (): void => {
        this.inFlight--
      }
      this.calls.push({ input, call, resolve: (v) => (done(), resolve(v)), reject: (e) => (done(), reject(e)), aborted: () => call.signal.aborted })
    })

  /** The pending call whose input is `input`. */
  find(pred: (i: I) => boolean): Service<I, O>['calls'][number] {
    const c = this.calls.find((x) => pred(x.input))
    if (c === undefined) throw new Error('no such call')
    return c
  }
}

/** Records what reaches it: records and watermarks, in order. */
class Probe<T> implements Operator<T, T> {
  constructor(readonly log: (string | T)[]) {}
  processBatch(batch: Batch<T>, _ctx: OperatorContext, out: Output<T>): void {
    for (let i = 0; i < batch.records.length; i++) {
      this.log.push(batch.records[i])
      out.emit(batch.records[i], batch.times[i])
    }
  }
  onWatermark(wm: number): void {
    this.log.push(`wm:${wm}`)
  }
}

describe('mapAsync', () => {
  it('emits results in input order when ordered, though calls complete out of order', async () => {
    const svc = new Service<number, number>()
    const out = memorySink<number>()
    const p = new Pipeline('ordered')
    p.source('in', fromArray([1, 2, 3, 4])).mapAsync('call', svc.fn, { concurrency: 4 }).to('out', out)
    const job = p.run()
    await until(() => svc.calls.length === 4)
    for (const c of [...svc.calls].reverse()) c.resolve(c.input * 10)
    await job.done
    expect(out.records).toEqual([10, 20, 30, 40])
  })

  it('emits as calls complete when unordered', async () => {
    const svc = new Service<number, number>()
    const out = memorySink<number>()
    const p = new Pipeline('unordered')
    p.source('in', fromArray([1, 2, 3])).mapAsync('call', svc.fn, { concurrency: 3, ordered: false }).to('out', out)
    const job = p.run()
    await until(() => svc.calls.length === 3)
    svc.find((i) => i === 3).resolve(30)
    await until(() => out.records.length === 1)
    svc.find((i) => i === 1).resolve(10)
    await until(() => out.records.length === 2)
    svc.find((i) => i === 2).resolve(20)
    await job.done
    expect(out.records).toEqual([30, 10, 20])
  })

  it('keeps at most `concurrency` calls in flight and backpressures the input', async () => {
    const svc = new Service<number, number>()
    const out = memorySink<number>()
    const input = Array.from({ length: 5000 }, (_, i) => i)
    const p = new Pipeline('bounded')
    p.source('in', fromArray(input)).mapAsync('call', svc.fn, { concurrency: 8 }).to('out', out)
    const job = p.run()
    await until(() => svc.calls.length === 8)
    // Given time, no ninth call starts and the operator holds a bounded number of records.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1))
    expect(svc.calls.length).toBe(8)
    const held = job.metrics().operators.find((o) => o.operator === 'call')?.calls?.held ?? -1
    expect(held).toBeGreaterThanOrEqual(8)
    expect(held).toBeLessThanOrEqual(8 + 1024)
    let answered = 0
    while (answered < input.length) {
      await until(() => svc.calls.length > answered)
      const c = svc.calls[answered++]
      c.resolve(c.input + 1)
    }
    await job.done
    expect(svc.maxInFlight).toBe(8)
    expect(out.records).toEqual(input.map((i) => i + 1))
    const calls = (await job.done).metrics.operators.find((o) => o.operator === 'call')?.calls
    expect(calls?.calls).toBe(5000)
    expect(calls?.succeeded).toBe(5000)
    expect(calls?.inFlight).toBe(0)
  })

  it('a task whose calls fill every slot counts its time as waiting, not idle or busy, also during one long wait', async () => {
    const svc = new Service<number, number>()
    const p = new Pipeline('waiting')
    p.source('in', fromArray(Array.from({ length: 100 }, (_, i) => i))).mapAsync('call', svc.fn, { concurrency: 4, timeoutMs: 0 }).to('out', memorySink())
    const job = p.run()
    await until(() => svc.calls.length === 4)
    const task = (): { busyMs: number; waitingMs: number; idleMs: number } => job.metrics().tasks.find((t) => t.operators.includes('call')) as never
    const before = task()
    await until(() => task().waitingMs > before.waitingMs + 20)
    const after = task()
    expect(after.idleMs).toBe(before.idleMs)
    expect(after.busyMs).toBe(before.busyMs)
    job.stop()
    await job.done
  })

  it('unordered: no record passes a watermark it preceded', async () => {
    const svc = new Service<{ t: number }, { t: number }>()
    const log: (string | { t: number })[] = []
    const src = manualSource<{ t: number }>()
    const p = new Pipeline('wm')
    p.source('in', src, { watermarks: boundedOutOfOrderness({ timestamp: (r: { t: number }) => r.t, maxOutOfOrdernessMs: 0 }) })
      .mapAsync('call', svc.fn, { concurrency: 10, ordered: false })
      .transform('probe', () => new Probe<{ t: number }>(log))
      .to('out', memorySink())
    const job = p.run()
    src.push({ t: 10 }, { t: 20 })
    await until(() => svc.calls.length === 2)
    src.push({ t: 30 })
    await until(() => svc.calls.length === 3)
    // The watermark after t=20 (19) must wait for both earlier records; t=30's answer must wait for it.
    svc.find((r) => r.t === 30).resolve({ t: 30 })
    svc.find((r) => r.t === 20).resolve({ t: 20 })
    await until(() => log.includes(svc.calls[1].input) || log.some((x) => typeof x === 'object' && x.t === 20))
    expect(log.filter((x) => typeof x === 'object')).toEqual([{ t: 20 }])
    svc.find((r) => r.t === 10).resolve({ t: 10 })
    src.end()
    await job.done
    const records = log.filter((x) => typeof x === 'object').map((x) => (x as { t: number }).t)
    expect(records).toEqual([20, 10, 30])
    // Watermarks 19 and 29 were released together once t=10 left (the later one suffices): after every record.
    expect(log.slice(3)).toEqual(['wm:29', 'wm:Infinity'])
  })

  it('flatMapAsync emits every result of a call; a non-iterable result goes to onError', async () => {
    const out = memorySink<string>()
    const dead = memorySink<unknown>()
    const p = new Pipeline('flat', { deadLetter: dead })
    p.source('in', fromArray(['a b', 'bad', 'c']))
      .flatMapAsync<string>('split', async (s) => (s === 'bad' ? (42 as unknown as string[]) : s.split(' ')), { onError: 'dead-letter' })
      .to('out', out)
    await p.run().done
    expect(out.records).toEqual(['a', 'b', 'c'])
    expect(dead.records).toHaveLength(1)
    expect(JSON.stringify(dead.records[0])).toMatch(/array \(or other iterable\)/)
  })

  it('mapAsyncBatch calls with batches of at most maxBatch, one result per record', async () => {
    const sizes: number[] = []
    const out = memorySink<number>()
    const p = new Pipeline('batch')
    p.source('in', fromArray(Array.from({ length: 250 }, (_, i) => i)))
      .mapAsyncBatch('double', async (xs: number[]) => {
        sizes.push(xs.length)
        return xs.map((x) => x * 2)
      }, { maxBatch: 100, maxWaitMs: 0, concurrency: 2 })
      .to('out', out)
    const result = await p.run().done
    expect(out.records).toEqual(Array.from({ length: 250 }, (_, i) => i * 2))
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(250)
    const calls = result.metrics.operators.find((o) => o.operator === 'double')?.calls
    expect(calls?.calls).toBe(sizes.length)
    expect(calls?.callRecords).toBe(250)
  })

  it('mapAsyncBatch: a result array of the wrong length fails the job with ASYNC_CALL_FAILED naming the cause', async () => {
    const p = new Pipeline('short')
    p.source('in', fromArray([1, 2, 3])).mapAsyncBatch('short', async (xs: number[]) => xs.slice(1), { maxBatch: 3, maxWaitMs: 0 }).to('out', memorySink())
    const err = await p.run().done.then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(SluiceError)
    expect((err as SluiceError).code).toBe('ASYNC_CALL_FAILED')
    expect((err as Error).message).toMatch(/mapAsyncBatch "short".*input record #1.*array of 3 results.*an array of 2/)
  })

  it('mapAsyncBatch: failRecord in a result fails that record alone, without a retry; the batch\'s others are emitted in order', async () => {
    const calls: number[][] = []
    const out = memorySink<number>()
    const dead = memorySink<{ reason: string; record: unknown }>()
    const p = new Pipeline('fail-one', { deadLetter: dead as never })
    p.source('in', fromArray([1, 2, 3, 4, 5]))
      .mapAsyncBatch('check', async (xs: number[]) => {
        calls.push(xs)
        return xs.map((x) => (x % 2 === 0 ? failRecord(new Error(`${x} is even`)) : x * 10))
      }, { maxBatch: 5, maxWaitMs: 0, retry: { attempts: 3, backoffMs: 0 }, onError: 'dead-letter' })
      .to('out', out)
    const result = await p.run().done
    expect(out.records).toEqual([10, 30, 50])
    expect(calls).toEqual([[1, 2, 3, 4, 5]])
    expect(dead.records.map((d) => d.record)).toEqual([2, 4])
    expect(dead.records[0].reason).toBe('the call failed this record: 2 is even')
    const m = result.metrics.operators.find((o) => o.operator === 'check')?.calls
    expect([m?.succeeded, m?.failures, m?.retries]).toEqual([1, 2, 0])
  })

  it('mapAsync and flatMapAsync: a call that resolves with failRecord is not retried and goes to onError', async () => {
    let attempts = 0
    const out = memorySink<string>()
    const p = new Pipeline('fail-map')
    p.source('in', fromArray(['ok', 'bad']))
      .mapAsync('m', async (s: string) => (attempts++, s === 'bad' ? failRecord(new Error('refused')) : s), { retry: { attempts: 4, backoffMs: 0 }, onError: 'skip' })
      .flatMapAsync('f', async (s: string) => (s === 'ok' ? [s, s] : failRecord(new Error('never'))))
      .to('out', out)
    await p.run().done
    expect(out.records).toEqual(['ok', 'ok'])
    expect(attempts).toBe(2)
    const failing = new Pipeline('fail-fail')
    failing.source('in', fromArray([1])).flatMapAsync('f', async () => failRecord(new Error('record 1 is refused'))).to('out', memorySink())
    const err = await failing.run().done.then(() => null, (e: unknown) => e)
    expect((err as SluiceError).code).toBe('ASYNC_CALL_FAILED')
    expect((err as Error).message).toMatch(/the call failed this record: record 1 is refused/)
  })

  it('a batch that is not full closes after maxWaitMs on the job clock', async () => {
    const clock = new ManualClock(1000)
    const sizes: number[] = []
    const src = manualSource<number>()
    const out = memorySink<number>()
    const p = new Pipeline('wait')
    p.source('in', src).mapAsyncBatch('b', async (xs: number[]) => (sizes.push(xs.length), xs), { maxBatch: 10, maxWaitMs: 50 }).to('out', out)
    const job = p.run({ clock })
    src.push(1, 2, 3)
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1))
    expect(sizes).toEqual([])
    clock.advance(50)
    await until(() => out.records.length === 3)
    expect(sizes).toEqual([3])
    src.end()
    await job.done
  })
})

describe('mapAsync: timeouts, retries, errors', () => {
  it('aborts an attempt after timeoutMs on the job clock, retries it, and emits the retry\'s result', async () => {
    const clock = new ManualClock(0)
    const svc = new Service<number, number>()
    const out = memorySink<number>()
    const p = new Pipeline('timeout')
    p.source('in', fromArray([7])).mapAsync('call', svc.fn, { timeoutMs: 100, retry: { attempts: 2, backoffMs: 10, jitter: 0 } }).to('out', out)
    const job = p.run({ clock })
    await until(() => svc.calls.length === 1)
    clock.advance(100)
    await until(() => svc.calls[0].aborted())
    expect(svc.calls[0].call.signal.reason).toBeInstanceOf(SluiceError)
    expect((svc.calls[0].call.signal.reason as SluiceError).code).toBe('ASYNC_TIMEOUT')
    // The retry starts after its backoff (10 ms), not before.
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 1))
    expect(svc.calls).toHaveLength(1)
    clock.advance(10)
    await until(() => svc.calls.length === 2)
    expect(svc.calls[1].call.attempt).toBe(2)
    svc.calls[0].resolve(-1) // the timed-out attempt's late answer is ignored
    svc.calls[1].resolve(70)
    const result = await job.done
    expect(out.records).toEqual([70])
    const calls = result.metrics.operators.find((o) => o.operator === 'call')?.calls
    expect(calls).toMatchObject({ calls: 2, timeouts: 1, retries: 1, succeeded: 1, failures: 0 })
  })

  it('backs off exponentially between retries and gives up after the last attempt', async () => {
    const clock = new ManualClock(0)
    const starts: number[] = []
    const dead = memorySink<{ reason: string; record: unknown }>()
    const out = memorySink<number>()
    const p = new Pipeline('retry', { deadLetter: dead as never })
    p.source('in', fromArray([1, 2])).mapAsync('call', async (x: number) => {
      starts.push(clock.now())
      if (x === 1) throw new Error('service says no')
      return x
    }, { retry: { attempts: 3, backoffMs: 100, multiplier: 2, jitter: 0 }, onError: 'dead-letter' }).to('out', out)
    const job = p.run({ clock })
    await until(() => starts.length === 2)
    clock.advance(100)
    await until(() => starts.length === 3)
    clock.advance(199)
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 1))
    expect(starts).toHaveLength(3)
    clock.advance(1)
    await job.done
    expect(starts.filter((t) => t > 0)).toEqual([100, 300])
    expect(out.records).toEqual([2])
    expect(dead.records).toHaveLength(1)
    expect(dead.records[0].record).toBe(1)
    expect(dead.records[0].reason).toMatch(/call failed after 3 attempts: service says no/)
  })

  it('retryOn decides which failures are retried', async () => {
    let attempts = 0
    const p = new Pipeline('retry-on')
    p.source('in', fromArray([1])).mapAsync('call', async () => {
      attempts++
      throw new TypeError('bad request')
    }, { retry: { attempts: 5, backoffMs: 0, retryOn: (e) => !(e instanceof TypeError) } }).to('out', memorySink())
    const err = await p.run().done.then(() => null, (e: unknown) => e as SluiceError)
    expect(attempts).toBe(1)
    expect(err?.code).toBe('ASYNC_CALL_FAILED')
    expect(err?.message).toMatch(/mapAsync "call" call failed for input record #1: call failed: bad request|mapAsync "call" input record #1: call failed: bad request/)
  })

  it('skip counts the failed records and goes on', async () => {
    const out = memorySink<number>()
    const p = new Pipeline('skip')
    p.source('in', fromArray([1, 2, 3, 4])).mapAsync('call', async (x: number) => {
      if (x % 2 === 0) throw new Error('even')
      return x
    }, { onError: 'skip' }).to('out', out)
    const result = await p.run().done
    expect(out.records).toEqual([1, 3])
    const m = result.metrics.operators.find((o) => o.operator === 'call')
    expect(m?.skipped).toBe(2)
    expect(m?.calls?.failures).toBe(2)
  })

  it('options out of range are refused when the job is built', () => {
    const s = new Pipeline('bad').source('in', fromArray([1]))
    expect(() => s.mapAsync('a', async (x) => x, { concurrency: 0 })).toThrow(/ASYNC_OPTIONS_INVALID.*concurrency must be a whole number from 1 to 10000, got 0/)
    expect(() => s.mapAsync('b', async (x) => x, { timeoutMs: -1 })).toThrow(/timeoutMs must be a number from 0/)
    expect(() => s.mapAsync('c', async (x) => x, { retry: { jitter: 2 } })).toThrow(/retry.jitter must be a number from 0 to 1, got 2/)
    expect(() => s.mapAsyncBatch('d', async (x) => x, { maxBatch: 1.5 })).toThrow(/maxBatch must be a whole number/)
    expect(() => s.mapAsync('e', async (x) => x, { keyOrder: true } as never)).toThrow(/keyOrder .* needs a keyed stream/)
  })
})

describe('keyed mapAsync with keyOrder', () => {
  it('runs one call per key at a time, in input order, other keys concurrently', async () => {
    const svc = new Service<{ k: string; n: number }, string>()
    const out = memorySink<string>()
    const p = new Pipeline('key-order')
    p.source('in', fromArray([{ k: 'a', n: 1 }, { k: 'b', n: 1 }, { k: 'a', n: 2 }, { k: 'a', n: 3 }]))
      .keyBy((r) => r.k)
      .mapAsync('call', svc.fn, { keyOrder: true, ordered: false, concurrency: 10 })
      .to('out', out)
    const job = p.run()
    await until(() => svc.calls.length === 2)
    for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 1))
    expect(svc.calls.map((c) => `${c.input.k}${c.input.n}`).sort()).toEqual(['a1', 'b1'])
    svc.find((r) => r.k === 'a' && r.n === 1).resolve('a1')
    await until(() => svc.calls.length === 3)
    expect(svc.calls[2].input).toEqual({ k: 'a', n: 2 })
    svc.calls[2].resolve('a2')
    await until(() => svc.calls.length === 4)
    svc.calls[3].resolve('a3')
    svc.find((r) => r.k === 'b').resolve('b1')
    await job.done
    expect(out.records.filter((s) => s.startsWith('a'))).toEqual(['a1', 'a2', 'a3'])
  })
})
