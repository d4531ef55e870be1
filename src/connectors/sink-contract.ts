/**
 * The contract every sink keeps, as a vitest suite each sink's test file runs on its own
 * connector.
 */
import { describe, expect, it } from 'vitest'
import type { Sink, SinkContext, SinkWriter } from './spi.ts'

export interface SinkUnderTest<T> {
  readonly sink: Sink<T>
  /** Everything the sink has delivered, decoded back to records, in order. */
  written(): readonly T[] | Promise<readonly T[]>
}

export const testSinkContext: SinkContext = { sinkId: 'test-sink', clock: { now: () => 0 }, subtaskIndex: 0, parallelism: 1 }

/**
 * Writes `records` in batches of the given sizes through one reused batch array that is
 * cleared after each write completes (as a task does), then flushes and closes.
 */
export async function writeAll<T>(writer: SinkWriter<T>, records: readonly T[], sizes: readonly number[]): Promise<void> {
  const batch: T[] = []
  let at = 0
  for (let i = 0; at < records.length || i < sizes.length; i++) {
    const size = sizes[i % sizes.length]
    for (const record of records.slice(at, at + size)) batch.push(record)
    at += size
    await writer.write(batch)
    batch.fill(undefined as T)
    batch.length = 0
  }
  await writer.flush?.()
  await writer.close?.()
}

/** Runs the sink contract; `make` builds a fresh sink each time. */
export function sinkContract<T>(
  name: string,
  make: () => SinkUnderTest<T> | Promise<SinkUnderTest<T>>,
  sample: readonly T[],
): void {
  describe(`${name}: sink contract`, () => {
    it.each([[[1]], [[3, 0, 10]], [[1000]]])('delivers every record, complete and in order, batch sizes %j', async (sizes) => {
      const { sink, written } = await make()
      await writeAll(await sink.open(testSinkContext), sample, sizes)
      expect(await written()).toEqual(sample)
    })

    it('delivers a batch far larger than any buffer whole', async () => {
      const many = Array.from({ length: 20 }, () => sample).flat()
      const { sink, written } = await make()
      await writeAll(await sink.open(testSinkContext), many, [many.length])
      expect(await written()).toEqual(many)
    })

    it('has delivered everything once flush resolves', async () => {
      const { sink, written } = await make()
      const writer = await sink.open(testSinkContext)
      await writer.write(sample.slice(0, 3))
      await writer.write(sample.slice(3))
      await writer.flush?.()
      expect(await written()).toEqual(sample)
      await writer.close?.()
    })

    it('accepts an empty input', async () => {
      const { sink, written } = await make()
      await writeAll(await sink.open(testSinkContext), [], [0])
      expect(await written()).toEqual([])
      expect(typeof sink.kind).toBe('string')
    })
  })
}
