/**
 * The service of the async I/O benchmarks (issue 14) and the references Sluice is measured against:
 *
 * - `service(v)`: answers `v + 1` after `SERVICE_MS` (one setTimeout per call, in this process);
 *   `batchService(vs)` answers a whole batch after the same time; `stalledService` never answers.
 * - `handPool(records, c, call)`: the hand-written bounded-concurrency loop, `c` async workers
 *   taking the next record as each call returns (at most `c` calls in flight, results as they
 *   complete). `handBatchedPool` does the same with up to `maxBatch` records per call.
 * - `rxjsMergeMap(records, c, call)`: `from(records).pipe(mergeMap(call, c))`, what an RxJS user
 *   writes; `rxjsBatched`: `bufferCount(maxBatch)` before it.
 *
 * Every implementation folds its results into the same `AsyncResult`; `expected(n)` is the answer
 * for the records 0..n-1 (count n, checksum Σ (v + 1)).
 */
import { bufferCount, from, mergeMap } from 'rxjs'

/** Latency of the simulated service, ms. */
export const SERVICE_MS = 10

export interface AsyncResult {
  count: number
  checksum: number
  /** Results that came after a larger one (input order broken); 0 for an ordered run. */
  outOfOrder: number
}

/** One record per call. */
export type Call = (v: number) => Promise<number>
/** A batch per call: one result per record, in order. */
export type BatchCall = (vs: number[]) => Promise<number[]>

/** Records 0..n-1 (the same input for every implementation). */
export function records(n: number): number[] {
  const a = new Array<number>(n)
  for (let i = 0; i < n; i++) a[i] = i
  return a
}

export function expected(n: number): AsyncResult {
  return { count: n, checksum: (n * (n - 1)) / 2 + n, outOfOrder: 0 }
}

/** Answers `v + 1` in SERVICE_MS. */
export const service: Call = (v) => new Promise<number>((resolve) => setTimeout(resolve, SERVICE_MS, v + 1))

/** Answers a whole batch in SERVICE_MS. */
export const batchService: BatchCall = (vs) => new Promise<number[]>((resolve) => setTimeout(resolve, SERVICE_MS, addOne(vs)))

function addOne(vs: readonly number[]): number[] {
  const out = new Array<number>(vs.length)
  for (let i = 0; i < vs.length; i++) out[i] = vs[i] + 1
  return out
}

/** Never answers (and holds nothing: the promise is garbage once the caller drops it). */
export const stalledService = (): Promise<number> => new Promise<number>(() => {})

/** Folds results into an AsyncResult, counting order breaks. */
export class Fold {
  readonly r: AsyncResult = { count: 0, checksum: 0, outOfOrder: 0 }
  private last = -Infinity

  add(v: number): void {
    this.r.count++
    this.r.checksum += v
    if (v < this.last) this.r.outOfOrder++
    this.last = v
  }
}

/** The hand-written loop: `c` workers, each calls the service for the next record until none is left. */
export async function handPool(input: readonly number[], c: number, call: Call): Promise<AsyncResult> {
  const fold = new Fold()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < input.length) fold.add(await call(input[next++]))
  }
  const workers: Promise<void>[] = []
  for (let i = 0; i < Math.min(c, input.length); i++) workers.push(worker())
  await Promise.all(workers)
  return fold.r
}

/** The hand-written batched loop: `c` workers, each takes up to `maxBatch` records per call. */
export async function handBatchedPool(input: readonly number[], c: number, maxBatch: number, call: BatchCall): Promise<AsyncResult> {
  const fold = new Fold()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < input.length) {
      const batch = input.slice(next, next + maxBatch)
      next += batch.length
      const results = await call(batch)
      for (let i = 0; i < results.length; i++) fold.add(results[i])
    }
  }
  const workers: Promise<void>[] = []
  for (let i = 0; i < Math.min(c, Math.ceil(input.length / maxBatch)); i++) workers.push(worker())
  await Promise.all(workers)
  return fold.r
}

/** RxJS: `from(records).pipe(mergeMap(call, c))`. */
export function rxjsMergeMap(input: readonly number[], c: number, call: Call): Promise<AsyncResult> {
  const fold = new Fold()
  return new Promise((resolve, reject) => {
    from(input)
      .pipe(mergeMap((v) => call(v), c))
      .subscribe({ next: (v) => fold.add(v), error: reject, complete: () => resolve(fold.r) })
  })
}

/** RxJS batched: `from(records).pipe(bufferCount(maxBatch), mergeMap(call, c))`. */
export function rxjsBatched(input: readonly number[], c: number, maxBatch: number, call: BatchCall): Promise<AsyncResult> {
  const fold = new Fold()
  return new Promise((resolve, reject) => {
    from(input)
      .pipe(bufferCount(maxBatch), mergeMap((vs) => call(vs), c))
      .subscribe({
        next: (vs) => {
          for (let i = 0; i < vs.length; i++) fold.add(vs[i])
        },
        error: reject,
        complete: () => resolve(fold.r),
      })
  })
}
