// Bids per auction in 10-second windows, from a JSON Lines file, printed as JSON Lines.
import { Pipeline, boundedOutOfOrderness, count, tumbling } from 'sluice'
import { fileSource, stdoutSink } from 'sluice/connectors'

interface Bid { auction: number; price: number; dateTime: number }

export const pipeline = new Pipeline('bids-per-auction')
pipeline
  .source('bids', fileSource<Bid>('examples/bids.jsonl'), {
    watermarks: boundedOutOfOrderness({ timestamp: (b: Bid) => b.dateTime, maxOutOfOrdernessMs: 1000 }),
    onError: 'skip',
  })
  .filter('valid', (b) => b.price > 0)
  .keyBy((b) => b.auction)
  .window(tumbling(10_000))
  .aggregate('bids-per-auction', count(), (auction, w, bids) => ({ auction, windowStart: w.start, bids }))
  .to('print', stdoutSink())
