/**
 * The contract every source keeps, as a vitest suite each source's test file runs on its own
 * connector, plus a SourceContext for tests that records bad records.
 */
import { describe, expect, it } from 'vitest'
import { SluiceError } from '../errors.ts'
import type { Clock } from '../time/clock.ts'
import type { Source, SourceContext, SourcePosition, SourceReader } from './spi.ts'

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

/** A snapshot taken between reads: the position and how many records had been read. */
interface Snapshot {
  readonly position: SourcePosition
  readonly recordsBefore: number
}

/** Every `count`-th element, spread evenly, always with the first and the last. */
function spread<E>(items: readonly E[], count: number): E[] {
  if (items.length <= count) return [...items]
  const step = (items.length - 1) / (count - 1)
  return Array.from({ length: count }, (_, i) => items[Math.round(i * step)])
}

/** Reads to the end, snapshotting after opening and after every read (the -1 included). */
async function readWithSnapshots<T>(reader: SourceReader<T>, sizes: readonly number[]): Promise<{ records: T[]; snapshots: Snapshot[] }> {
  const records: T[] = []
  const snapshots: Snapshot[] = []
  const snapshot = (): void => {
    const position = reader.snapshotPosition!()
    // A position is stored as JSON: no undefined, Infinity or NaN may hide in it.
    expect(JSON.parse(JSON.stringify(position)), 'the position survives JSON unchanged').toStrictEqual(position)
    expect(reader.snapshotPosition!(), 'taking a snapshot changes nothing').toStrictEqual(position)
    snapshots.push({ position, recordsBefore: records.length })
  }
  snapshot()
  let idle = 0
  for (let i = 0; ; i++) {
    const n = await reader.read(records, sizes[i % sizes.length])
    snapshot()
    if (n === -1) return { records, snapshots }
    idle = n === 0 ? idle + 1 : 0
    if (idle > MAX_IDLE_READS) throw new Error(`source returned 0 ${idle} times in a row after ${records.length} records`)
  }
}

/**
 * Checks the resume promise of a replayable source for one reader: it reads to the end
 * (list A), snapshotting between reads; then, for up to `maxResumes` of those snapshots, a
 * fresh reader opened from the position (passed through JSON, as a checkpoint stores it)
 * reads exactly A's records after the snapshot. The resumed reader is itself snapshotted after
 * its first read and resumed again, so positions taken after a resume hold too. Returns A.
 */
export async function expectResumesFromSnapshots<T>(
  source: Source<T>,
  context: () => SourceContext,
  sizes: readonly number[] = [7],
  maxResumes = 12,
): Promise<T[]> {
  expect(source.replayable).toBe(true)
  const reader = await source.open(context())
  expect(typeof reader.snapshotPosition, 'readers of a replayable source implement snapshotPosition').toBe('function')
  const { records, snapshots } = await readWithSnapshots(reader, sizes)
  await reader.close?.()
  for (const { position, recordsBefore } of spread(snapshots, maxResumes)) {
    const expected = records.slice(recordsBefore)
    const resumed = await source.open(context(), JSON.parse(JSON.stringify(position)) as SourcePosition)
    const { records: rest, snapshots: again } = await readWithSnapshots(resumed, sizes)
    await resumed.close?.()
    expect(rest, `resumed from ${JSON.stringify(position)} after ${recordsBefore} records`).toEqual(expected)
    const second = again[Math.min(1, again.length - 1)]
    const resumedAgain = await source.open(context(), JSON.parse(JSON.stringify(second.position)) as SourcePosition)
    expect(await readAll(resumedAgain, sizes), `resumed twice, from ${JSON.stringify(second.position)}`).toEqual(expected.slice(second.recordsBefore))
    await resumedAgain.close?.()
  }
  return records
}

/** Sorted JSON texts: compares the union of parallel shares with the input, order aside. */
function multiset(records: readonly unknown[]): string[] {
  return records.map((r) => JSON.stringify(r)).sort()
}

export interface SourceContractOptions {
  /**
   * False for a source over a stream, which can be read once: then it must not declare
   * `replayable`. Otherwise (the default) it must, and the snapshot/resume cases run.
   */
  readonly replayable?: boolean
  /**
   * Parallelisms to split the source across (a splittable source): each subtask's reader must
   * resume from its own snapshots, and together the subtasks read exactly the input.
   */
  readonly parallelism?: readonly number[]
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
  options: SourceContractOptions = {},
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

    it(`declares replayable: ${options.replayable !== false}`, async () => {
      const source = await make(sample)
      expect(source.replayable === true).toBe(options.replayable !== false)
    })

    // Only replayable sources promise these; stdin does not, so the cases are not registered for it.
    if (options.replayable === false) return

    it('can be opened again and replays from the start', async () => {
      const source = await make(sample)
      const first = await readSource(source)
      const again = await readSource(source)
      expect(again).toEqual(first)
    })

    it.each<[string, readonly number[]]>([
      ['one record', [1]],
      ['7 records', [7]],
      ['varying sizes', [5, 1, 64, 2, 13]],
    ])('resumes from a snapshot taken between any two reads, reading %s at a time', async (_label, sizes) => {
      const records = await expectResumesFromSnapshots(await make(sample), () => new TestSourceContext('fail'), sizes)
      expect(records).toEqual(sample)
    })

    it('resumes from a snapshot taken at the end with nothing more', async () => {
      const source = await make(sample)
      const reader = await source.open(new TestSourceContext('fail'))
      await readAll(reader)
      const end = reader.snapshotPosition!()
      await reader.close?.()
      const resumed = await source.open(new TestSourceContext('fail'), JSON.parse(JSON.stringify(end)) as SourcePosition)
      expect(await readAll(resumed)).toEqual([])
      await resumed.close?.()
    })

    it('resumes on an empty input', async () => {
      await expectResumesFromSnapshots(await make([]), () => new TestSourceContext('fail'))
    })

    for (const p of options.parallelism ?? []) {
      it(`split across ${p} subtasks: each resumes from its own snapshots, and together they read the input once`, async () => {
        const source = await make(sample)
        const shares: T[][] = []
        for (let k = 0; k < p; k++) {
          shares.push(await expectResumesFromSnapshots(source, () => new TestSourceContext('fail', undefined, 'test-source', k, p), [5, 1, 64, 2, 13], 8))
        }
        expect(shares.filter((share) => share.length > 0).length, 'more than one subtask gets records').toBeGreaterThan(1)
        expect(multiset(shares.flat())).toEqual(multiset(sample))
      })
    }
  })
}
