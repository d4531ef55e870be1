import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { readAll, readSource, sourceContract, TestSourceContext } from './source-contract.ts'
import { stdinSource } from './stdin-source.ts'

function ended(text: string): PassThrough {
  const stream = new PassThrough()
  stream.end(text)
  return stream
}

/** The bytes of `text` arriving a few at a time, asynchronously. */
function trickle(text: string, bytesPerChunk: number): Readable {
  const bytes = Buffer.from(text)
  const chunks: Buffer[] = []
  for (let at = 0; at < bytes.length; at += bytesPerChunk) chunks.push(bytes.subarray(at, at + bytesPerChunk))
  return Readable.from(chunks)
}

const events = Array.from({ length: 200 }, (_, i) => ({ i, text: i % 5 === 0 ? 'ünï 😀' : `event ${i}` }))
const jsonl = (records: readonly unknown[]): string => records.map((r) => `${JSON.stringify(r)}\n`).join('')

sourceContract('stdinSource jsonl', (records) => stdinSource({ stream: ended(jsonl(records)) }), events, { replayable: false })
sourceContract('stdinSource jsonl, trickling in', (records) => stdinSource({ stream: trickle(jsonl(records), 7) }), events, { replayable: false })
sourceContract('stdinSource lines', (records) => stdinSource({ stream: trickle(records.map((r) => `${r}\r\n`).join(''), 3), format: 'lines' }),
  Array.from({ length: 50 }, (_, i) => `line ${i} ✓`), { replayable: false })
sourceContract('stdinSource csv', (records) =>
  stdinSource({ stream: ended(`i,text\n${records.map((r) => `${r.i},"${r.text}"\n`).join('')}`), format: 'csv', csv: { types: { i: 'number' } } }),
events, { replayable: false })

describe('stdinSource', () => {
  it('a line longer than maxLineBytes is reported with its line and length, and the next lines are read', async () => {
    const ctx = new TestSourceContext('skip')
    const text = `{"a":1}\n"${'x'.repeat(2 * 1024 * 1024)}"\n{"a":3}\n`
    const records = await readAll(stdinSource({ stream: trickle(text, 64 * 1024), maxLineBytes: 1024 }).open(ctx))
    expect(records).toEqual([{ a: 1 }, { a: 3 }])
    expect(ctx.badRecords.map((b) => [b.position, String(b.raw).length])).toEqual([['stdin line 2 (byte 8)', 1025]])
    expect(ctx.badRecords[0].reason).toMatch(/the line is 2097154 bytes, longer than maxLineBytes \(1024\)/)
  })

  it('infers CSV column types from the first record, and reports a value that does not fit at its line', async () => {
    const ctx = new TestSourceContext('skip')
    const text = 'user,ts,ok\nann,1767225600000,true\nbob,later,false\ncid,1767225602000,FALSE\n'
    expect(await readAll(stdinSource({ stream: trickle(text, 5), format: 'csv' }).open(ctx))).toEqual([
      { user: 'ann', ts: 1767225600000, ok: true },
      { user: 'cid', ts: 1767225602000, ok: false },
    ])
    expect(ctx.badRecords).toEqual([{
      raw: 'bob,later,false',
      reason: "column ts: 'later' is not a number, the type inferred from the column's first value ('1767225600000'); declare the column's type: csv: { types: { ts: 'string' } } (or 'number', 'boolean'; see docs/GUIDE.md#csv-columns)",
      position: 'stdin line 3 (byte 34)',
    }])
  })

  it('waits for input that has not arrived yet', async () => {
    const stream = new PassThrough()
    const reader = stdinSource({ stream }).open(new TestSourceContext('fail'))
    const out: unknown[] = []
    const pending = reader.read(out, 10)
    expect(pending).toBeInstanceOf(Promise)
    stream.write('{"a":1}\n{"a"')
    expect(await pending).toBe(1)
    stream.end(':2}')
    expect(await readAll(reader)).toEqual([{ a: 2 }])
    expect(out).toEqual([{ a: 1 }])
    reader.close()
  })

  it('returns 0 rather than waiting forever on an idle input', async () => {
    const stream = new PassThrough()
    const reader = stdinSource({ stream }).open(new TestSourceContext('fail'))
    expect(await reader.read([], 10)).toBe(0)
    reader.close()
  })

  it('reports malformed lines with their position on stdin', async () => {
    const ctx = new TestSourceContext('skip')
    const records = await readSource(stdinSource({ stream: ended('{"ok":1}\n{oops\n{"ok":2}\n') }), ctx)
    expect(records).toEqual([{ ok: 1 }, { ok: 2 }])
    expect(ctx.badRecords).toEqual([{ raw: '{oops', reason: expect.stringMatching(/^invalid JSON: /), position: 'stdin line 2 (byte 9)' }])
  })

  it('accepts a stream that yields strings', async () => {
    const stream = new PassThrough()
    stream.setEncoding('utf8')
    stream.end('"é"\n"b"\n')
    expect(await readSource(stdinSource({ stream }))).toEqual(['é', 'b'])
  })

  it('turns a stream error into SOURCE_IO', async () => {
    const stream = new PassThrough()
    const reader = stdinSource({ stream }).open(new TestSourceContext('fail'))
    const pending = reader.read([], 10)
    stream.destroy(new Error('EIO: broken pipe'))
    await expect(pending).rejects.toMatchObject({ code: 'SOURCE_IO', message: expect.stringContaining('EIO: broken pipe') })
  })

  it('stops listening to the stream on close', () => {
    const stream = new PassThrough()
    const reader = stdinSource({ stream }).open(new TestSourceContext('fail'))
    expect(stream.listenerCount('readable')).toBe(1)
    reader.close()
    expect(stream.listenerCount('readable')).toBe(0)
    expect(stream.listenerCount('error')).toBe(0)
  })

  it('rejects an unknown format', () => {
    expect(() => stdinSource({ format: 'yaml' as 'lines' })).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })
})
