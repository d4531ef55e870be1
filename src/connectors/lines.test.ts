import { describe, expect, it } from 'vitest'
import { encodeJsonLines, encodeTextLines } from './line-encoder.ts'
import { LineRecordReader, LineSplitter, type LineRecordOptions } from './lines.ts'
import { TestSourceContext } from './source-contract.ts'

interface Line {
  line: string
  start: number
  end: number
  crlf: boolean
}

/** Feeds `text` in chunks of `chunkBytes` and drains the lines after every chunk. */
function split(text: string | Buffer, chunkBytes: number, startByte = 0, skipFirstLine = false): Line[] {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text
  const splitter = new LineSplitter(startByte, skipFirstLine)
  const lines: Line[] = []
  const drain = (): void => {
    while (splitter.next()) lines.push({ line: splitter.line, start: splitter.lineStart, end: splitter.lineEnd, crlf: splitter.crlf })
  }
  for (let at = 0; at < bytes.length; at += chunkBytes) {
    splitter.push(bytes.subarray(at, at + chunkBytes))
    drain()
  }
  splitter.end()
  drain()
  expect(splitter.done).toBe(true)
  return lines
}

describe('LineSplitter', () => {
  it.each([1, 2, 3, 5, 1000])('splits on \\n with exact byte offsets, chunks of %i bytes', (chunk) => {
    expect(split('ab\ncde\n\nf\n', chunk)).toEqual([
      { line: 'ab', start: 0, end: 3, crlf: false },
      { line: 'cde', start: 3, end: 7, crlf: false },
      { line: '', start: 7, end: 8, crlf: false },
      { line: 'f', start: 8, end: 10, crlf: false },
    ])
  })

  it.each([1, 2, 4])('strips \\r\\n line ends, chunks of %i bytes', (chunk) => {
    expect(split('ab\r\ncd\r\n', chunk)).toEqual([
      { line: 'ab', start: 0, end: 4, crlf: true },
      { line: 'cd', start: 4, end: 8, crlf: true },
    ])
  })

  it('returns a last line without a newline once the input ends', () => {
    expect(split('ab\ncd', 2).map((l) => [l.line, l.start, l.end])).toEqual([['ab', 0, 3], ['cd', 3, 5]])
    expect(split('ab\ncd\r', 100).map((l) => l.line)).toEqual(['ab', 'cd'])
  })

  it('holds back a partial line until its newline arrives', () => {
    const splitter = new LineSplitter(0, false)
    splitter.push(Buffer.from('{"a":1}\n{"b"'))
    expect(splitter.next()).toBe(true)
    expect(splitter.next()).toBe(false)
    expect(splitter.done).toBe(false)
    splitter.push(Buffer.from(':2}\n'))
    expect(splitter.next()).toBe(true)
    expect(splitter.line).toBe('{"b":2}')
    expect(splitter.lineStart).toBe(8)
  })

  it.each([1, 2, 3, 5, 7])('decodes multi-byte UTF-8 characters split across chunks of %i bytes', (chunk) => {
    const text = 'é€😀\nñ😀x\n日本語\n'
    const lines = split(text, chunk)
    expect(lines.map((l) => l.line)).toEqual(['é€😀', 'ñ😀x', '日本語'])
    expect(lines.map((l) => l.start)).toEqual([0, Buffer.byteLength('é€😀\n'), Buffer.byteLength('é€😀\nñ😀x\n')])
  })

  it('drops a UTF-8 byte-order mark at the start of the input only', () => {
    const lines = split(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a\n\uFEFFb\n')]), 2)
    expect(lines.map((l) => l.line)).toEqual(['a', '\uFEFFb'])
    expect(lines[0].start).toBe(0)
  })

  it('skips the partial first line of a range and counts offsets from its start', () => {
    expect(split('xyz\nab\n', 3, 100, true)).toEqual([{ line: 'ab', start: 104, end: 107, crlf: false }])
    expect(split('\nab\n', 3, 100, true)).toEqual([{ line: 'ab', start: 101, end: 104, crlf: false }])
    expect(split('no newline at all', 4, 100, true)).toEqual([])
  })

  it('handles a line longer than any chunk', () => {
    const long = 'x'.repeat(300_000)
    expect(split(`a\n${long}\nb\n`, 65_536).map((l) => l.line.length)).toEqual([1, 300_000, 1])
  })

  it('keeps counting lines and offsets across many pushes', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join('\n')
    const lines = split(text, 37)
    expect(lines.length).toBe(1000)
    expect(lines[999]).toEqual({ line: 'line 999', start: text.lastIndexOf('\n') + 1, end: Buffer.byteLength(text), crlf: false })
  })
})

describe('LineRecordReader', () => {
  const options = (overrides: Partial<LineRecordOptions<unknown>>): LineRecordOptions<unknown> => ({
    name: 'in.jsonl', format: 'jsonl', parse: undefined, csv: undefined, startByte: 0,
    skipFirstLine: false, stopByte: Infinity, lineBase: 0, ...overrides,
  })

  it('stops after max records and resumes where it left off', () => {
    const reader = new LineRecordReader(new TestSourceContext('fail'), options({}))
    reader.push(Buffer.from('1\n2\n3\n'))
    reader.end()
    const out: unknown[] = []
    expect(reader.decode(out, 2)).toBe(2)
    expect(reader.position()).toBe('in.jsonl byte 4 (line 2)')
    expect(reader.decode(out, 2)).toBe(1)
    expect(reader.decode(out, 2)).toBe(0)
    expect(reader.finished).toBe(true)
    expect(out).toEqual([1, 2, 3])
  })

  it('skips blank lines without reporting them', () => {
    const ctx = new TestSourceContext('fail')
    const reader = new LineRecordReader(ctx, options({}))
    reader.push(Buffer.from('\n  \n1\r\n\r\n\t\n2'))
    reader.end()
    const out: unknown[] = []
    reader.decode(out, 100)
    expect(out).toEqual([1, 2])
    expect(ctx.badRecords).toEqual([])
  })

  it('computes a range\'s line base only when a bad record needs it', () => {
    const ctx = new TestSourceContext('skip')
    let calls = 0
    const reader = new LineRecordReader(ctx, options({
      startByte: 9, skipFirstLine: true, lineBase: (first) => { calls++; expect(first).toBe(12); return 4 },
    }))
    reader.push(Buffer.from('x}\n1\nnot json\n'))
    reader.end()
    const out: unknown[] = []
    reader.decode(out, 1)
    expect(reader.position()).toBe('in.jsonl byte 14')
    expect(calls).toBe(0)
    reader.decode(out, 10)
    expect(calls).toBe(1)
    expect(ctx.badRecords[0].position).toBe('in.jsonl line 6 (byte 14)')
    expect(reader.position()).toBe('in.jsonl byte 23 (line 6)')
  })

  it("passes lines through with format 'lines'", () => {
    const reader = new LineRecordReader(new TestSourceContext('fail'), options({ format: 'lines', parse: (v) => (v as string).toUpperCase() }))
    reader.push(Buffer.from('a\n\nb c\n'))
    reader.end()
    const out: unknown[] = []
    reader.decode(out, 10)
    expect(out).toEqual(['A', 'B C'])
  })
})

describe('line encoding', () => {
  it('writes one JSON document a line, null for what JSON cannot represent', () => {
    expect(encodeJsonLines([{ a: 1 }, 'x\ny', undefined, [1]])).toBe('{"a":1}\n"x\\ny"\nnull\n[1]\n')
    expect(encodeJsonLines([])).toBe('')
  })

  it('writes strings as they are and objects as JSON in text format', () => {
    expect(encodeTextLines(['hi', 3, { a: 1 }, null])).toBe('hi\n3\n{"a":1}\nnull\n')
  })
})
