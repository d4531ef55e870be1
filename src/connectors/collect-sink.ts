/**
 * Keeps every record in memory, for tests and small results.
 */
import type { Sink, SinkWriter } from './spi.ts'

export interface CollectSink<T> extends Sink<T> {
  /** Every record written, in arrival order (the references, not copies of the records). */
  readonly records: T[]
}

/**
 * A sink gathering records into `records`. Parallel writers append to the same array.
 *
 * @example
 * const out = collectSink<number>()
 * await pipeline.from('n', fromArray([1, 2, 3])).map('double', (n) => n * 2).to('out', out).run()
 * expect(out.records).toEqual([2, 4, 6])
 */
export function collectSink<T>(): CollectSink<T> {
  const records: T[] = []
  const writer: SinkWriter<T> = {
    write(batch) {
      for (let i = 0; i < batch.length; i++) records.push(batch[i])
    },
  }
  return { kind: 'collect', records, open: () => writer }
}
