import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { text } from 'node:stream/consumers'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open as openFile } from 'node:fs/promises'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { fileSink, type FileCommit } from './file-sink.ts'
import { sinkContract, testSinkContext, writeAll } from './sink-contract.ts'
import type { SinkWriter } from './spi.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-file-sink-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
const nextPath = (): string => join(dir, `nested-${++files}`, 'deeper', 'out.jsonl')
const readJsonl = (path: string): unknown[] =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown)

const sample = Array.from({ length: 3000 }, (_, i) => ({ i, text: `record ${i} ${'ü'.repeat(i % 50)}` }))

sinkContract('fileSink', () => {
  const path = nextPath()
  return { sink: fileSink(path), written: () => readJsonl(path) }
}, sample, { exactlyOnce: true })

describe('fileSink', () => {
  it('replaces an existing file', async () => {
    const path = join(dir, 'existing.jsonl')
    writeFileSync(path, 'old content that is longer than the new\n')
    await writeAll(await fileSink(path).open(testSinkContext), [{ a: 1 }], [1])
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n')
  })

  it('fails to open with SINK_IO when the location is not writable', async () => {
    const blocker = join(dir, 'a-file')
    writeFileSync(blocker, '')
    await expect(fileSink(join(blocker, 'out.jsonl')).open(testSinkContext)).rejects.toMatchObject({
      code: 'SINK_IO',
      message: expect.stringContaining(blocker),
    })
  })

  it('refuses writes after close', async () => {
    const writer = await fileSink(nextPath()).open(testSinkContext)
    await writer.close?.()
    expect(() => writer.write([1])).toThrow(expect.objectContaining({ code: 'SINK_IO' }))
  })

  it('rejects an unknown format', () => {
    expect(() => fileSink('x', { format: 'csv' as 'jsonl' })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })
})

describe('fileSink two-phase commit', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  /** Writes `records` in batches of `size`, through the reused-array protocol of a task. */
  async function writeBatches<T>(writer: SinkWriter<T>, records: readonly T[], size: number): Promise<void> {
    for (let at = 0; at < records.length; at += size) await writer.write(records.slice(at, at + size))
  }

  // Larger than the writer's buffer, so pre-commits also find writes already in the file.
  const many = Array.from({ length: 12_000 }, (_, i) => ({ i, text: `record ${i} ${'ü😀'.repeat(i % 9)}` }))
  const [first, second, third] = [many.slice(0, 5000), many.slice(5000, 9000), many.slice(9000)]

  it('after a crash, holds exactly the bytes of commit 1, and ends byte-identical to a run without the crash', async () => {
    const reference = nextPath()
    await writeAll(await fileSink(reference).open(testSinkContext), many, [333])
    const expected = readFileSync(reference)

    const path = nextPath()
    const sink = fileSink(path)
    const writer = await sink.open(testSinkContext)
    await writeBatches(writer, first, 333)
    const commit1 = await writer.preCommit!(1) as FileCommit
    expect(commit1).toEqual({ path, length: Buffer.byteLength(first.map((r) => `${JSON.stringify(r)}\n`).join('')) })
    await writer.commit!(commit1)
    await writeBatches(writer, second, 333)
    const commit2 = await writer.preCommit!(2) as FileCommit
    expect(commit2.length).toBeGreaterThan(commit1.length)
    await writeBatches(writer, third, 333)
    await writer.flush!()
    expect(readFileSync(path).length).toBe(expected.length)
    // Crash: the writer is dropped without close; checkpoint 2 never completed.

    const recovered = await sink.open(testSinkContext, JSON.parse(JSON.stringify(commit1)) as FileCommit)
    const afterRecovery = readFileSync(path)
    expect(afterRecovery.length).toBe(commit1.length)
    expect(afterRecovery.equals(expected.subarray(0, commit1.length))).toBe(true)
    await writeAll(recovered, [...second, ...third], [333])
    expect(readFileSync(path).equals(expected)).toBe(true)
    await writer.abort!()
    expect(readFileSync(path).equals(expected), 'releasing the crashed writer writes nothing').toBe(true)
  })

  it('abort drops buffered records, waits for writes in flight and writes nothing more', async () => {
    const path = nextPath()
    const writer = await fileSink(path).open(testSinkContext)
    await writer.write([{ a: 1 }])
    await writer.preCommit!(1)
    const inFlight = writer.write(many) // past the buffer threshold: a write starts
    await writer.write([{ b: 2 }])
    await writer.abort!()
    await inFlight
    const length = readFileSync(path).length
    expect(readFileSync(path, 'utf8')).not.toContain('{"b":2}')
    expect(() => writer.write([{ c: 3 }])).toThrow(expect.objectContaining({ code: 'SINK_IO' }))
    await writer.abort!()
    await writer.close?.()
    expect(readFileSync(path).length).toBe(length)
  })

  it('commits idempotently: twice, or an older one after a newer, changes nothing', async () => {
    const path = nextPath()
    const writer = await fileSink(path).open(testSinkContext)
    await writer.write([{ a: 1 }])
    const c1 = await writer.preCommit!(1)
    await writer.write([{ a: 2 }])
    const c2 = await writer.preCommit!(2)
    await writer.commit!(c2)
    const bytes = readFileSync(path)
    await writer.commit!(c2)
    await writer.commit!(c1)
    expect(readFileSync(path).equals(bytes)).toBe(true)
    expect((writer as unknown as { committedLength(): number }).committedLength()).toBe(16)
    await writer.close?.()
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n')
  })

  it('recovering with null (no checkpoint completed) starts an existing file empty', async () => {
    const path = join(dir, 'recover-null.jsonl')
    writeFileSync(path, '{"left":"over"}\n')
    const writer = await fileSink(path).open(testSinkContext, null)
    expect(readFileSync(path, 'utf8')).toBe('')
    await writeAll(writer, [{ a: 1 }], [1])
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n')
  })

  it('surfaces an fsync failure as SINK_IO naming the file and checkpoint, and refuses further writes', async () => {
    const path = nextPath()
    const writer = await fileSink(path).open(testSinkContext)
    await writer.write([{ a: 1 }])
    const probe = await openFile(join(dir, 'probe'), 'w')
    const prototype = Object.getPrototypeOf(probe) as { sync(): Promise<void> }
    await probe.close()
    vi.spyOn(prototype, 'sync').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    await expect(writer.preCommit!(7)).rejects.toMatchObject({
      code: 'SINK_IO',
      message: expect.stringMatching(new RegExp(`cannot fsync .*out\\.jsonl for checkpoint 7: EIO: i/o error, fsync`)),
    })
    expect(() => writer.write([{ a: 2 }])).toThrow(expect.objectContaining({ code: 'SINK_IO', message: expect.stringContaining('cannot fsync') }))
    expect(() => writer.preCommit!(8)).toThrow(expect.objectContaining({ code: 'SINK_IO' }))
    await writer.close?.()
  })

  it('surfaces an fsync failure during recovery as SINK_IO', async () => {
    const path = nextPath()
    const writer = await fileSink(path).open(testSinkContext)
    await writer.write([{ a: 1 }])
    await writer.preCommit!(1)
    await writer.write([{ a: 2 }])
    await writer.close?.()
    const probe = await openFile(join(dir, 'probe'), 'w')
    const prototype = Object.getPrototypeOf(probe) as { sync(): Promise<void> }
    await probe.close()
    vi.spyOn(prototype, 'sync').mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
    await expect(fileSink(path).open(testSinkContext, { path, length: 8 })).rejects.toMatchObject({
      code: 'SINK_IO',
      message: expect.stringContaining('after the truncation to 8 bytes: EIO'),
    })
  })

  it('refuses to recover a file shorter than committed, or gone, with SINK_IO', async () => {
    const path = join(dir, 'short.jsonl')
    writeFileSync(path, '{"a":1}\n')
    await expect(fileSink(path).open(testSinkContext, { path, length: 100 })).rejects.toMatchObject({
      code: 'SINK_IO',
      message: expect.stringContaining('it has 8 bytes, but the last checkpoint committed 100'),
    })
    const gone = join(dir, 'gone', 'out.jsonl')
    await expect(fileSink(gone).open(testSinkContext, { path: gone, length: 8 })).rejects.toMatchObject({
      code: 'SINK_IO',
      message: expect.stringContaining('the file is gone'),
    })
    const writer = await fileSink(gone).open(testSinkContext, { path: gone, length: 0 })
    await writeAll(writer, [1], [1])
    expect(readFileSync(gone, 'utf8')).toBe('1\n')
  })

  it('refuses a commit of another path or a malformed one, and a commit past what was written', async () => {
    const path = nextPath()
    await expect(fileSink(path).open(testSinkContext, { path: 'elsewhere.jsonl', length: 0 })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('output path change') })
    await expect(fileSink(path).open(testSinkContext, { path, length: -3 })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE' })
    const writer = await fileSink(path).open(testSinkContext)
    await writer.write([1])
    await writer.preCommit!(1)
    expect(() => writer.commit!({ path, length: 99 })).toThrow(expect.objectContaining({ code: 'INTERNAL' }))
    await writer.close?.()
  })
})

describe('fileSink on a pipe or a device', () => {
  it('writes a FIFO as a stream: in order, no fsync or truncation, at-least-once across a recovery', async () => {
    const fifo = join(dir, 'out.fifo')
    execFileSync('mkfifo', [fifo])
    const sink = fileSink(fifo)
    expect(sink.exactlyOnce).toBe(false)
    // Opening either end of a FIFO waits for the other: the reader and the writer open together.
    const read = text(createReadStream(fifo))
    const writer = await sink.open(testSinkContext)
    await writer.write([{ a: 1 }, { a: 2 }])
    expect(await writer.preCommit!(1)).toEqual({ path: fifo, length: 16 })
    await writer.write([{ a: 3 }])
    await writer.close?.()
    // A recovery cannot take back what the reader has: the sink appends after it.
    const again = text(createReadStream(fifo))
    const recovered = await sink.open(testSinkContext, { path: fifo, length: 16 })
    await recovered.write([{ a: 3 }])
    await recovered.close?.()
    expect(await read).toBe('{"a":1}\n{"a":2}\n{"a":3}\n')
    expect(await again).toBe('{"a":3}\n')
  })

  it('writes /dev/null, pre-commits and closes without fsync (EINVAL on a character device)', async () => {
    const sink = fileSink('/dev/null')
    expect(sink.exactlyOnce).toBe(false)
    const writer = await sink.open(testSinkContext)
    await writer.write(sample)
    expect(await writer.preCommit!(1)).toMatchObject({ path: '/dev/null' })
    await writeAll(writer, sample, [1000, 2000])
    expect(fileSink(join(dir, 'regular.jsonl')).exactlyOnce).toBe(true)
  })
})
