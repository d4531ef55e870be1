/**
 * Cross-thread exchange end to end: a producer worker encodes batches of 1024 records into a
 * SharedArrayBuffer ring, a consumer worker decodes them. Records/s and MB/s for schema'd numeric
 * records, schema'd bids and the generic codec on bids. Run: node bin/run-ts.js bench/exchange.ts
 */
import { SabRing } from '../src/runtime/exchange/ring/sab-ring.ts'
import { startTsWorker } from '../src/runtime/exchange/ring/ts-worker.ts'

async function run(codec: 'schema' | 'generic', kind: 'numeric' | 'bids', batches: number): Promise<{ perSecond: number; mbps: number }> {
  const ring = SabRing.create({ capacityBytes: 4 * 1024 * 1024, capacityRecords: 16 * 1024 })
  const entry = new URL('./exchange-worker.ts', import.meta.url)
  const consumer = startTsWorker(entry, { workerData: { role: 'consumer', ring: ring.buffer, codec, kind, batches } })
  const producer = startTsWorker(entry, { workerData: { role: 'producer', ring: ring.buffer, codec, kind, batches } })
  const { records: received, seconds: s } = await new Promise<{ records: number; seconds: number }>((resolve, reject) => {
    consumer.on('message', (m: { records?: number; seconds?: number }) => {
      if (m.records !== undefined && m.seconds !== undefined) resolve({ records: m.records, seconds: m.seconds })
    })
    consumer.on('error', reject)
    producer.on('error', reject)
  })
  await Promise.all([producer.terminate(), consumer.terminate()])
  if (received !== batches * 1024) throw new Error(`received ${received} records, expected ${batches * 1024}`)
  const recordBytes = kind === 'numeric' ? 40 : 169
  return { perSecond: received / s, mbps: (received * recordBytes) / s / 1e6 }
}

console.log('case                      records/s     ~MB/s   (consumer side, first message to end; start-up excluded)')
for (const [codec, kind, batches] of [
  ['schema', 'numeric', 40_000],
  ['schema', 'bids', 4_000],
  ['generic', 'bids', 4_000],
] as const) {
  const r = await run(codec, kind, batches)
  console.log(`${`${codec} ${kind}`.padEnd(22)} ${`${(r.perSecond / 1e6).toFixed(2)} M/s`.padStart(12)} ${r.mbps.toFixed(0).padStart(9)}`)
}
