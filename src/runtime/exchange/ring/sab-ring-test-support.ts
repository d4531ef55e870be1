/**
 * Deterministic traffic for SabRing tests, shared by the test file and its worker: both sides
 * regenerate the same message stream from a seed, so the consumer checks every byte without the
 * producer sending its expectations along.
 */
import { RingKind, type RingMessage, type SabRing } from './sab-ring.ts'
import { CONTROL_BYTES, W_PRODUCER_WAITING } from './sab-ring-layout.ts'
import { seededFloats } from '../../../testing/random.ts'

/** A small seeded PRNG, returns [0, 1). */
export const prng = seededFloats

/** One planned message: DATA (payload of `size` bytes, seq and checksum inside), or a control item. */
export interface PlannedMessage {
  kind: RingKind
  size: number
  records: number
  watermark: number
  idle: boolean
}

/** The i-th message of a seeded stream: mostly DATA of random size in [8, maxSize], some control items. */
export class TrafficPlan {
  private readonly rand: () => number
  constructor(seed: number, private readonly maxSize: number) {
    this.rand = prng(seed)
  }

  next(i: number): PlannedMessage {
    const x = this.rand()
    if (x < 0.05) return { kind: RingKind.WATERMARK, size: 0, records: 0, watermark: i * 1000 + 0.5, idle: false }
    if (x < 0.07) return { kind: RingKind.IDLE, size: 0, records: 0, watermark: Number.NaN, idle: (i & 1) === 0 }
    // Sizes skewed small, with a tail up to maxSize, so wraps happen at many offsets.
    const y = this.rand()
    const size = 8 + Math.floor((y * y * y) * (this.maxSize - 7))
    return { kind: RingKind.DATA, size: Math.min(size, this.maxSize), records: Math.floor(this.rand() * 100), watermark: Number.NaN, idle: false }
  }
}

/** Fills a payload: bytes 0..3 = seq, 4..7 = FNV-1a of bytes 8.., the rest derived from seq. */
export function fillPayload(buf: Uint8Array, seq: number): void {
  for (let i = 8; i < buf.length; i++) buf[i] = (seq * 31 + i * 7) & 0xff
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  v.setUint32(0, seq, true)
  v.setUint32(4, fnv1a(buf, 8), true)
}

export function fnv1a(buf: Uint8Array, from: number): number {
  let h = 0x811c9dc5
  for (let i = from; i < buf.length; i++) h = Math.imul(h ^ buf[i], 0x01000193)
  return h >>> 0
}

/** Null when `m` is exactly the planned message number `seq`, else what differs. */
export function checkMessage(m: RingMessage, plan: PlannedMessage, seq: number): string | null {
  if (m.kind !== plan.kind) return `message ${seq}: kind ${m.kind}, expected ${plan.kind}`
  if (plan.kind === RingKind.WATERMARK) return m.watermark === plan.watermark ? null : `message ${seq}: watermark ${m.watermark}`
  if (plan.kind === RingKind.IDLE) return m.idle === plan.idle ? null : `message ${seq}: idle ${m.idle}`
  if (plan.kind !== RingKind.DATA) return null
  if (m.payload.byteOffset % 8 !== 0) return `message ${seq}: payload view not 8-byte aligned`
  if (m.payload.length !== plan.size) return `message ${seq}: ${m.payload.length} bytes, expected ${plan.size}`
  if (m.records !== plan.records) return `message ${seq}: ${m.records} records, expected ${plan.records}`
  const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)
  if (v.getUint32(0, true) !== seq) return `message ${seq}: carries seq ${v.getUint32(0, true)} (reordered or lost)`
  if (v.getUint32(4, true) !== fnv1a(m.payload, 8)) return `message ${seq}: checksum mismatch`
  return null
}

/** Writes planned message `p` (number `seq`); false when the ring has no room now. */
export function writePlanned(ring: SabRing, p: PlannedMessage, seq: number, scratch: Uint8Array): boolean {
  switch (p.kind) {
    case RingKind.DATA: {
      const payload = scratch.subarray(0, p.size)
      fillPayload(payload, seq)
      return ring.tryWriteData(payload, p.records)
    }
    case RingKind.WATERMARK:
      return ring.tryWriteWatermark(p.watermark)
    case RingKind.IDLE:
      return ring.tryWriteIdle(p.idle)
    default:
      return ring.tryWriteEnd()
  }
}

export interface ProducerReport {
  sent: number
  /** Writes that failed (each followed by one waitForSpace). */
  refused: number
  /** Writes that failed right after a waitForSpace resolved: a spinning producer would show many. */
  refusedAfterWake: number
  maxBytesInUse: number
}

/**
 * Sends `count` planned messages then END, awaiting space whenever the ring is full.
 * `waitTimeoutMs` bounds each wait so a lost wake-up fails the test instead of hanging it.
 */
export async function produce(ring: SabRing, seed: number, maxSize: number, count: number, waitTimeoutMs: number): Promise<ProducerReport> {
  const plan = new TrafficPlan(seed, maxSize)
  const scratch = new Uint8Array(maxSize)
  const report: ProducerReport = { sent: 0, refused: 0, refusedAfterWake: 0, maxBytesInUse: 0 }
  for (let i = 0; i <= count; i++) {
    const p: PlannedMessage = i < count ? plan.next(i) : { kind: RingKind.END, size: 0, records: 0, watermark: Number.NaN, idle: false }
    let woke = false
    while (!writePlanned(ring, p, i, scratch)) {
      report.refused++
      if (woke) report.refusedAfterWake++
      const t0 = performance.now()
      await ring.waitForSpace(waitTimeoutMs)
      if (performance.now() - t0 >= waitTimeoutMs) throw new Error(`producer: no space for ${waitTimeoutMs} ms at message ${i} (lost wake-up?)`)
      woke = true
    }
    report.sent++
    if (ring.bytesInUse > report.maxBytesInUse) report.maxBytesInUse = ring.bytesInUse
  }
  return report
}

export interface ConsumerReport {
  received: number
  dataMessages: number
  records: number
  errors: string[]
  maxBytesInUse: number
  maxRecordsInUse: number
}

/** True while the producer is parked in waitForSpace (white-box: reads the waiter word). */
function producerWaiting(ring: SabRing): boolean {
  return Atomics.load(new Int32Array(ring.buffer, 0, CONTROL_BYTES >> 2), W_PRODUCER_WAITING) !== 0
}

/**
 * Reads until END, checking every message against the plan. `slowEvery` > 0 yields to the event
 * loop (setImmediate) after that many messages. `stallEvery` > 0 stops reading after that many
 * messages (while fewer than `stallBefore` were read: the producer must still have messages to
 * send) until the producer is parked on a full ring, so backpressure happens for certain,
 * whatever the machine's scheduling.
 */
export async function consume(ring: SabRing, seed: number, maxSize: number, slowEvery: number, waitTimeoutMs: number, stallEvery = 0, stallBefore = 0): Promise<ConsumerReport> {
  const plan = new TrafficPlan(seed, maxSize)
  const report: ConsumerReport = { received: 0, dataMessages: 0, records: 0, errors: [], maxBytesInUse: 0, maxRecordsInUse: 0 }
  for (let seq = 0; ; ) {
    if (ring.bytesInUse > report.maxBytesInUse) report.maxBytesInUse = ring.bytesInUse
    if (ring.recordsInUse > report.maxRecordsInUse) report.maxRecordsInUse = ring.recordsInUse
    const m = ring.tryRead()
    if (m === null) {
      const t0 = performance.now()
      await ring.waitForData(waitTimeoutMs)
      if (performance.now() - t0 >= waitTimeoutMs) throw new Error(`consumer: no data for ${waitTimeoutMs} ms after message ${seq} (lost wake-up?)`)
      continue
    }
    report.received++
    if (m.kind === RingKind.END) break
    const err = checkMessage(m, plan.next(seq), seq)
    if (err !== null && report.errors.length < 10) report.errors.push(err)
    if (m.kind === RingKind.DATA) {
      report.dataMessages++
      report.records += m.records
    }
    seq++
    if (stallEvery > 0 && seq % stallEvery === 0 && seq < stallBefore) {
      ring.release()
      const deadline = performance.now() + waitTimeoutMs
      while (!producerWaiting(ring)) {
        if (performance.now() > deadline) throw new Error(`consumer: the producer never blocked after message ${seq}`)
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
    if (slowEvery > 0 && seq % slowEvery === 0) {
      ring.release()
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
  ring.release()
  return report
}

/** `n` bytes of a pattern that depends on `seed`. */
export function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (seed + i * 13) & 0xff
  return b
}

/** The next message, which the test expects to be there. */
export function read(ring: SabRing): RingMessage {
  const m = ring.tryRead()
  if (m === null) throw new Error('expected a message')
  return m
}
