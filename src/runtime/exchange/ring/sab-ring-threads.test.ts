import { describe, expect, it } from 'vitest'
import type { Worker } from 'node:worker_threads'
import { RingKind, SabRing } from './sab-ring.ts'
import { startTsWorker } from './ts-worker.ts'
import { checkMessage, consume, fillPayload, produce, read, type ConsumerReport, type ProducerReport } from './sab-ring-test-support.ts'
import type { RingWorkerData } from './sab-ring-test-worker.ts'


/**
 * The worker's one report. `failed` rejects as soon as the worker errors or exits without a report
 * (race it against this thread's side so a dead worker fails the test at once); `report` also
 * rejects after `timeoutMs`.
 */
function reportOf<T>(worker: Worker, timeoutMs: number): { report: Promise<T>; failed: Promise<never> } {
  let fail: (e: Error) => void = () => {}
  const failed = new Promise<never>((_, reject) => { fail = reject })
  failed.catch(() => {})
  const report = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker gave no report within ${timeoutMs} ms`)), timeoutMs)
    worker.once('message', (m: T) => { clearTimeout(timer); resolve(m) })
    worker.once('error', (e) => { clearTimeout(timer); reject(e); fail(e) })
    worker.once('exit', (code) => {
      clearTimeout(timer)
      const e = new Error(`worker exited (${code}) before reporting`)
      reject(e)
      fail(e)
    })
  })
  report.catch(() => {})
  return { report, failed }
}

function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result within ${timeoutMs} ms`)), timeoutMs) })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

// Workers are TypeScript modules started through startTsWorker (tsx registered inside the
// worker); see ts-worker.ts for why the plain URL and --import tsx do not work on Node 20.
describe('SabRing across two threads', () => {
  const workerUrl = new URL('./sab-ring-test-worker.ts', import.meta.url)
  const WAIT_MS = 10_000
  const TEST_MS = 50_000

  it('worker produces, main consumes slowly: nothing lost or reordered, the producer waits instead of spinning', async () => {
    const ring = SabRing.create({ capacityBytes: 64 << 10, capacityRecords: 2_000, maxMessageBytes: 16 << 10 })
    const data: RingWorkerData = { role: 'producer', buffer: ring.buffer, seed: 11, maxSize: 16 << 10, count: 20_000, slowEvery: 0, stallEvery: 0, waitTimeoutMs: WAIT_MS }
    const worker = startTsWorker(workerUrl, { workerData: data })
    try {
      const run = reportOf<ProducerReport>(worker, TEST_MS)
      const consuming = consume(ring, 11, 16 << 10, 1, WAIT_MS, 500, 20_000 - 500)
      const consumed: ConsumerReport = await withTimeout(Promise.race([consuming, run.failed]), TEST_MS, 'consumer')
      const p = await run.report
      expect(consumed.errors).toEqual([])
      expect(consumed.received).toBe(20_001)
      expect(p.sent).toBe(20_001)
      expect(p.refused).toBeGreaterThanOrEqual(38) // at least once per stall of the consumer
      expect(p.refusedAfterWake).toBe(0) // woken only when its message fits: never a wasted retry
      expect(consumed.maxBytesInUse).toBeLessThanOrEqual(64 << 10)
      expect(consumed.maxRecordsInUse).toBeLessThanOrEqual(2_000)
    } finally {
      await worker.terminate()
    }
  }, TEST_MS + 5_000)

  it('main produces, worker consumes slowly: the producer awaits space without blocking its event loop', async () => {
    const ring = SabRing.create({ capacityBytes: 32 << 10, capacityRecords: 1_000, maxMessageBytes: 8 << 10 })
    const data: RingWorkerData = { role: 'consumer', buffer: ring.buffer, seed: 12, maxSize: 8 << 10, count: 20_000, slowEvery: 1, stallEvery: 500, waitTimeoutMs: WAIT_MS }
    const worker = startTsWorker(workerUrl, { workerData: data })
    try {
      const run = reportOf<ConsumerReport>(worker, TEST_MS)
      let ticks = 0
      const ticker = setInterval(() => { ticks++ }, 1)
      const produced = await withTimeout(Promise.race([produce(ring, 12, 8 << 10, 20_000, WAIT_MS), run.failed]), TEST_MS, 'producer')
        .finally(() => clearInterval(ticker))
      const c = await run.report
      expect(c.errors).toEqual([])
      expect(c.received).toBe(20_001)
      expect(produced.refused).toBeGreaterThanOrEqual(38)
      expect(produced.refusedAfterWake).toBe(0)
      expect(produced.maxBytesInUse).toBeLessThanOrEqual(32 << 10)
      expect(ticks).toBeGreaterThan(0) // timers ran while the producer was waiting
    } finally {
      await worker.terminate()
    }
  }, TEST_MS + 5_000)

  it('full speed both ways: a fast producer and a fast consumer agree on 100 000 messages', async () => {
    const ring = SabRing.create({ capacityBytes: 256 << 10, capacityRecords: 100_000, maxMessageBytes: 4 << 10 })
    const data: RingWorkerData = { role: 'producer', buffer: ring.buffer, seed: 13, maxSize: 4 << 10, count: 100_000, slowEvery: 0, stallEvery: 0, waitTimeoutMs: WAIT_MS }
    const worker = startTsWorker(workerUrl, { workerData: data })
    try {
      const run = reportOf<ProducerReport>(worker, TEST_MS)
      const consumed = await withTimeout(Promise.race([consume(ring, 13, 4 << 10, 0, WAIT_MS), run.failed]), TEST_MS, 'consumer')
      expect(consumed.errors).toEqual([])
      expect(consumed.received).toBe(100_001)
      expect((await run.report).sent).toBe(100_001)
    } finally {
      await worker.terminate()
    }
  }, TEST_MS + 5_000)

  it('a worker that fails to load reports an error instead of hanging', async () => {
    const worker = startTsWorker(new URL('../../channels/no-such-module.ts', import.meta.url))
    await expect(reportOf(worker, 20_000).report).rejects.toThrow(/no-such-module|Cannot find/)
    await worker.terminate()
  })
})

it('fillPayload and checkMessage catch a changed byte (the checksum is live)', () => {
  const ring = SabRing.create({ capacityBytes: 1024, capacityRecords: 100 })
  const b = new Uint8Array(64)
  fillPayload(b, 3)
  b[40] ^= 1
  ring.tryWriteData(b, 1)
  const m = read(ring)
  expect(checkMessage(m, { kind: RingKind.DATA, size: 64, records: 1, watermark: Number.NaN, idle: false }, 3)).toMatch(/checksum/)
})
