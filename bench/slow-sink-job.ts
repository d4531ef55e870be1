/**
 * A job for the backpressure benchmark: an unbounded Nexmark source at full speed (~3 M
 * events/s per thread) into a sink that takes ~30 ms per batch (~35 K records/s), about 100×
 * slower, through a keyBy exchange between worker threads. Memory must stay flat.
 */
import { Pipeline } from '../src/index.ts'
import { nexmarkSource } from '../src/nexmark/source.ts'

export function slowSinkJob(parallelism: number, sinkDelayMs: number): Pipeline {
  const p = new Pipeline('slow-sink', { parallelism })
  p.module = { url: import.meta.url, exportName: 'slowSinkJob', args: [parallelism, sinkDelayMs] }
  p.source('nexmark', nexmarkSource())
    .filter('bids', (e) => e.event_type === 2)
    .map('bid', (e) => e.bid!)
    .keyBy((b) => b.auction)
    .reduce('max-price', (a, b) => (b.price > a.price ? b : a))
    .to('slow', {
      kind: 'slow',
      open: () => ({ write: () => new Promise<void>((r) => setTimeout(r, sinkDelayMs)) }),
    })
  return p
}
