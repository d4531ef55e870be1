import { describe, expect, it } from 'vitest'
import type { Worker } from 'node:worker_threads'
import { RingKind, SabRing, type RingMessage } from './sab-ring.ts'
import {
  CONTROL_BYTES, HEADER_BYTES, W_CONSUMER_WAITING, W_DATA_SEQ, W_PRODUCER_WAITING, W_SPACE_SEQ, frameBytes,
} from './sab-ring-layout.ts'
import { startTsWorker } from './ts-worker.ts'
import {
  TrafficPlan, checkMessage, consume, fillPayload, prng, produce, writePlanned,
  type ConsumerReport, type ProducerReport,
} from './sab-ring-test-support.ts'
import type { RingWorkerData } from './sab-ring-test-worker.ts'

function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (seed + i * 13) & 0xff
  return b
}

function read(ring: SabRing): RingMessage {
  const m = ring.tryRead()
  if (m === null) throw new Error('expected a message')
  return m
}

/** Moves both indices forward by `offset` bytes (a multiple of 8, not 8) on an empty ring. */
function advanceTo(ring: SabRing, offset: number): void {
  const maxChunk = HEADER_BYTES + (ring.maxMessageBytes & ~7)
  for (let left = offset; left > 0;) {
    let chunk = Math.min(left, maxChunk)
    if (left - chunk === 8) chunk -= 16 // leave ≥ 16: no frame is 8 bytes
    expect(ring.tryWriteData(new Uint8Array(chunk - HEADER_BYTES), 0)).toBe(true)
    read(ring)
    ring.release()
    left -= chunk
  }
}

describe('SabRing on one thread', () => {
  it('delivers mixed kinds in FIFO order', () => {
    const ring = SabRing.create({ capacityBytes: 4096, capacityRecords: 1000 })
    expect(ring.isEmpty).toBe(true)
    expect(ring.tryRead()).toBeNull()
    expect(ring.tryWriteData(bytesOf(5, 1), 3)).toBe(true)
    expect(ring.tryWriteWatermark(1234.5)).toBe(true)
    expect(ring.tryWriteIdle(true)).toBe(true)
    expect(ring.tryWriteData(bytesOf(0, 2), 0)).toBe(true)
    expect(ring.tryWriteWatermark(Number.NEGATIVE_INFINITY)).toBe(true)
    expect(ring.tryWriteIdle(false)).toBe(true)
    expect(ring.tryWriteData(bytesOf(100, 3), 7)).toBe(true)
    expect(ring.tryWriteWatermark(Number.POSITIVE_INFINITY)).toBe(true)
    expect(ring.tryWriteEnd()).toBe(true)
    expect(ring.messagesInUse).toBe(9)
    expect(ring.recordsInUse).toBe(10)

    const got: unknown[] = []
    for (let m = ring.tryRead(); m !== null; m = ring.tryRead()) {
      got.push(m.kind === RingKind.DATA ? ['data', Array.from(m.payload), m.records]
        : m.kind === RingKind.WATERMARK ? ['wm', m.watermark]
          : m.kind === RingKind.IDLE ? ['idle', m.idle] : ['end'])
    }
    expect(got).toEqual([
      ['data', Array.from(bytesOf(5, 1)), 3], ['wm', 1234.5], ['idle', true], ['data', [], 0],
      ['wm', Number.NEGATIVE_INFINITY], ['idle', false], ['data', Array.from(bytesOf(100, 3)), 7],
      ['wm', Number.POSITIVE_INFINITY], ['end'],
    ])
    expect(ring.isEmpty).toBe(true)
    expect([ring.bytesInUse, ring.recordsInUse, ring.messagesInUse]).toEqual([0, 0, 0])
  })

  it('bounds bytes exactly: frames of header + payload rounded to 8 fill the budget to the byte', () => {
    const ring = SabRing.create({ capacityBytes: 1024, capacityRecords: 1_000_000 })
    const payload = bytesOf(41, 0) // frame 16 + 48 = 64
    expect(frameBytes(41)).toBe(64)
    for (let i = 0; i < 16; i++) expect(ring.tryWriteData(payload, 1)).toBe(true)
    expect(ring.bytesInUse).toBe(1024)
    expect(ring.full).toBe(true)
    expect(ring.tryWriteData(payload, 1)).toBe(false)
    expect(ring.tryWriteWatermark(1)).toBe(false) // even a 16-byte control frame is over budget
    read(ring)
    expect(ring.bytesInUse).toBe(1024) // a read message holds its space until released
    expect(ring.tryWriteData(payload, 1)).toBe(false)
    ring.release()
    expect(ring.bytesInUse).toBe(960)
    expect(ring.full).toBe(false)
    expect(ring.tryWriteData(bytesOf(48 - 7, 0), 1)).toBe(true) // exactly the 64 freed
    expect(ring.tryWriteWatermark(2)).toBe(false)
  })

  it('bounds records exactly; control items and empty batches pass when only records are full', () => {
    const ring = SabRing.create({ capacityBytes: 1 << 16, capacityRecords: 100 })
    expect(ring.tryWriteData(bytesOf(8, 0), 30)).toBe(true)
    expect(ring.tryWriteData(bytesOf(8, 0), 30)).toBe(true)
    expect(ring.tryWriteData(bytesOf(8, 0), 40)).toBe(true)
    expect(ring.recordsInUse).toBe(100)
    expect(ring.full).toBe(true)
    expect(ring.tryWriteData(bytesOf(8, 0), 1)).toBe(false)
    expect(ring.tryWriteWatermark(5)).toBe(true)
    expect(ring.tryWriteData(bytesOf(8, 0), 0)).toBe(true)
    read(ring)
    ring.release()
    expect(ring.tryWriteData(bytesOf(8, 0), 31)).toBe(false)
    expect(ring.tryWriteData(bytesOf(8, 0), 30)).toBe(true)
  })

  it('admits a message above either budget only into an empty ring; above maxMessageBytes it throws', () => {
    const ring = SabRing.create({ capacityBytes: 256, capacityRecords: 10, maxMessageBytes: 2000 })
    const big = bytesOf(2000, 9)
    expect(ring.tryWriteData(big, 50)).toBe(true) // empty: admitted although 2016 > 256 and 50 > 10
    expect(ring.usage).toBeGreaterThan(1)
    expect(ring.tryWriteWatermark(1)).toBe(false) // nothing joins it
    expect(Array.from(read(ring).payload)).toEqual(Array.from(big))
    expect(ring.tryWriteWatermark(1)).toBe(false) // still held
    ring.release()
    expect(ring.tryWriteData(bytesOf(8, 0), 11)).toBe(true) // records over budget, ring empty
    expect(ring.tryWriteData(bytesOf(8, 0), 1)).toBe(false)
    expect(() => ring.tryWriteData(new Uint8Array(2001), 1)).toThrow(expect.objectContaining({ code: 'INTERNAL' }))
    expect(() => ring.tryWriteData(new Uint8Array(2001), 1)).toThrow(/maxMessageBytes/)
  })

  it('delivers a message of exactly the capacity from every reachable offset', () => {
    const capacityBytes = 512
    const payloadBytes = capacityBytes - HEADER_BYTES // frame == capacity
    const region = SabRing.create({ capacityBytes, capacityRecords: 10 }).regionBytes
    for (let offset = 0; offset < region; offset += 8) {
      if (offset === 8) continue // no frame is 8 bytes, so no message ends at offset 8
      const ring = SabRing.create({ capacityBytes, capacityRecords: 10 })
      advanceTo(ring, offset)
      const payload = bytesOf(payloadBytes, offset)
      expect(ring.tryWriteData(payload, 10)).toBe(true)
      expect(ring.bytesInUse).toBe(capacityBytes)
      expect(ring.tryWriteWatermark(0)).toBe(false)
      const m = read(ring)
      expect(m.records).toBe(10)
      expect(m.payload).toEqual(payload)
      ring.release()
      expect(ring.isEmpty).toBe(true)
    }
  })

  it('wraps at every offset: behind a resident message, each size either fits by budget or is refused', () => {
    const capacityBytes = 384
    const maxMessageBytes = 200
    const region = SabRing.create({ capacityBytes, capacityRecords: 1000, maxMessageBytes }).regionBytes
    const residentFrame = 48
    for (let offset = 0; offset < region; offset += 8) {
      if (offset === 8) continue
      for (let size = 0; size <= maxMessageBytes; size += 8) {
        const ring = SabRing.create({ capacityBytes, capacityRecords: 1000, maxMessageBytes })
        advanceTo(ring, offset)
        expect(ring.tryWriteData(bytesOf(residentFrame - HEADER_BYTES, 1), 1)).toBe(true)
        const admitted = ring.tryWriteData(bytesOf(size, size), 2)
        expect(admitted).toBe(residentFrame + frameBytes(size) <= capacityBytes)
        expect(read(ring).records).toBe(1)
        if (admitted) expect(read(ring).payload).toEqual(bytesOf(size, size))
        expect(ring.tryRead()).toBeNull()
        expect(ring.bytesInUse).toBe(0)
      }
    }
  })

  for (const config of [
    { capacityBytes: 256, capacityRecords: 300, maxMessageBytes: 200 },
    { capacityBytes: 1000, capacityRecords: 150, maxMessageBytes: 3000 },
    { capacityBytes: 4096, capacityRecords: 1 << 20, maxMessageBytes: undefined },
  ]) {
    it(`agrees with a model queue over 200 000 random operations (${JSON.stringify(config)})`, () => {
      const ring = SabRing.create(config)
      const maxSize = config.maxMessageBytes ?? config.capacityBytes
      const rand = prng(42 + config.capacityBytes)
      const plan = new TrafficPlan(7 + config.capacityBytes, maxSize)
      const scratch = new Uint8Array(maxSize)
      const queue: { frame: number; records: number; seq: number }[] = []
      const expected = new TrafficPlan(7 + config.capacityBytes, maxSize)
      let bytes = 0
      let records = 0
      let held: { frame: number; records: number } | null = null
      let pending = plan.next(0)
      let sent = 0
      let received = 0
      // Plain checks in the loop (expect() per operation would dominate the run time).
      const fail = (what: string, op: number): never => { throw new Error(`op ${op}: ${what}`) }
      for (let op = 0; op < 200_000; op++) {
        if (rand() < 0.52) {
          const frame = pending.kind === RingKind.DATA ? frameBytes(pending.size) : HEADER_BYTES
          const admit = queue.length === 0 && held === null
            ? true
            : bytes + frame <= config.capacityBytes && records + pending.records <= config.capacityRecords
          if (writePlanned(ring, pending, sent, scratch) !== admit) fail(`write of a ${frame}-byte frame: expected admitted=${admit}`, op)
          if (admit) {
            queue.push({ frame, records: pending.records, seq: sent })
            bytes += frame
            records += pending.records
            pending = plan.next(++sent)
          }
        } else {
          if (held !== null && rand() < 0.5) {
            ring.release()
            bytes -= held.frame
            records -= held.records
            held = null
          }
          const m = ring.tryRead() // releases the held one, if any
          if (held !== null) {
            bytes -= held.frame
            records -= held.records
            held = null
          }
          if (queue.length === 0) {
            if (m !== null) fail('read a message from an empty ring', op)
            continue
          }
          const e = queue.shift()!
          if (m === null) fail(`no message, expected number ${e.seq}`, op)
          const err = checkMessage(m!, expected.next(received), received)
          if (err !== null) fail(err, op)
          received++
          held = { frame: e.frame, records: e.records }
        }
        if (ring.bytesInUse !== bytes || ring.recordsInUse !== records) {
          fail(`in use ${ring.bytesInUse} bytes / ${ring.recordsInUse} records, model ${bytes} / ${records}`, op)
        }
      }
      expect(received).toBeGreaterThan(30_000)
    })
  }

  it('ends: END follows the data, later writes throw, the reader sees END last', () => {
    const ring = SabRing.create({ capacityBytes: 1024, capacityRecords: 100 })
    expect(ring.tryWriteData(bytesOf(10, 0), 2)).toBe(true)
    expect(ring.tryWriteEnd()).toBe(true)
    expect(() => ring.tryWriteWatermark(1)).toThrow(expect.objectContaining({ code: 'INTERNAL' }))
    expect(read(ring).kind).toBe(RingKind.DATA)
    expect(read(ring).kind).toBe(RingKind.END)
    expect(ring.tryRead()).toBeNull()
  })

  it('keeps a payload view intact until release, then lets the producer reuse the space', () => {
    const ring = SabRing.create({ capacityBytes: 64, capacityRecords: 100, maxMessageBytes: 48 })
    advanceTo(ring, ring.regionBytes - 64) // the next two 64-byte frames land at the end, then at 0
    const a = bytesOf(48, 1)
    expect(ring.tryWriteData(a, 1)).toBe(true)
    const m = read(ring)
    expect(ring.tryWriteData(bytesOf(48, 2), 1)).toBe(false) // over budget while held
    expect(m.payload).toEqual(a)
    ring.release()
    expect(ring.tryWriteData(bytesOf(48, 2), 1)).toBe(true)
    expect(read(ring).payload).toEqual(bytesOf(48, 2))
  })

  it('waitForData resolves on a write; waitForSpace resolves once the blocked message fits', async () => {
    const ring = SabRing.create({ capacityBytes: 256, capacityRecords: 100 })
    let dataReady = false
    const waitingForData = ring.waitForData(5_000).then(() => { dataReady = true })
    await new Promise((resolve) => setImmediate(resolve))
    expect(dataReady).toBe(false)
    expect(ring.tryWriteData(bytesOf(100, 0), 1)).toBe(true) // frame 120
    await waitingForData
    expect(dataReady).toBe(true)

    expect(ring.tryWriteData(bytesOf(64, 0), 1)).toBe(true) // frame 80, 200 in use
    expect(ring.tryWriteData(bytesOf(100, 0), 1)).toBe(false) // needs 120
    const waitingForSpace = ring.waitForSpace(5_000)
    read(ring)
    read(ring) // releases the first (120): 80 in use, 200 would be ok
    await waitingForSpace
    expect(ring.tryWriteData(bytesOf(100, 0), 1)).toBe(true)
  })

  it('a producer waiting for space is not woken until its message fits (one notify per wait)', async () => {
    const ring = SabRing.create({ capacityBytes: 256, capacityRecords: 100 })
    const ctrl = new Int32Array(ring.buffer, 0, CONTROL_BYTES >> 2)
    for (let i = 0; i < 8; i++) expect(ring.tryWriteData(bytesOf(16, 0), 1)).toBe(true) // 8 × 32 = 256
    expect(ring.tryWriteData(bytesOf(100, 0), 1)).toBe(false) // needs 120
    const seq = ctrl[W_SPACE_SEQ]
    const waiting = ring.waitForSpace(5_000)
    expect(ctrl[W_PRODUCER_WAITING]).toBe(120)
    for (let i = 0; i < 3; i++) read(ring)
    ring.release() // 96 free: not enough
    expect(ctrl[W_SPACE_SEQ]).toBe(seq)
    expect(ctrl[W_PRODUCER_WAITING]).toBe(120)
    read(ring)
    ring.release() // 128 free
    expect(ctrl[W_SPACE_SEQ]).toBe(seq + 1)
    expect(ctrl[W_PRODUCER_WAITING]).toBe(0) // cleared by the waker: later releases notify nobody
    read(ring)
    ring.release()
    expect(ctrl[W_SPACE_SEQ]).toBe(seq + 1)
    await waiting
    expect(ring.tryWriteData(bytesOf(100, 0), 1)).toBe(true)
  })

  it('a producer held by a slow consumer wakes once a quarter of the budget is free, not per message', async () => {
    const ring = SabRing.create({ capacityBytes: 1024, capacityRecords: 1000 })
    const ctrl = new Int32Array(ring.buffer, 0, CONTROL_BYTES >> 2)
    for (let i = 0; i < 16; i++) expect(ring.tryWriteData(bytesOf(48, 0), 1)).toBe(true) // 16 × 64
    expect(ring.tryWriteData(bytesOf(48, 0), 1)).toBe(false)
    const seq = ctrl[W_SPACE_SEQ]
    const waiting = ring.waitForSpace(5_000)
    for (let i = 0; i < 3; i++) { read(ring); ring.release() } // 192 free: the message fits, no wake yet
    expect(ctrl[W_SPACE_SEQ]).toBe(seq)
    read(ring)
    ring.release() // 256 free = a quarter
    expect(ctrl[W_SPACE_SEQ]).toBe(seq + 1)
    await waiting
    for (let i = 0; i < 4; i++) expect(ring.tryWriteData(bytesOf(48, 0), 1)).toBe(true)
  })

  it('a consumer waiting for data is notified once, not per message', async () => {
    const ring = SabRing.create({ capacityBytes: 4096, capacityRecords: 100 })
    const ctrl = new Int32Array(ring.buffer, 0, CONTROL_BYTES >> 2)
    const seq = ctrl[W_DATA_SEQ]
    const waiting = ring.waitForData(5_000)
    expect(ctrl[W_CONSUMER_WAITING]).toBe(1)
    for (let i = 0; i < 5; i++) expect(ring.tryWriteWatermark(i)).toBe(true)
    expect(ctrl[W_DATA_SEQ]).toBe(seq + 1)
    await waiting
    for (let i = 0; i < 5; i++) expect(read(ring).watermark).toBe(i)
  })

  it('waits time out without data, and closing either side wakes the other', async () => {
    const ring = SabRing.create({ capacityBytes: 64, capacityRecords: 10 })
    const t0 = performance.now()
    await ring.waitForData(20)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15)

    const consumerWait = ring.waitForData()
    ring.closeProducer()
    await consumerWait
    expect(ring.producerClosed).toBe(true)

    const ring2 = SabRing.create({ capacityBytes: 64, capacityRecords: 10, maxMessageBytes: 48 })
    expect(ring2.tryWriteData(bytesOf(48, 0), 1)).toBe(true)
    expect(ring2.tryWriteData(bytesOf(48, 0), 1)).toBe(false)
    const producerWait = ring2.waitForSpace()
    SabRing.attach(ring2.buffer).closeConsumer()
    await producerWait
    expect(ring2.consumerClosed).toBe(true)
    expect(() => ring2.tryWriteData(bytesOf(8, 0), 1)).toThrow(expect.objectContaining({ code: 'JOB_CANCELLED' }))
  })

  it('rejects bad options with PIPELINE_OPTION_INVALID and foreign buffers on attach', () => {
    expect(() => SabRing.create({ capacityBytes: 8, capacityRecords: 1 })).toThrow(expect.objectContaining({ code: 'PIPELINE_OPTION_INVALID' }))
    expect(() => SabRing.create({ capacityBytes: 1024, capacityRecords: 0 })).toThrow(expect.objectContaining({ code: 'PIPELINE_OPTION_INVALID' }))
    expect(() => SabRing.attach(new SharedArrayBuffer(1024))).toThrow(expect.objectContaining({ code: 'INTERNAL' }))
  })
})

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
