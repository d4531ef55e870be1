/**
 * The contract every source keeps, as a vitest suite each source's test file runs on its own
 * connector, plus a SourceContext for tests that records bad records.
 */
import { describe, expect, it } from 'vitest'
import { SluiceError } from '../errors.ts'
import type { Clock } from '../time/clock.ts'
import type { Source, SourceContext, SourceReader } from './spi.ts'

/** Reads returning 0 in a row before a test gives up on a source that never ends. */
const MAX_IDLE_READS = 1000

export interface BadRecordReport {
  readonly raw: unknown
  readonly reason: string
  readonly position: string
}

/**
 * Records every bad record reported. With policy 'fail' it then throws, as the runtime does
 * under onError: 'fail'; with 'skip' it only records.
 */
export class TestSourceContext implements SourceContext {
  readonly badRecords: BadRecordReport[] = []

  constructor(
    readonly policy: 'skip' | 'fail' = 'skip',
    readonly clock: Clock = { now: () => 0 },
    readonly sourceId = 'test-source',
    readonly subtaskIndex = 0,
    readonly parallelism = 1,
  ) {}

  reportBadRecord(raw: unknown, reason: string, position: string): void {
    this.badRecords.push({ raw, reason, position })
    if (this.policy === 'fail') {
      throw new SluiceError('SOURCE_MALFORMED_RECORD', `source ${this.sourceId} at ${position}: ${reason}`)
    }
  }
}

/** Reads until -1, asking for `max` records a time (or cycling through several sizes). */
export async function readAll<T>(reader: SourceReader<T>, max: number | readonly number[] = 1000): Promise<T[]> {
  const sizes = typeof max === 'number' ? [max] : max
  const out: T[] = []
  let idle = 0
  for (let i = 0; ; i++) {
    const n = await reader.read(out, sizes[i % sizes.length])
    if (n === -1) return out
    idle = n === 0 ? idle + 1 : 0
    if (idle > MAX_IDLE_READS) throw new Error(`source returned 0 ${idle} times in a row after ${out.length} records`)
  }
}

/** Opens, reads everything and closes. */
export async function readSource<T>(source: Source<T>, ctx: SourceContext = new TestSourceContext('fail'), max: number | readonly number[] = 1000): Promise<T[]> {
  const reader = await source.open(ctx)
  try {
    return await readAll(reader, max)
  } finally {
    await reader.close?.()
  }
}

/**
 * Runs the source contract. `make` builds a source whose input is exactly `records`, in order;
 * `sample` should be large enough to span several internal chunks or batches. A source over a
 * stream, which can be read once, is `replayable: false`.
 */
export function sourceContract<T>(
  name: string,
  make: (records: readonly T[]) => Source<T> | Promise<Source<T>>,
  sample: readonly T[],
  options: { readonly replayable?: boolean } = {},
): void {
  describe(`${name}: source contract`, () => {
    it.each([1, 2, 3, 7, 1000])('reads every record in order, at most %i per read', async (max) => {
      expect(await readSource(await make(sample), new TestSourceContext('fail'), max)).toEqual(sample)
    })

    it('reads every record in order when read sizes vary', async () => {
      expect(await readSource(await make(sample), new TestSourceContext('fail'), [5, 1, 64, 2, 13])).toEqual(sample)
    })

    it('pushes exactly as many records as it returns, after what out already holds', async () => {
      const reader = await (await make(sample)).open(new TestSourceContext('fail'))
      const out: T[] = []
      const sentinel = Symbol('sentinel') as unknown as T
      let total = 0
      for (let idle = 0; idle <= MAX_IDLE_READS;) {
        out.length = 0
        out.push(sentinel)
        const n = await reader.read(out, 4)
        expect(out[0]).toBe(sentinel)
        if (n === -1) {
          expect(out.length).toBe(1)
          break
        }
        expect(n).toBeGreaterThanOrEqual(0)
        expect(n).toBeLessThanOrEqual(4)
        expect(out.length).toBe(1 + n)
        expect(out.slice(1)).toEqual(sample.slice(total, total + n))
        total += n
        idle = n === 0 ? idle + 1 : 0
      }
      expect(total).toBe(sample.length)
      await reader.close?.()
    })

    it('returns -1 at the end and keeps returning -1', async () => {
      const reader = await (await make(sample)).open(new TestSourceContext('fail'))
      await readAll(reader, 100)
      for (let i = 0; i < 3; i++) {
        const out: T[] = []
        expect(await reader.read(out, 10)).toBe(-1)
        expect(out).toEqual([])
      }
      await reader.close?.()
    })

    it('advances its position with every read that returns records', async () => {
      const reader = await (await make(sample)).open(new TestSourceContext('fail'))
      const seen = [reader.position()]
      const out: T[] = []
      for (let idle = 0; idle <= MAX_IDLE_READS;) {
        const n = await reader.read(out, Math.max(1, Math.floor(sample.length / 5)))
        if (n === -1) break
        idle = n === 0 ? idle + 1 : 0
        if (n > 0) {
          const position = reader.position()
          expect(typeof position).toBe('string')
          expect(seen).not.toContain(position)
          seen.push(position)
        }
      }
      expect(seen.length).toBeGreaterThan(2)
      await reader.close?.()
    })

    it('ends at once on an empty input', async () => {
      expect(await readSource(await make([]))).toEqual([])
    })

    it('is bounded and knows its size, if it says so', async () => {
      const source = await make(sample)
      expect(source.bounded).toBe(true)
      expect(typeof source.kind).toBe('string')
      if (source.expectedRecords !== undefined) expect(source.expectedRecords).toBe(sample.length)
    })

    // Only replayable sources promise this; stdin does not, so the case is not registered for it.
    if (options.replayable !== false) it('can be opened again and replays from the start', async () => {
      const source = await make(sample)
      const first = await readSource(source)
      const again = await readSource(source)
      expect(again).toEqual(first)
    })
  })
}
