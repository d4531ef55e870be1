import { describe, expect, it } from 'vitest'
import { SabRing } from './sab-ring.ts'
import { CONTROL_BYTES, W_CONSUMER_WAITING, W_DATA_SEQ, W_PRODUCER_WAITING, W_SPACE_SEQ } from './sab-ring-layout.ts'
import { bytesOf, read } from './sab-ring-test-support.ts'

describe('SabRing on one thread: waiting and waking', () => {
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
})
