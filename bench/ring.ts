/**
 * Throughput of the cross-thread transport (runtime/channels/sab-ring.ts) between two worker
 * threads: `node bin/run-ts.js bench/ring.ts [seconds-per-case]`.
 *
 * Cases:
 *   - payloads of 8 KiB and 64 KiB (a batch of 1024 records × 8 or 64 bytes), and 256 B to show
 *     the fixed cost per message (records/s there is not meaningful); the consumer only
 *     checks the sequence number ("transport"), or also reads every payload byte as Float64
 *     ("touch", what a columnar decoder at least does);
 *   - a deliberately slow consumer (1 ms per message): the producer, which allocates a fresh
 *     payload per message as an encoder would, is held by backpressure and its memory stays flat.
 *
 * This file is its own worker entry (startTsWorker imports it again; isMainThread tells apart).
 */
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads'
import { getHeapStatistics } from 'node:v8'
import { RingKind, SabRing } from '../src/runtime/exchange/ring/sab-ring.ts'
import { startTsWorker } from '../src/runtime/exchange/ring/ts-worker.ts'

const RECORDS_PER_MESSAGE = 1024

interface CaseData {
  role: 'producer' | 'consumer'
  buffer: SharedArrayBuffer
  payloadBytes: number
  warmup: number
  messages: number
  /** Consumer: read every payload byte. */
  touch: boolean
  /** Consumer: ms to spend per message (0: none). */
  slowMs: number
  /** Producer: allocate a fresh payload per message. */
  allocate: boolean
}

interface ProducerResult { waits: number; waitMs: number; heapSamplesMB: number[] }
interface ConsumerResult { seconds: number; waits: number; maxBytesInUse: number; checksum: number; errors: number }

async function runProducer(d: CaseData): Promise<ProducerResult> {
  const ring = SabRing.attach(d.buffer)
  const reused = new Uint8Array(d.payloadBytes).fill(7)
  const total = d.warmup + d.messages
  const result: ProducerResult = { waits: 0, waitMs: 0, heapSamplesMB: [] }
  const sampleEvery = Math.max(1, Math.floor(total / 20))
  for (let i = 0; i < total; i++) {
    const payload = d.allocate ? new Uint8Array(d.payloadBytes).fill(i & 0xff) : reused
    new DataView(payload.buffer).setUint32(0, i, true)
    while (!ring.tryWriteData(payload, RECORDS_PER_MESSAGE)) {
      result.waits++
      const t0 = performance.now()
      await ring.waitForSpace()
      result.waitMs += performance.now() - t0
    }
    if (i % sampleEvery === 0) result.heapSamplesMB.push(getHeapStatistics().used_heap_size / 2 ** 20)
  }
  while (!ring.tryWriteEnd()) await ring.waitForSpace()
  return result
}

function busyMs(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* a consumer that is slow on purpose */ }
}

async function runConsumer(d: CaseData): Promise<ConsumerResult> {
  const ring = SabRing.attach(d.buffer)
  const result: ConsumerResult = { seconds: 0, waits: 0, maxBytesInUse: 0, checksum: 0, errors: 0 }
  let expected = 0
  let t0 = performance.now()
  for (;;) {
    const m = ring.tryRead()
    if (m === null) {
      result.waits++
      await ring.waitForData()
      continue
    }
    if (m.kind === RingKind.END) break
    const p = m.payload
    const seq = p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)
    if (seq !== expected) result.errors++
    expected++
    if (d.touch) {
      // Payload views are 8-byte aligned, so a decoder can view columns in place.
      const f = new Float64Array(p.buffer, p.byteOffset, p.byteLength >> 3)
      let s = 0
      for (let i = 0; i < f.length; i++) s += f[i]
      result.checksum += s
    }
    if (d.slowMs > 0) {
      busyMs(d.slowMs)
      if (ring.bytesInUse > result.maxBytesInUse) result.maxBytesInUse = ring.bytesInUse
    }
    if (expected === d.warmup) t0 = performance.now()
  }
  result.seconds = (performance.now() - t0) / 1000
  return result
}

if (!isMainThread) {
  const d = workerData as CaseData
  const result = d.role === 'producer' ? await runProducer(d) : await runConsumer(d)
  parentPort!.postMessage(result)
} else {
  await main()
}

function resultOf<T>(w: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
    w.once('exit', (code) => reject(new Error(`worker exited (${code})`)))
  })
}

async function runCase(base: Omit<CaseData, 'role' | 'buffer'>, ring: SabRing): Promise<[ProducerResult, ConsumerResult]> {
  const url = new URL(import.meta.url)
  const consumer = startTsWorker(url, { workerData: { ...base, role: 'consumer', buffer: ring.buffer } })
  const producer = startTsWorker(url, { workerData: { ...base, role: 'producer', buffer: ring.buffer } })
  try {
    return await Promise.all([resultOf<ProducerResult>(producer), resultOf<ConsumerResult>(consumer)])
  } finally {
    await Promise.all([producer.terminate(), consumer.terminate()])
  }
}

async function main(): Promise<void> {
  const secondsPerCase = Number(process.argv[2] ?? 2)
  const rows: Record<string, string | number>[] = []
  for (const payloadBytes of [256, 8 << 10, 64 << 10]) {
    for (const touch of [false, true]) {
      // About secondsPerCase at ~4 GB/s or ~1.5 M messages/s, whichever is fewer messages.
      const messages = Math.max(2000, Math.round(secondsPerCase * Math.min(4e9 / payloadBytes, 1.5e6)))
      const ring = SabRing.create({ capacityBytes: 1 << 20, capacityRecords: 1 << 30, maxMessageBytes: 64 << 10 })
      const [p, c] = await runCase({ payloadBytes, warmup: Math.round(messages / 5), messages, touch, slowMs: 0, allocate: false }, ring)
      if (c.errors !== 0) throw new Error(`${c.errors} messages out of order`)
      const mbps = (messages * payloadBytes) / 2 ** 20 / c.seconds
      rows.push({
        case: `${payloadBytes >= 1024 ? `${payloadBytes >> 10} KiB` : `${payloadBytes} B`} ${touch ? 'touch' : 'transport'}`,
        'MB/s': Math.round(mbps),
        'messages/s': Math.round(messages / c.seconds),
        'M records/s (1024/msg)': +((messages * RECORDS_PER_MESSAGE) / c.seconds / 1e6).toFixed(1),
        'producer waits': p.waits,
        'consumer waits': c.waits,
      })
    }
  }
  console.table(rows)

  // Slow consumer: 1 ms per 64 KiB message; the producer allocates a payload per message.
  const ring = SabRing.create({ capacityBytes: 1 << 20, capacityRecords: 1 << 30, maxMessageBytes: 64 << 10 })
  const messages = Math.max(500, secondsPerCase * 1000)
  const t0 = performance.now()
  const [p, c] = await runCase({ payloadBytes: 64 << 10, warmup: 0, messages, touch: false, slowMs: 1, allocate: true }, ring)
  const seconds = (performance.now() - t0) / 1000
  const heap = p.heapSamplesMB
  console.log(`slow consumer (1 ms per 64 KiB message, ${messages} messages, ${seconds.toFixed(1)} s, ring budget 1 MiB):`)
  console.log(`  producer waited ${p.waits} times, ${(p.waitMs / 1000).toFixed(1)} s of ${seconds.toFixed(1)} s (backpressured)`)
  console.log(`  ring bytes in use peaked at ${(c.maxBytesInUse / 2 ** 20).toFixed(2)} MiB`)
  console.log(`  producer heap used (MB) over the run: ${heap.map((x) => x.toFixed(1)).join(' ')}`)
  console.log(`  ${messages} × 64 KiB = ${((messages * (64 << 10)) / 2 ** 20).toFixed(0)} MiB sent; max RSS of the process ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`)
}
