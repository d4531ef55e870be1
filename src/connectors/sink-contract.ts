/**
 * The contract every sink keeps, as a vitest suite each sink's test file runs on its own
 * connector.
 */
import { describe, expect, it } from 'vitest'
import type { Sink, SinkCommit, SinkContext, SinkWriter } from './spi.ts'

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

/** Writes `records` in batches of at most `size`, leaving the writer open. */
async function writeSome<T>(writer: SinkWriter<T>, records: readonly T[], size = 7): Promise<void> {
  for (let at = 0; at < records.length; at += size) await writer.write(records.slice(at, at + size))
}

/** A commit as a checkpoint stores it and hands it back: through JSON. */
function stored(commit: SinkCommit): SinkCommit {
  const copy = JSON.parse(JSON.stringify(commit)) as SinkCommit
  expect(copy, 'the commit survives JSON unchanged').toStrictEqual(commit)
  return copy
}

/** Runs the sink contract; `make` builds a fresh sink each time. */
export function sinkContract<T>(
  name: string,
  make: () => SinkUnderTest<T> | Promise<SinkUnderTest<T>>,
  sample: readonly T[],
  options: {
    readonly exactlyOnce?: boolean
    /**
     * How an exactly-once sink recovers. 'discard' (default): opened with a commit, it removes
     * what was written after it (a file truncated, a transaction aborted), so the output right
     * after recovery is the committed output. 'replay': output is final once written (a broker
     * without transactions), and the recovered writer recognises the records the job replays
     * that are out already and does not write them again; only the output after the replay is
     * checked. The job replays exactly the records after the checkpoint, in the same order.
     */
    readonly recovery?: 'discard' | 'replay'
  } = {},
): void {
  describe(`${name}: sink contract`, () => {
    it(`declares exactlyOnce: ${options.exactlyOnce === true}`, async () => {
      const { sink } = await make()
      expect(sink.exactlyOnce === true).toBe(options.exactlyOnce === true)
    })

    if (options.exactlyOnce === true && options.recovery === 'replay') replayRecoveryCases(make, sample)
    else if (options.exactlyOnce === true) twoPhaseCommitCases(make, sample)

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

/**
 * The two-phase-commit promise of an exactly-once sink. A "crash" drops a writer without
 * closing it; recovery opens the same sink again with the commit of the last completed
 * checkpoint, and the job replays the records after it.
 */
function twoPhaseCommitCases<T>(make: () => SinkUnderTest<T> | Promise<SinkUnderTest<T>>, sample: readonly T[]): void {
  const third = Math.floor(sample.length / 3)
  const [a, b, c] = [sample.slice(0, third), sample.slice(third, 2 * third), sample.slice(2 * third)]

  it('implements preCommit and commit', async () => {
    const { sink } = await make()
    const writer = await sink.open(testSinkContext)
    expect(typeof writer.preCommit).toBe('function')
    expect(typeof writer.commit).toBe('function')
    await writer.close?.()
  })

  it('after a crash past an uncommitted pre-commit, recovers to the last commit and ends as a run without the crash', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    const first = stored(await writer.preCommit!(1))
    await writer.commit!(first)
    await writeSome(writer, b)
    await writer.preCommit!(2)
    await writeSome(writer, c)
    await writer.flush?.()
    // Crash: the writer is dropped; checkpoint 2 never completed.
    await writer.write(c.slice(0, 2)) // left in the writer's buffer, if it has one
    await writer.abort?.()
    const recovered = await sink.open(testSinkContext, first)
    expect(await written(), 'only the output of checkpoint 1 remains').toEqual(a)
    await writeSome(recovered, [...b, ...c])
    await recovered.flush?.()
    await recovered.close?.()
    expect(await written()).toEqual(sample)
    await writer.abort?.()
    expect(await written(), 'aborting again writes nothing').toEqual(sample)
  })

  it('recovers to a completed checkpoint whose commit was never called', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    await writer.commit!(stored(await writer.preCommit!(1)))
    await writeSome(writer, b)
    const second = stored(await writer.preCommit!(2))
    await writeSome(writer, c.slice(0, 3))
    await writer.flush?.()
    // Crash without abort: the writer is simply dropped (released below, once nothing depends on it).
    const recovered = await sink.open(testSinkContext, second)
    expect(await written()).toEqual([...a, ...b])
    await writeSome(recovered, c)
    await recovered.flush?.()
    await recovered.close?.()
    expect(await written()).toEqual(sample)
    await writer.abort?.()
  })

  it('treats a repeated or an older commit as done already', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    const first = stored(await writer.preCommit!(1))
    await writeSome(writer, b)
    const second = stored(await writer.preCommit!(2))
    await writer.commit!(second)
    await writer.commit!(second)
    await writer.commit!(first)
    await writeSome(writer, c)
    await writer.commit!(second)
    await writer.flush?.()
    await writer.close?.()
    expect(await written()).toEqual(sample)
  })

  it('recovers with nothing committed (null) to an empty output', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    await writer.preCommit!(1)
    await writer.flush?.()
    await writer.abort?.()
    const recovered = await sink.open(testSinkContext, null)
    expect(await written()).toEqual([])
    await writeSome(recovered, sample)
    await recovered.flush?.()
    await recovered.close?.()
    expect(await written()).toEqual(sample)
  })

  it('commits an empty pre-commit and recovers from it', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    const empty = stored(await writer.preCommit!(1))
    await writer.commit!(empty)
    await writeSome(writer, a)
    await writer.flush?.()
    await writer.abort?.()
    const recovered = await sink.open(testSinkContext, empty)
    expect(await written()).toEqual([])
    await recovered.close?.()
  })

  it('keeps everything across many checkpoints, each batch its own', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    let id = 0
    for (let at = 0; at < sample.length; at += 11) {
      await writer.write(sample.slice(at, at + 11))
      await writer.commit!(stored(await writer.preCommit!(++id)))
    }
    await writer.flush?.()
    await writer.close?.()
    expect(await written()).toEqual(sample)
  })
}

/**
 * The exactly-once promise of a sink whose output is final once written (recovery 'replay'): a
 * "crash" drops a writer at some point; recovery opens the sink with the commit of the last
 * completed checkpoint and the job replays, in order, exactly the records after it.
 */
function replayRecoveryCases<T>(make: () => SinkUnderTest<T> | Promise<SinkUnderTest<T>>, sample: readonly T[]): void {
  const third = Math.floor(sample.length / 3)
  const [a, b, c] = [sample.slice(0, third), sample.slice(third, 2 * third), sample.slice(2 * third)]

  it('implements preCommit and commit', async () => {
    const { sink } = await make()
    const writer = await sink.open(testSinkContext)
    expect(typeof writer.preCommit).toBe('function')
    expect(typeof writer.commit).toBe('function')
    await writer.close?.()
  })

  it('after a crash past an uncommitted pre-commit, the replay from the last commit ends as a run without the crash', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    const first = stored(await writer.preCommit!(1))
    await writer.commit!(first)
    await writeSome(writer, b)
    await writer.preCommit!(2)
    await writeSome(writer, c.slice(0, 5))
    await writer.flush?.()
    await writer.abort?.()
    const recovered = await sink.open(testSinkContext, first)
    await writeSome(recovered, [...b, ...c])
    await recovered.flush?.()
    await recovered.close?.()
    expect(await written()).toEqual(sample)
    await writer.abort?.()
    expect(await written(), 'aborting again writes nothing').toEqual(sample)
  })

  it('after a crash in the middle of an epoch (no pre-commit since the last commit), the replay ends as a run without the crash', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    const first = stored(await writer.preCommit!(1))
    await writer.commit!(first)
    await writeSome(writer, b.slice(0, Math.ceil(b.length / 2)))
    await writer.flush?.()
    await writer.abort?.()
    const recovered = await sink.open(testSinkContext, first)
    await writeSome(recovered, [...b, ...c])
    await recovered.flush?.()
    await recovered.close?.()
    expect(await written()).toEqual(sample)
  })

  it('recovers to a completed checkpoint whose commit was never called', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    await writer.commit!(stored(await writer.preCommit!(1)))
    await writeSome(writer, b)
    const second = stored(await writer.preCommit!(2))
    await writeSome(writer, c.slice(0, 3))
    await writer.flush?.()
    // Crash without abort: the writer is simply dropped (released below, once nothing depends on it).
    const recovered = await sink.open(testSinkContext, second)
    await writeSome(recovered, c)
    await recovered.flush?.()
    await recovered.close?.()
    expect(await written()).toEqual(sample)
    await writer.abort?.()
  })

  it('survives two crashes in a row from the same commit', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    const first = stored(await writer.preCommit!(1))
    await writeSome(writer, b.slice(0, 2))
    await writer.flush?.()
    await writer.abort?.()
    const second = await sink.open(testSinkContext, first)
    await writeSome(second, [...b, ...c.slice(0, 4)])
    await second.flush?.()
    await second.abort?.()
    const third = await sink.open(testSinkContext, first)
    await writeSome(third, [...b, ...c])
    await third.flush?.()
    await third.close?.()
    expect(await written()).toEqual(sample)
  })

  it('treats a repeated or an older commit as done already', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    await writeSome(writer, a)
    const first = stored(await writer.preCommit!(1))
    await writeSome(writer, b)
    const second = stored(await writer.preCommit!(2))
    await writer.commit!(second)
    await writer.commit!(second)
    await writer.commit!(first)
    await writeSome(writer, c)
    await writer.commit!(second)
    await writer.flush?.()
    await writer.close?.()
    expect(await written()).toEqual(sample)
  })

  it('commits an empty pre-commit and recovers from it', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    const empty = stored(await writer.preCommit!(1))
    await writer.commit!(empty)
    await writeSome(writer, a)
    await writer.flush?.()
    await writer.abort?.()
    const recovered = await sink.open(testSinkContext, empty)
    await writeSome(recovered, sample)
    await recovered.flush?.()
    await recovered.close?.()
    expect(await written()).toEqual(sample)
  })

  it('keeps everything across many checkpoints, each batch its own', async () => {
    const { sink, written } = await make()
    const writer = await sink.open(testSinkContext)
    let id = 0
    for (let at = 0; at < sample.length; at += 11) {
      await writer.write(sample.slice(at, at + 11))
      await writer.commit!(stored(await writer.preCommit!(++id)))
    }
    await writer.flush?.()
    await writer.close?.()
    expect(await written()).toEqual(sample)
  })
}
