/**
 * A record that fails in an operator is reported where it was read (line and byte), not where the
 * batch it came in ended: the failing operator's error and its dead letter both carry it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../../api/pipeline.ts'
import type { DeadLetter } from '../../connectors/spi.ts'
import { fileSource } from '../../connectors/file-source.ts'
import { boundedOutOfOrderness } from '../../time/watermarks.ts'
import { memorySink } from '../../testing/memory-sink.ts'

interface View { user: string; ts: number; page: string }

const dir = mkdtempSync(join(tmpdir(), 'sluice-positions-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A header and 17 records: 18 lines, all read in one batch. Record k (0-based) is line k + 2. */
const lines = ['user,ts,page', ...Array.from({ length: 17 }, (_, k) => `u${k % 3},${1767225600000 + k * 1000},p${k}`)]
const content = `${lines.join('\n')}\n`
const path = join(dir, 'views.csv')
writeFileSync(path, content)
/** The byte offset of line `n` (1-based). */
const byteOf = (n: number): number => Buffer.byteLength(lines.slice(0, n - 1).map((l) => `${l}\n`).join(''))

function failOn(page: string) {
  return (v: View): View => {
    if (v.page === page) throw new Error(`bad page ${page}`)
    return v
  }
}

async function failure(build: (p: Pipeline) => void, fuse: boolean): Promise<string> {
  const p = new Pipeline('positions')
  build(p)
  const error = await p.run({ fuse }).done.then(() => null, (e: unknown) => e)
  expect(error).toMatchObject({ code: 'RECORD_FAILED' })
  return (error as Error).message
}

describe.each([true, false])('the position of a record that fails in an operator (fuse: %s)', (fuse) => {
  it('names the line of the record (line 2 of 18), not the end of the batch', async () => {
    const message = await failure((p) => p.source('views', fileSource<View>(path)).map('boom', failOn('p0')).to('out', memorySink()), fuse)
    expect(message).toContain(`operator "boom" failed on input record #1, read at ${path} line 2 (byte ${byteOf(2)}): bad page p0`)
  })

  it('after a map and a filter that kept every record, and past records taken out for a bad timestamp', async () => {
    const message = await failure((p) => p
      .source('views', fileSource<View>(path), {
        watermarks: boundedOutOfOrderness({ timestamp: (v: View) => (v.page === 'p1' ? Number.NaN : v.ts), maxOutOfOrdernessMs: 0 }),
        onError: 'skip',
      })
      .map('same', (v) => v)
      .filter('all', () => true)
      .map('boom', failOn('p5'))
      .to('out', memorySink()), fuse)
    expect(message).toContain(`failed on input record #5, read at ${path} line 7 (byte ${byteOf(7)})`)
  })

  it('carries the line and byte into the dead letter, for each of several failing records', async () => {
    const letters = memorySink<DeadLetter>()
    const p = new Pipeline('positions', { deadLetter: letters })
    p.source('views', fileSource<View>(path))
      .map('boom', (v) => {
        if (v.page === 'p3' || v.page === 'p16') throw new Error('bad')
        return v
      }, { onError: 'dead-letter' })
      .to('out', memorySink())
    await p.run({ fuse }).done
    expect(letters.records.map((l) => l.position)).toEqual([
      `input record #4, read at ${path} line 5 (byte ${byteOf(5)})`,
      `input record #17, read at ${path} line 18 (byte ${byteOf(18)})`,
    ])
  })
})

describe('a record whose place in the source batch is not known', () => {
  it('is named by its input record number alone after a filter that dropped records, unfused', async () => {
    const message = await failure((p) => p.source('views', fileSource<View>(path)).filter('some', (v) => v.page !== 'p0').map('boom', failOn('p2')).to('out', memorySink()), false)
    expect(message).toContain('operator "boom" failed on input record #2: bad page p2')
  })

  it('keeps its line when a fused run dropped records before it (the run follows each record through)', async () => {
    const message = await failure((p) => p.source('views', fileSource<View>(path)).filter('some', (v) => v.page !== 'p0').map('boom', failOn('p2')).to('out', memorySink()), true)
    expect(message).toContain(`operator "boom" failed on input record #2, read at ${path} line 4 (byte ${byteOf(4)})`)
  })
})
