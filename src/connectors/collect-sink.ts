/**
 * Keeps every record in memory, for tests and small results.
 */
import { SluiceError } from '../errors.ts'
import type { Sink, SinkCommit, SinkContext, SinkWriter } from './spi.ts'

export interface CollectSink<T> extends Sink<T> {
  /** Every record written, in arrival order (the references, not copies of the records). */
  readonly records: T[]
}

/** What a collect sink had at a checkpoint: its first `length` records. */
export type CollectCommit = { readonly length: number }

/**
 * A sink gathering records into `records`. Parallel writers append to the same array.
 *
 * Exactly-once for recovery within one process, with one writer (it is not `parallel`, so the
 * runtime opens one): `preCommit` returns `{ length }` and a recovery cuts `records` back to the
 * committed length before the records after the checkpoint are replayed. Records in memory do
 * not survive the process, so recovering in a new process fails with SINK_IO.
 *
 * @example
 * ```ts
 * const out = collectSink<number>()
 * const p = new Pipeline('double')
 * p.source('n', fromArray([1, 2, 3])).map('double', (n) => n * 2).to('out', out)
 * await p.run().done
 * out.records // [2, 4, 6]
 * ```
 */
export function collectSink<T>(): CollectSink<T> {
  const records: T[] = []
  const writer: SinkWriter<T> = {
    write(batch) {
      for (let i = 0; i < batch.length; i++) records.push(batch[i])
    },
    preCommit: (): CollectCommit => ({ length: records.length }),
    commit(commit) {
      const length = committedLength(commit)
      if (length > records.length) {
        throw new SluiceError('INTERNAL', `collect sink cannot commit ${length} records: it holds only ${records.length}`)
      }
    },
  }
  return {
    kind: 'collect',
    exactlyOnce: true,
    records,
    open(_ctx: SinkContext, recoverFrom?: SinkCommit | null): SinkWriter<T> {
      if (recoverFrom !== undefined) {
        const length = recoverFrom === null ? 0 : committedLength(recoverFrom)
        if (length > records.length) {
          throw new SluiceError('SINK_IO', `collect sink cannot recover ${length} committed records: it holds ${records.length} (records in memory do not survive a process restart)`)
        }
        records.length = length
      }
      return writer
    },
  }
}

function committedLength(commit: SinkCommit): number {
  const length = commit.length
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `collect sink cannot use the commit ${JSON.stringify(commit)}: length must be a whole number >= 0`)
  }
  return length
}
