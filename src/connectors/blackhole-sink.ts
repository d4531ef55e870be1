import type { Sink } from './spi.ts'

/** Discards records (benchmarks, like Nexmark's blackhole sink); the job's metrics still count them. */
export function blackholeSink<T>(): Sink<T> {
  return { kind: 'blackhole', parallel: true, open: () => ({ write: () => {} }) }
}

/** Wraps a sink and counts the records written through it. */
export function countingSink<T>(inner: Sink<T>): Sink<T> & { readonly count: number } {
  const s = {
    kind: inner.kind,
    parallel: inner.parallel,
    count: 0,
    async open(ctx: Parameters<Sink<T>['open']>[0]) {
      const w = await inner.open(ctx)
      return {
        write: (batch: readonly T[]) => {
          s.count += batch.length
          return w.write(batch)
        },
        flush: w.flush?.bind(w),
        close: w.close?.bind(w),
      }
    },
  }
  return s
}
