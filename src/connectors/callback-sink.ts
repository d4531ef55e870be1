/**
 * Hands records to a function: the simplest way to get results out of a job.
 */
import { SluiceError } from '../errors.ts'
import type { Sink, SinkWriter } from './spi.ts'

/**
 * A sink calling `fn` once per record, in order. When `fn` returns a promise, the next record
 * waits for it (and the job's backpressure with it). Errors `fn` throws fail the job unchanged.
 * At-least-once: after a recovery `fn` is called again for the records after the last
 * checkpoint, so its effects should be idempotent (an upsert by key, not an append).
 *
 * @example
 * ```ts
 * declare const bids: Stream<Bid>
 * bids.to('alert', callbackSink((b) => console.log(`big bid ${b.price}`)))
 * ```
 */
export function callbackSink<T>(fn: (record: T) => void | Promise<void>): Sink<T> {
  checkFunction('callbackSink', fn)
  return { kind: 'callback', exactlyOnce: false, open: () => new RecordCallbackWriter(fn) }
}

/**
 * A sink calling `fn` once per batch, with an array `fn` may keep. Awaited like `callbackSink`,
 * and at-least-once like it.
 *
 * @example
 * ```ts
 * declare const bids: Stream<Bid>
 * declare const db: { insertMany(rows: readonly Bid[]): Promise<void> }
 * bids.to('db', batchCallbackSink((rows) => db.insertMany(rows)))
 * ```
 */
export function batchCallbackSink<T>(fn: (batch: readonly T[]) => void | Promise<void>): Sink<T> {
  checkFunction('batchCallbackSink', fn)
  return {
    kind: 'callback',
    exactlyOnce: false,
    open: (): SinkWriter<T> => ({
      // The task reuses its batch array, so fn gets its own copy.
      write: (batch) => (batch.length === 0 ? undefined : fn(batch.slice())),
    }),
  }
}

class RecordCallbackWriter<T> implements SinkWriter<T> {
  constructor(private readonly fn: (record: T) => void | Promise<void>) {}

  write(batch: readonly T[]): void | Promise<void> {
    const fn = this.fn
    for (let i = 0; i < batch.length; i++) {
      const result = fn(batch[i])
      if (isPromiseLike(result)) return this.continueAfter(result, batch.slice(i + 1))
    }
  }

  private async continueAfter(first: PromiseLike<void>, rest: readonly T[]): Promise<void> {
    await first
    for (const record of rest) await this.fn(record)
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<void> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function checkFunction(factory: string, fn: unknown): void {
  if (typeof fn !== 'function') throw new SluiceError('JOB_ARGUMENT_INVALID', `${factory} needs a function, got ${typeof fn}`)
}
