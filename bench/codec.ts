/**
 * Batch codec throughput: `node bin/run-ts.js bench/codec.ts [--records N] [--runs N]`.
 *
 * Encodes and decodes batches of 1024 records, in-memory (no ring, one thread), and prints
 * records/s and MB/s (of encoded bytes) for each direction. Cases:
 *   numeric          schema'd { a, b, c, d: number }
 *   bids columnar    schema'd Nexmark bids (4 numbers, 3 strings), from the seeded generator
 *   bids generic     the same bids through the generic codec (flat records of one shape: its
 *                    columnar path with the schema inferred and sent inline)
 *   bids msgpackr    the same bids through the generic codec's msgpackr path (inference off)
 *   events generic   Nexmark events ({ event_type, person, auction, bid }): nested, so msgpackr
 * Each figure is the median of `runs` timed passes over all batches, after a full warm-up pass.
 */
import { ColumnarCodec } from '../src/runtime/exchange/codec/columnar.ts'
import { GenericCodec } from '../src/runtime/exchange/codec/generic.ts'
import { recordSchema } from '../src/graph/schema.ts'
import type { BatchCodec } from '../src/runtime/exchange/codec/batch-codec.ts'
import { NexmarkGenerator } from '../src/nexmark/generator.ts'
import type { Bid, NexmarkEvent } from '../src/nexmark/model.ts'
import type { Batch } from '../src/operators/types.ts'

const BATCH = 1024

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const TOTAL = arg('--records', 1024 * 256)
const RUNS = arg('--runs', 5)

interface Numeric { a: number; b: number; c: number; d: number }

function numericBatches(): Batch<Numeric>[] {
  const out: Batch<Numeric>[] = []
  let x = 1
  for (let done = 0; done < TOTAL; done += BATCH) {
    const records: Numeric[] = []
    const times: number[] = []
    for (let i = 0; i < BATCH; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      records.push({ a: x, b: x * 0.5, c: done + i, d: (x % 1000) / 7 })
      times.push(1_767_225_600_000 + done + i)
    }
    out.push({ records, times })
  }
  return out
}

function nexmarkEvents(): NexmarkEvent[] {
  const g = new NexmarkGenerator({ seed: 0 }, 0, Infinity)
  const events: NexmarkEvent[] = []
  const buf: NexmarkEvent[] = []
  while (events.length < TOTAL) {
    buf.length = 0
    const got = g.next(buf, BATCH)
    for (let i = 0; i < got && events.length < TOTAL; i++) events.push(buf[i])
  }
  return events
}

function bidBatches(): Batch<Bid>[] {
  const g = new NexmarkGenerator({ seed: 1 }, 0, Infinity)
  const bids: Bid[] = []
  const buf: NexmarkEvent[] = []
  while (bids.length < TOTAL) {
    buf.length = 0
    const got = g.next(buf, BATCH)
    for (let i = 0; i < got && bids.length < TOTAL; i++) if (buf[i].bid !== null) bids.push(buf[i].bid as Bid)
  }
  return chunk(bids, (b) => b.dateTime)
}

function eventBatches(events: NexmarkEvent[]): Batch<NexmarkEvent>[] {
  return chunk(events, (e) => (e.bid ?? e.auction ?? e.person as { dateTime: number }).dateTime)
}

function chunk<T>(records: T[], time: (r: T) => number): Batch<T>[] {
  const out: Batch<T>[] = []
  for (let i = 0; i < records.length; i += BATCH) {
    const part = records.slice(i, i + BATCH)
    out.push({ records: part, times: part.map(time) })
  }
  return out
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]
}

interface Figures { case: string; bytesPerRecord: number; encodeRps: number; encodeMBps: number; decodeRps: number; decodeMBps: number }

function measure<T>(name: string, codec: BatchCodec<T>, batches: Batch<T>[]): Figures {
  let records = 0
  let bytes = 0
  const encoded: Uint8Array[] = []
  for (const b of batches) {
    const e = codec.encode(b)
    records += b.records.length
    bytes += e.byteLength
    encoded.push(e.slice())
  }
  let sink = 0
  const encodePass = (): number => {
    const t0 = performance.now()
    for (let i = 0; i < batches.length; i++) sink += codec.encode(batches[i]).byteLength
    return (performance.now() - t0) / 1000
  }
  const decodePass = (): number => {
    const t0 = performance.now()
    for (let i = 0; i < encoded.length; i++) sink += codec.decode(encoded[i]).records.length
    return (performance.now() - t0) / 1000
  }
  encodePass()
  decodePass()
  const enc: number[] = []
  const dec: number[] = []
  for (let r = 0; r < RUNS; r++) {
    enc.push(encodePass())
    dec.push(decodePass())
  }
  if (sink === 0) throw new Error('nothing measured')
  const e = median(enc)
  const d = median(dec)
  return {
    case: name,
    bytesPerRecord: Math.round((bytes / records) * 10) / 10,
    encodeRps: records / e,
    encodeMBps: bytes / e / 1e6,
    decodeRps: records / d,
    decodeMBps: bytes / d / 1e6,
  }
}

const numericSchema = recordSchema({ a: 'number', b: 'number', c: 'number', d: 'number' })
const bidSchema = recordSchema({
  auction: 'number', bidder: 'number', price: 'number', channel: 'string', url: 'string', dateTime: 'number', extra: 'string',
})

const events = nexmarkEvents()
const bids = bidBatches()
const results: Figures[] = [
  measure('numeric columnar', new ColumnarCodec<Numeric>(numericSchema), numericBatches()),
  measure('bids columnar', new ColumnarCodec<Bid>(bidSchema), bids),
  measure('bids generic', new GenericCodec<Bid>(), bids),
  measure('bids msgpackr', new GenericCodec<Bid>({ inferFlatRecords: false }), bids),
  measure('events generic', new GenericCodec<NexmarkEvent>(), eventBatches(events)),
]

const m = (x: number): string => `${(x / 1e6).toFixed(2)} M/s`
console.log(`batches of ${BATCH}, ${TOTAL} records per pass, median of ${RUNS} passes`)
console.log('case               B/rec   encode rec/s   encode MB/s   decode rec/s   decode MB/s')
for (const r of results) {
  console.log(`${r.case.padEnd(18)} ${String(r.bytesPerRecord).padStart(6)} ${m(r.encodeRps).padStart(14)} ${r.encodeMBps.toFixed(0).padStart(13)} ${m(r.decodeRps).padStart(14)} ${r.decodeMBps.toFixed(0).padStart(13)}`)
}
if (process.argv.includes('--json')) console.log(JSON.stringify(results))
