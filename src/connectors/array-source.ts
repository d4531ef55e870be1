/**
 * Replays the items of an array or any other iterable, for tests, examples and small lookups.
 */
import { SluiceError } from '../errors.ts'
import type { Source, SourceContext, SourceReader } from './spi.ts'

export interface IterableSourceOptions {
  /** At most this many records per read (default: as many as the task asks for). */
  readonly batchSize?: number
}

/**
 * A bounded source of the items of `items`, in order. Each `open` iterates afresh, so an array
 * replays in full; a one-shot iterable (a generator object) yields its items only once.
 *
 * @example
 * pipeline.from('words', fromIterable(['a', 'b', 'c'], { batchSize: 2 }))
 */
export function fromIterable<T>(items: Iterable<T>, options: IterableSourceOptions = {}): IterableSource<T> {
  return new IterableSource(items, options)
}

/**
 * A bounded source of the elements of `items`, in order; `expectedRecords` is its length.
 *
 * @example
 * pipeline.from('bids', fromArray([{ price: 10 }, { price: 12 }]))
 */
export const fromArray: <T>(items: readonly T[], options?: IterableSourceOptions) => IterableSource<T> = fromIterable

export class IterableSource<T> implements Source<T> {
  readonly kind = 'array'
  readonly bounded = true
  readonly expectedRecords: number | undefined
  private readonly batchSize: number

  constructor(private readonly items: Iterable<T>, options: IterableSourceOptions) {
    if (items === null || typeof (items as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      throw new SluiceError('JOB_INVALID_OPTION', 'fromIterable needs an array or other iterable')
    }
    const batchSize = options.batchSize ?? Infinity
    if (batchSize !== Infinity && (!Number.isSafeInteger(batchSize) || batchSize < 1)) {
      throw new SluiceError('JOB_INVALID_OPTION', `fromIterable option batchSize must be a whole number >= 1, got ${String(options.batchSize)}`)
    }
    this.batchSize = batchSize
    this.expectedRecords = Array.isArray(items) ? items.length : undefined
  }

  open(_ctx: SourceContext): SourceReader<T> {
    const items = this.items
    return Array.isArray(items)
      ? new ArraySourceReader<T>(items as readonly T[], this.batchSize)
      : new IteratorSourceReader<T>(items[Symbol.iterator](), this.batchSize)
  }
}

class ArraySourceReader<T> implements SourceReader<T> {
  private index = 0

  constructor(private readonly items: readonly T[], private readonly batchSize: number) {}

  read(out: T[], max: number): number {
    const items = this.items
    const start = this.index
    if (start >= items.length) return -1
    const end = Math.min(items.length, start + Math.min(max, this.batchSize))
    for (let i = start; i < end; i++) out.push(items[i])
    this.index = end
    return end - start
  }

  position(): string {
    return `index ${this.index}`
  }
}

class IteratorSourceReader<T> implements SourceReader<T> {
  private index = 0
  private done = false

  constructor(private readonly iterator: Iterator<T>, private readonly batchSize: number) {}

  read(out: T[], max: number): number {
    if (this.done) return -1
    const limit = Math.min(max, this.batchSize)
    let n = 0
    while (n < limit) {
      const step = this.iterator.next()
      if (step.done === true) {
        this.done = true
        break
      }
      out.push(step.value)
      n++
    }
    this.index += n
    return n === 0 && this.done ? -1 : n
  }

  position(): string {
    return `index ${this.index}`
  }

  /** Lets a generator run its `finally` blocks when the job stops early. */
  close(): void {
    if (!this.done) {
      this.done = true
      this.iterator.return?.()
    }
  }
}
