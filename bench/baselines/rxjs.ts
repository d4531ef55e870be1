/**
 * RxJS 7 baselines, written the way an RxJS user would: a cold `from(array)` source, standard
 * pipeable operators, and a subscriber that folds the output into a Result. `from(array)` emits
 * synchronously, so each run completes inside `subscribe`; the Promise is only the common API.
 */
import { from, groupBy, map, mergeMap, scan, filter, type Observable } from 'rxjs'
import { isExpensive, toEuro, type BenchBid, type Q1Record, type Result, type RollingCountRecord } from './workload.ts'

/** Subscribes and folds `count` and `checksum += value(record)` over every emitted record. */
function collect<T>(source: Observable<T>, value: (record: T) => number): Promise<Result> {
  return new Promise<Result>((resolve, reject) => {
    let count = 0
    let checksum = 0
    source.subscribe({
      next: (r) => {
        count++
        checksum += value(r)
      },
      error: reject,
      complete: () => resolve({ count, checksum }),
    })
  })
}

/** q1-like: from(bids).pipe(map(toEuro), filter(price > 10 000)). */
export function rxjsQ1Like(bids: readonly BenchBid[]): Promise<Result> {
  const out$ = from(bids).pipe(map(toEuro), filter(isExpensive))
  return collect<Q1Record>(out$, (r) => r.auction + r.price)
}

/**
 * Keyed rolling count, textbook RxJS: one inner stream per bidder (groupBy), each folded with
 * scan and tagged with its key, merged back together.
 */
export function rxjsRollingCountGroupBy(bids: readonly BenchBid[]): Promise<Result> {
  const out$ = from(bids).pipe(
    groupBy((b) => b.bidder),
    mergeMap((group$) =>
      group$.pipe(
        scan((n) => n + 1, 0),
        map((count): RollingCountRecord => ({ bidder: group$.key, count })),
      ),
    ),
  )
  return collect<RollingCountRecord>(out$, (r) => r.count)
}

interface CountState {
  counts: Map<number, number>
  last: RollingCountRecord
}

/**
 * Keyed rolling count, the way a performance-minded RxJS user writes it: one `scan` whose
 * accumulator holds a Map of per-key counts and the latest output record, then `map` to that
 * record. The seed (and so the Map) is built fresh on every call, and `out$` is subscribed once.
 */
export function rxjsRollingCountScan(bids: readonly BenchBid[]): Promise<Result> {
  const seed: CountState = { counts: new Map(), last: { bidder: 0, count: 0 } }
  const out$ = from(bids).pipe(
    scan((state, b) => {
      const count = (state.counts.get(b.bidder) ?? 0) + 1
      state.counts.set(b.bidder, count)
      state.last = { bidder: b.bidder, count }
      return state
    }, seed),
    map((state) => state.last),
  )
  return collect<RollingCountRecord>(out$, (r) => r.count)
}

/**
 * The RxJS keyed rolling count we benchmark against: the single-`scan`-over-a-Map variant,
 * because it is by far the FASTER of the two. Measured on 1 M bids / 10 000 bidders, Node 20:
 * scan+Map ≈ 15 M records/s, groupBy/mergeMap/scan ≈ 0.4 M records/s (it pays for 10 000 inner
 * Subjects, subscriptions and per-group operator chains). Both variants are tested for
 * identical results.
 */
export const rxjsRollingCount: (bids: readonly BenchBid[]) => Promise<Result> = rxjsRollingCountScan
