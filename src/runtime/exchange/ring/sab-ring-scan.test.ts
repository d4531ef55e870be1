import { describe, expect, it } from 'vitest'
import { RingKind, SabRing } from './sab-ring.ts'
import { HEADER_BYTES } from './sab-ring-layout.ts'
import { bytesOf } from './sab-ring-test-support.ts'

/** Every message left, as [kind, first payload byte or value], reading and releasing each. */
function drain(ring: SabRing): unknown[] {
  const got: unknown[] = []
  for (let m = ring.tryRead(); m !== null; m = ring.tryRead()) {
    got.push(m.kind === RingKind.DATA ? ['data', m.payload[0]] : m.kind === RingKind.BARRIER ? ['barrier', m.watermark] : m.kind === RingKind.END ? ['end'] : ['wm', m.watermark])
  }
  ring.release()
  return got
}

/** What scan visits, as drain shows it, stopping at the first barrier when `stop`. */
function scanned(ring: SabRing, stop = false): unknown[] {
  const seen: unknown[] = []
  ring.scan((m) => {
    seen.push(m.kind === RingKind.DATA ? ['data', m.payload[0]] : m.kind === RingKind.BARRIER ? ['barrier', m.watermark] : ['wm', m.watermark])
    return !(stop && m.kind === RingKind.BARRIER)
  })
  return seen
}

describe('SabRing: looking through the queue (scan, skipFrame, waitForWrite)', () => {
  it('scan visits unread messages without taking them; a skipped barrier is passed over by tryRead and its space freed', () => {
    const ring = SabRing.create({ capacityBytes: 4096, capacityRecords: 1000 })
    ring.tryWriteData(bytesOf(8, 1), 2)
    ring.tryWriteWatermark(5)
    ring.tryWriteData(bytesOf(8, 2), 3)
    ring.tryWriteBarrier(7)
    ring.tryWriteData(bytesOf(8, 3), 1)
    ring.tryWriteBarrier(8)
    const first = ring.tryRead()
    expect(first?.kind).toBe(RingKind.DATA)
    // The message held is not visited again; scan stops where visit says.
    expect(scanned(ring, true)).toEqual([['wm', 5], ['data', 2], ['barrier', 7]])
    expect(scanned(ring)).toEqual([['wm', 5], ['data', 2], ['barrier', 7], ['data', 3], ['barrier', 8]])
    let at = -1
    ring.scan((m, offset) => {
      if (m.kind === RingKind.BARRIER) at = offset
      return m.kind !== RingKind.BARRIER
    })
    ring.skipFrame(at)
    expect(scanned(ring)).toEqual([['wm', 5], ['data', 2], ['data', 3], ['barrier', 8]])
    expect(drain(ring)).toEqual([['wm', 5], ['data', 2], ['data', 3], ['barrier', 8]])
    expect([ring.bytesInUse, ring.recordsInUse, ring.messagesInUse]).toEqual([0, 0, 0])
  })

  it('scans across the end of the region, and a skipped barrier there is passed over', () => {
    const ring = SabRing.create({ capacityBytes: 256, capacityRecords: 1000, maxMessageBytes: 64 })
    // 48-byte data frames and a 16-byte barrier: 112 bytes a round, which the region does not divide.
    let written = 0
    for (let round = 0; round < 40; round++) {
      ring.tryWriteData(bytesOf(48 - HEADER_BYTES, round), 1)
      expect(ring.tryWriteBarrier(round)).toBe(true)
      ring.tryWriteData(bytesOf(48 - HEADER_BYTES, 100 + round), 1)
      let at = -1
      ring.scan((m, offset) => (m.kind === RingKind.BARRIER ? ((at = offset), false) : true))
      ring.skipFrame(at)
      expect(drain(ring)).toEqual([['data', round], ['data', 100 + round]])
      written += 48 + HEADER_BYTES + 48
    }
    expect([ring.bytesInUse, ring.messagesInUse]).toEqual([0, 0])
    expect(written).toBeGreaterThan(ring.regionBytes * 4) // round the region several times, at shifting offsets
  })

  it('a barrier is admitted by the byte budget alone, and so is data written overRecordsBudget; other writes keep to both budgets', () => {
    const ring = SabRing.create({ capacityBytes: 4096, capacityRecords: 10 })
    expect(ring.tryWriteData(bytesOf(8, 1), 10)).toBe(true)
    expect(ring.full).toBe(true)
    expect(ring.tryWriteData(bytesOf(8, 2), 3)).toBe(false)
    expect(ring.tryWriteData(bytesOf(8, 2), 3, true)).toBe(true)
    expect(ring.recordsInUse).toBe(13)
    expect(ring.tryWriteWatermark(1)).toBe(false)
    expect(ring.tryWriteBarrier(4)).toBe(true)
    expect(ring.tryWriteData(bytesOf(4050, 3), 0, true)).toBe(false) // 64 bytes in use + a 4 072-byte frame > 4 096: the bytes still bound it
    expect(drain(ring)).toEqual([['data', 1], ['data', 2], ['barrier', 4]])
  })

  it('waitForWrite settles at once the first time, then only when the producer writes again, though messages are queued', async () => {
    const ring = SabRing.create({ capacityBytes: 4096, capacityRecords: 1000 })
    ring.tryWriteData(bytesOf(8, 1), 1)
    await ring.waitForWrite(10_000)
    let settled = false
    const p = ring.waitForWrite(10_000).then(() => {
      settled = true
    })
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    expect(settled).toBe(false)
    ring.tryWriteBarrier(3)
    await p
    expect(settled).toBe(true)
    // Unlike waitForData, which settles at once while anything is queued.
    await ring.waitForData(10_000)
  })
})
