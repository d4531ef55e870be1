/**
 * Node.js object-mode stream baselines, written the way a Node user would: Readable.from(array)
 * → Transform(s) → Writable, joined by `stream/promises` pipeline, with every stream at its
 * default highWaterMark (16 objects in object mode) — the configuration users actually get.
 */
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isExpensive, toEuro, type BenchBid, type Q1Record, type Result, type RollingCountRecord } from './workload.ts'

/** An object-mode Writable that folds `count` and `checksum += value(record)` into `result`. */
function resultSink<T>(result: Result, value: (record: T) => number): Writable {
  return new Writable({
    objectMode: true,
    write(record: T, _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
      result.count++
      result.checksum += value(record)
      callback()
    },
  })
}

/** q1-like: Readable.from(bids) → Transform(map toEuro) → Transform(filter price > 10 000) → Writable. */
export async function nodeStreamsQ1Like(bids: readonly BenchBid[]): Promise<Result> {
  const result: Result = { count: 0, checksum: 0 }
  await pipeline(
    Readable.from(bids),
    new Transform({
      objectMode: true,
      transform(bid: BenchBid, _encoding: BufferEncoding, callback: TransformCallback) {
        callback(null, toEuro(bid))
      },
    }),
    new Transform({
      objectMode: true,
      transform(record: Q1Record, _encoding: BufferEncoding, callback: TransformCallback) {
        if (isExpensive(record)) callback(null, record)
        else callback()
      },
    }),
    resultSink<Q1Record>(result, (r) => r.auction + r.price),
  )
  return result
}

/** Keyed rolling count: Readable.from(bids) → Transform holding a Map<bidder, count> → Writable. */
export async function nodeStreamsRollingCount(bids: readonly BenchBid[]): Promise<Result> {
  const result: Result = { count: 0, checksum: 0 }
  const counts = new Map<number, number>()
  await pipeline(
    Readable.from(bids),
    new Transform({
      objectMode: true,
      transform(bid: BenchBid, _encoding: BufferEncoding, callback: TransformCallback) {
        const count = (counts.get(bid.bidder) ?? 0) + 1
        counts.set(bid.bidder, count)
        const out: RollingCountRecord = { bidder: bid.bidder, count }
        callback(null, out)
      },
    }),
    resultSink<RollingCountRecord>(result, (r) => r.count),
  )
  return result
}
