/**
 * One side of the exchange benchmark, run on a worker thread: the producer encodes batches and
 * writes them into the ring; the consumer reads, decodes and checks the record count.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { SabRing } from '../src/runtime/exchange/ring/sab-ring.ts'
import { RingKind } from '../src/runtime/exchange/ring/sab-ring.ts'
import { ColumnarCodec, GenericCodec, recordSchema } from '../src/runtime/exchange/codec/index.ts'
import type { Batch } from '../src/operators/types.ts'

interface Args {
  role: 'producer' | 'consumer'
  ring: SharedArrayBuffer
  codec: 'schema' | 'generic'
  kind: 'numeric' | 'bids'
  batches: number
}

const a = workerData as Args
const ring = SabRing.attach(a.ring)
const numeric = recordSchema({ a: 'number', b: 'number', c: 'number', d: 'number' })
const bidSchema = recordSchema({ auction: 'number', bidder: 'number', price: 'number', dateTime: 'number', channel: 'string', url: 'string', extra: 'string' })
const codec = a.codec === 'generic' ? new GenericCodec<unknown>() : new ColumnarCodec<unknown>((a.kind === 'numeric' ? numeric : bidSchema) as never)

function makeBatch(n: number, seed: number): Batch<unknown> {
  const records: unknown[] = []
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const x = seed * n + i
    records.push(a.kind === 'numeric' ? { a: x, b: x * 2, c: x / 3, d: -x } : { auction: 1000 + (x % 500), bidder: 2000 + (x % 9000), price: 100 + (x % 100_000), dateTime: 1_767_225_600_000 + x, channel: ['Google', 'Apple', 'Baidu'][x % 3], url: `https://www.nexmark.com/abc/def/${x % 1000}/item.htm?query=1`, extra: 'x'.repeat(40 + (x % 20)) })
    times.push(1_767_225_600_000 + x)
  }
  return { records, times }
}

async function produce(): Promise<void> {
  // A few distinct batches, encoded every time: encoding is part of what is measured.
  const batches = [0, 1, 2, 3].map((s) => makeBatch(1024, s))
  for (let i = 0; i < a.batches; i++) {
    const bytes = codec.encode(batches[i & 3])
    while (!ring.tryWriteData(bytes, 1024)) await ring.waitForSpace(100)
  }
  while (!ring.tryWriteEnd()) await ring.waitForSpace(100)
}

async function consume(): Promise<void> {
  let records = 0
  let t0 = 0
  for (;;) {
    const m = ring.tryRead()
    if (m === null) {
      await ring.waitForData(100)
      continue
    }
    if (t0 === 0) t0 = performance.now()
    if (m.kind === RingKind.END) break
    records += codec.decode(m.payload).records.length
  }
  parentPort?.postMessage({ records, seconds: (performance.now() - t0) / 1000 })
}

await (a.role === 'producer' ? produce() : consume())
parentPort?.postMessage({ done: true })
