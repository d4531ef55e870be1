import type { Sink } from '../connectors/spi.ts'

/** A sink that keeps every record in arrival order, for assertions. */
export interface MemorySink<T> extends Sink<T> {
  /** Every record written, in arrival order (the records themselves, not copies). */
  readonly records: T[]
}

/**
 * A sink that keeps every record in memory, for tests. Unlike `collectSink` it takes part in no
 * checkpoint: a test of recovery uses `collectSink`.
 *
 * @example
 * ```ts
 * const out = memorySink<number>()
 * const p = new Pipeline('double')
 * p.source('n', fromArray([1, 2, 3])).map('double', (n) => n * 2).to('out', out)
 * await p.run().done
 * out.records // [2, 4, 6]
 * ```
 */
export function memorySink<T>(): MemorySink<T> {
  const records: T[] = []
  return {
    kind: 'memory',
    records,
    open: () => ({
      write(batch: readonly T[]) {
        for (let i = 0; i < batch.length; i++) records.push(batch[i])
      },
    }),
  }
}
