/**
 * Lines a line-based source must reject under its error policy, and what it reports for them:
 * lines longer than maxLineBytes (which once failed the job past ~512 MB even under skip, after
 * holding the line whole), lines that are not UTF-8 (once decoded to U+FFFD silently), dead
 * letters that held the parsed value instead of the line (`1e400` became null), and timestamp
 * errors positioned at the batch's end instead of their own line.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../api/pipeline.ts'
import { operatorTotal } from '../metrics/task-metrics.ts'
import { memorySink } from '../testing/index.ts'
import { boundedOutOfOrderness } from '../time/watermarks.ts'
import { fileSource } from './file-source.ts'
import { readAll, TestSourceContext } from './source-contract.ts'
import type { DeadLetter, ErrorPolicy } from './spi.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-bad-lines-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const MiB = 1024 * 1024
const LONG = 10 * MiB

let files = 0
function tempFile(content: string | Buffer): string {
  const path = join(dir, `input-${++files}.jsonl`)
  writeFileSync(path, content)
  return path
}

/** Line 2 is a JSON string of 10 MiB: valid, but over a 1 KiB maximum. */
const withLongLine = (): string => tempFile(`{"n":1}\n"${'x'.repeat(LONG - 2)}"\n{"n":3}\n{"n":4}\n`)

async function runFile(path: string, onError: ErrorPolicy, options: { maxLineBytes?: number; timestamps?: boolean } = {}) {
  const out = memorySink<unknown>()
  const dead = memorySink<DeadLetter>()
  const p = new Pipeline('bad-lines', { deadLetter: dead })
  p.source('in', fileSource(path, { maxLineBytes: options.maxLineBytes, chunkSize: 64 * 1024 }), {
    onError,
    ...(options.timestamps === true ? { watermarks: boundedOutOfOrderness({ timestamp: (r: { ts: number }) => r.ts }) } : {}),
  }).to('out', out)
  const done = p.run().done
  return { done, out: out.records, letters: dead.records }
}

describe('a line longer than maxLineBytes', () => {
  it('under fail: SOURCE_MALFORMED_RECORD naming the line, its length and the option', async () => {
    const { done } = await runFile(withLongLine(), 'fail', { maxLineBytes: 1024 })
    await expect(done).rejects.toMatchObject({ code: 'SOURCE_MALFORMED_RECORD', kind: 'user' })
    await expect(done).rejects.toThrow(/line 2 \(byte 8\): the line is 10485760 bytes, longer than maxLineBytes \(1024\).*--max-line-bytes/)
  })

  it('under skip: counted, the other lines read', async () => {
    const { done, out } = await runFile(withLongLine(), 'skip', { maxLineBytes: 1024 })
    const r = await done
    expect(out).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }])
    expect(operatorTotal(r.metrics, 'in', 'skipped')).toBe(1)
  })

  it('under dead-letter: a letter with the head of the line (1 KiB, not 10 MiB) and its length', async () => {
    const { done, out, letters } = await runFile(withLongLine(), 'dead-letter', { maxLineBytes: 1024 })
    await done
    expect(out).toHaveLength(3)
    expect(letters).toHaveLength(1)
    expect(letters[0].position).toMatch(/line 2 \(byte 8\)$/)
    expect(letters[0].reason).toMatch(/10485760 bytes/)
    expect(letters[0].record).toBe(`"${'x'.repeat(1023)}…`)
  })

  it('checkpoint positions stay right across it: resuming before or after it reads the same records', async () => {
    const path = withLongLine()
    const source = fileSource(path, { maxLineBytes: 1024, chunkSize: 64 * 1024 })
    const ctx = new TestSourceContext('skip')
    const reader = await source.open(ctx)
    const first: unknown[] = []
    expect(await reader.read(first, 1)).toBe(1)
    const beforeLong = reader.snapshotPosition?.()
    expect(beforeLong).toEqual({ byteOffset: 8, line: 1, endByte: null })
    expect(await reader.read(first, 1)).toBe(1)
    const afterLong = reader.snapshotPosition?.()
    expect(afterLong).toEqual({ byteOffset: 8 + LONG + 1 + 8, line: 3, endByte: null })
    expect(first).toEqual([{ n: 1 }, { n: 3 }])
    await reader.close?.()
    expect(await readAll(await source.open(new TestSourceContext('skip'), beforeLong))).toEqual([{ n: 3 }, { n: 4 }])
    expect(await readAll(await source.open(new TestSourceContext('skip'), afterLong))).toEqual([{ n: 4 }])
    // The long line was reported once, with its own line number, also after resuming before it.
    const again = new TestSourceContext('skip')
    await readAll(await source.open(again, beforeLong))
    expect(again.badRecords.map((b) => b.position)).toEqual([`${path} line 2 (byte 8)`])
  })

  it('is refused as an option when out of range', () => {
    expect(() => fileSource('x.jsonl', { maxLineBytes: 0 })).toThrow(/maxLineBytes must be a whole number from 1/)
  })
})

describe('dead letters of a line-based source carry the line as read', () => {
  it('a timestamp of 1e400 (Infinity once parsed): the letter keeps the raw text 1e400', async () => {
    const { done, letters } = await runFile(tempFile('{"ts":1}\n{"ts":1e400}\n{"ts":2}\n'), 'dead-letter', { timestamps: true })
    await done
    expect(letters).toHaveLength(1)
    expect(letters[0].record).toBe('{"ts":1e400}')
    expect(letters[0].reason).toMatch(/TIMESTAMP_INVALID: timestamp is Infinity/)
  })

  it('a line that is not valid UTF-8 is malformed; its letter holds the bytes as base64', async () => {
    const bad = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')])
    const path = tempFile(Buffer.concat([Buffer.from('{"name":"ok"}\n'), bad, Buffer.from('\n{"name":"ok2"}\n')]))
    const { done, out, letters } = await runFile(path, 'dead-letter')
    const r = await done
    expect(out).toEqual([{ name: 'ok' }, { name: 'ok2' }])
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({ reason: 'the line is not valid UTF-8', recordEncoding: 'base64', position: `${path} line 2 (byte 14)` })
    expect(Buffer.from(String(letters[0].record), 'base64')).toEqual(bad)
    expect(operatorTotal(r.metrics, 'in', 'deadLettered')).toBe(1)
  })

  it('a line that is not valid UTF-8, under skip: counted', async () => {
    const path = tempFile(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n{"a":1}\n')]))
    const { done, out } = await runFile(path, 'skip')
    const r = await done
    expect(out).toEqual([{ a: 1 }])
    expect(operatorTotal(r.metrics, 'in', 'skipped')).toBe(1)
  })
})

describe('a timestamp error names its own line', () => {
  it('positionOf names each record\'s line, also for the second split of a file and after empty lines', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => (i % 10 === 5 ? '' : `{"line":${i + 1}}`))
    const path = tempFile(`${lines.join('\n')}\n`)
    const reader = await fileSource(path).open(new TestSourceContext('fail', undefined, 'in', 1, 2))
    const out: { line: number }[] = []
    const n = await reader.read(out, 50)
    expect(n).toBeGreaterThan(10)
    for (let i = 0; i < n; i++) expect(reader.positionOf?.(i)).toMatch(new RegExp(`line ${out[i].line} \\(byte \\d+\\)$`))
    expect(reader.rawOf?.(3)).toBe(JSON.stringify(out[3]))
    await reader.close?.()
  })


  it('a bad timestamp at line 1003 names line 1003, not the batch end (line 1024)', async () => {
    const lines = Array.from({ length: 1500 }, (_, i) => (i === 1002 ? '{"ts":"oops"}' : `{"ts":${i}}`))
    const path = tempFile(`${lines.join('\n')}\n`)
    const { done } = await runFile(path, 'fail', { timestamps: true })
    await expect(done).rejects.toThrow(new RegExp(`rejected the record at ${path} line 1003 \\(byte \\d+\\): TIMESTAMP_INVALID.*record: \\{"ts":"oops"\\}`))
  })
})
