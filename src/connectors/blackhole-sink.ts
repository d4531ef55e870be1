import type { Sink, SinkCommit, SinkContext, SinkWriter } from './spi.ts'

/**
 * Discards records (benchmarks, like Nexmark's blackhole sink); the job's metrics still count them.
 * Exactly-once trivially: there is no output to duplicate, so nothing to pre-commit or commit.
 */
export function blackholeSink<T>(): Sink<T> {
  return { kind: 'blackhole', parallel: true, exactlyOnce: true, open: () => ({ write: () => {} }) }
}

/**
 * Wraps a sink and counts the records written through it. Checkpoint hooks and recovery pass
 * through to the inner sink, which decides the guarantee; the count includes records written
 * again after a recovery.
 */
export function countingSink<T>(inner: Sink<T>): Sink<T> & { readonly count: number } {
  const s = {
    kind: inner.kind,
    parallel: inner.parallel,
    exactlyOnce: inner.exactlyOnce,
    count: 0,
    async open(ctx: SinkContext, recoverFrom?: SinkCommit | null): Promise<SinkWriter<T>> {
      const w = await (recoverFrom === undefined ? inner.open(ctx) : inner.open(ctx, recoverFrom))
      return {
        write: (batch: readonly T[]) => {
          s.count += batch.length
          return w.write(batch)
        },
        flush: w.flush?.bind(w),
        preCommit: w.preCommit?.bind(w),
        commit: w.commit?.bind(w),
        close: w.close?.bind(w),
        abort: w.abort?.bind(w),
      }
    },
  }
  return s
}
