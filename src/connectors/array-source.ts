/**
 * Replays the items of an array or any other iterable, for tests, examples and small lookups.
 */
import { SluiceError } from '../errors.ts'
import { badPosition, positionInteger } from './position.ts'
import type { Source, SourceContext, SourcePosition, SourceReader } from './spi.ts'

export interface IterableSourceOptions {
  /** At most this many records per read (default: as many as the task asks for). */
  readonly batchSize?: number
  /**
   * Declares that every `[Symbol.iterator]()` call yields the same items afresh, so the source
   * can replay and resume from a checkpoint. Default: true for arrays, typed arrays, Sets,
   * Maps and strings; false for other iterables. An iterator (a generator object) is read once
   * and cannot be replayable.
   */
  readonly replayable?: boolean
}

/** Checkpoint position of `fromArray` / `fromIterable`: records read so far. */
export type IterablePosition = { readonly index: number }

/**
 * A bounded source of the items of `items`, in order. Each `open` iterates afresh, so an array
 * replays in full; a one-shot iterable (a generator object) yields its items only once.
 * Replayable (see `IterableSourceOptions.replayable`) sources resume from `{ index }`: an array
 * by indexing, another iterable by iterating afresh and skipping `index` items.
 *
 * @example
 * ```ts
 * pipeline.source('words', fromIterable(['a', 'b', 'c'], { batchSize: 2 }))
 * ```
 */
export function fromIterable<T>(items: Iterable<T>, options: IterableSourceOptions = {}): IterableSource<T> {
  return new IterableSource(items, options)
}

/**
 * A bounded source of the elements of `items`, in order; `expectedRecords` is its length.
 *
 * @example
 * ```ts
 * pipeline.source('prices', fromArray([{ price: 10 }, { price: 12 }]))
 * ```
 */
export const fromArray: <T>(items: readonly T[], options?: IterableSourceOptions) => IterableSource<T> = fromIterable

export class IterableSource<T> implements Source<T> {
  readonly kind = 'array'
  readonly bounded = true
  readonly expectedRecords: number | undefined
  readonly replayable: boolean
  private readonly batchSize: number

  constructor(private readonly items: Iterable<T>, options: IterableSourceOptions) {
    if (items === null || typeof (items as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      throw new SluiceError('JOB_ARGUMENT_INVALID', 'fromIterable needs an array or other iterable')
    }
    const batchSize = options.batchSize ?? Infinity
    if (batchSize !== Infinity && (!Number.isSafeInteger(batchSize) || batchSize < 1)) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `fromIterable option batchSize must be a whole number >= 1, got ${String(options.batchSize)}`)
    }
    this.batchSize = batchSize
    this.expectedRecords = Array.isArray(items) ? items.length : undefined
    const isIterator = typeof (items as { next?: unknown }).next === 'function'
    if (options.replayable === true && isIterator) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', 'fromIterable option replayable: true needs an iterable that can be iterated again, not an iterator or generator object')
    }
    this.replayable = options.replayable ?? (!isIterator && isBuiltInCollection(items))
  }

  open(_ctx: SourceContext, from?: SourcePosition): SourceReader<T> {
    const items = this.items
    let index = 0
    if (from !== undefined) {
      if (!this.replayable) throw badPosition(this.kind, from, 'this iterable is not replayable')
      index = positionInteger(this.kind, from, 'index')
    }
    if (Array.isArray(items)) {
      if (index > items.length) throw badPosition(this.kind, from!, `the array has only ${items.length} items`)
      return new ArraySourceReader<T>(items as readonly T[], this.batchSize, index)
    }
    const iterator = items[Symbol.iterator]()
    if (!this.replayable) return new IteratorSourceReader<T>(iterator, this.batchSize)
    for (let skipped = 0; skipped < index; skipped++) {
      if (iterator.next().done === true) throw badPosition(this.kind, from!, `the iterable has only ${skipped} items`)
    }
    return new ReplayableIteratorReader<T>(iterator, this.batchSize, index)
  }
}

/** Built-in iterables that iterate afresh, over the same items, on every call. */
function isBuiltInCollection(items: Iterable<unknown>): boolean {
  return Array.isArray(items) || ArrayBuffer.isView(items) || items instanceof Set || items instanceof Map || typeof items === 'string'
}

class ArraySourceReader<T> implements SourceReader<T> {
  constructor(private readonly items: readonly T[], private readonly batchSize: number, private index: number) {}

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

  snapshotPosition(): IterablePosition {
    return { index: this.index }
  }
}

class IteratorSourceReader<T> implements SourceReader<T> {
  private done = false

  constructor(private readonly iterator: Iterator<T>, private readonly batchSize: number, protected index = 0) {}

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

/** The reader of an iterable that can be iterated again, so its position can be resumed from. */
class ReplayableIteratorReader<T> extends IteratorSourceReader<T> {
  snapshotPosition(): IterablePosition {
    return { index: this.index }
  }
}
