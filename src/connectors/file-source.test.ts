import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileSource, type FileSourceOptions } from './file-source.ts'
import { expectResumesFromSnapshots, readAll, readSource, sourceContract, TestSourceContext } from './source-contract.ts'
import type { SourcePosition } from './spi.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-file-source-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
function tempFile(content: string | Buffer, extension = 'jsonl'): string {
  const path = join(dir, `input-${++files}.${extension}`)
  writeFileSync(path, content)
  return path
}

interface Row {
  id: number
  name: string
  price: number
  ok: boolean
}

const rows: Row[] = Array.from({ length: 300 }, (_, i) => ({
  id: i,
  name: ['plain', 'with, comma', 'say "hi"', 'two\nlines', 'ünïcödé 😀', ''][i % 6],
  price: i * 1.25,
  ok: i % 3 === 0,
}))

function jsonl(records: readonly unknown[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('')
}

function csvField(value: unknown): string {
  const text = String(value)
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

function csv(records: readonly Row[], lineEnd = '\n'): string {
  return ['id,name,price,ok', ...records.map((r) => [r.id, r.name, r.price, r.ok].map(csvField).join(','))].join(lineEnd) + lineEnd
}

const csvTypes = { types: { id: 'number', price: 'number', ok: 'boolean' } } as const

sourceContract('fileSource jsonl', (records) => fileSource(tempFile(jsonl(records))), rows, { parallelism: [2, 3] })
sourceContract('fileSource jsonl, 7-byte chunks', (records) => fileSource(tempFile(jsonl(records)), { chunkSize: 7 }), rows, { parallelism: [2, 3] })
sourceContract('fileSource lines, CRLF, 3-byte chunks', (records) =>
  fileSource(tempFile(records.map((r) => `${r}\r\n`).join(''), 'txt'), { format: 'lines', chunkSize: 3 }),
Array.from({ length: 120 }, (_, i) => `line ${i} ${'ü😀'.repeat(i % 4)}`), { parallelism: [2, 3] })
sourceContract('fileSource csv', (records) => fileSource(tempFile(csv(records), 'csv'), { csv: csvTypes }), rows)
sourceContract('fileSource csv, CRLF, 5-byte chunks', (records) =>
  fileSource(tempFile(csv(records, '\r\n'), 'csv'), { csv: csvTypes, chunkSize: 5 }), rows)

describe('fileSource decoding', () => {
  it('reads CRLF line ends and a last line without a newline', async () => {
    const path = tempFile('{"a":1}\r\n{"a":2}\r\n\r\n{"a":3}')
    expect(await readSource(fileSource(path))).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }])
  })

  it.each([1, 2, 3, 5])('decodes multi-byte UTF-8 split across %i-byte chunks', async (chunkSize) => {
    const records = [{ s: 'é' }, { s: '€uro' }, { s: '😀😀' }, { s: '日本語のテキスト' }]
    expect(await readSource(fileSource(tempFile(jsonl(records)), { chunkSize }))).toEqual(records)
  })

  it('picks the format from the extension unless told', async () => {
    const path = tempFile('a,b\n1,2\n', 'csv')
    expect(await readSource(fileSource(path))).toEqual([{ a: 1, b: 2 }])
    expect(await readSource(fileSource(path, { format: 'lines' }))).toEqual(['a,b', '1,2'])
    expect(await readSource(fileSource(tempFile('[1]\n', 'txt')))).toEqual([[1]])
  })

  it('applies parse to every decoded record', async () => {
    const path = tempFile('{"n":1}\n{"n":2}\n')
    expect(await readSource(fileSource(path, { parse: (v) => (v as { n: number }).n * 10 }))).toEqual([10, 20])
  })

  it('reports the byte offset after the last record as position and byteOffset()', async () => {
    const content = '{"a":1}\n{"a":2}\n'
    const path = tempFile(content)
    const reader = await fileSource(path).open(new TestSourceContext('fail'))
    expect(reader.position()).toBe(`${path} byte 0 (line 0)`)
    const out: unknown[] = []
    expect(await reader.read(out, 1)).toBe(1)
    expect(reader.byteOffset()).toBe(8)
    expect(reader.position()).toBe(`${path} byte 8 (line 1)`)
    await readAll(reader)
    expect(reader.byteOffset()).toBe(Buffer.byteLength(content))
    expect(reader.position()).toBe(`${path} byte 16 (line 2)`)
    await reader.close()
  })
})

describe('fileSource bad records', () => {
  const badJsonl = '{"id":1}\n{"id":2,}\n\n{"id":3}\nnot json\n{"id":"four"}\n{"id":5}'

  function positionOf(content: string, line: number): number {
    return Buffer.byteLength(content.split('\n').slice(0, line - 1).map((l) => `${l}\n`).join(''))
  }

  it('reports each malformed line with its line number and byte, and carries on (skip, dead-letter)', async () => {
    const path = tempFile(badJsonl)
    const ctx = new TestSourceContext('skip')
    const parse = (v: unknown): { id: number } => {
      const id = (v as { id: unknown }).id
      if (typeof id !== 'number') throw new Error(`id must be a number, got ${JSON.stringify(id)}`)
      return { id }
    }
    expect(await readSource(fileSource(path, { parse }), ctx, 2)).toEqual([{ id: 1 }, { id: 3 }, { id: 5 }])
    expect(ctx.badRecords).toHaveLength(3)
    expect(ctx.badRecords[0]).toEqual({ raw: '{"id":2,}', reason: expect.stringMatching(/^invalid JSON: .+/), position: `${path} line 2 (byte 9)` })
    expect(ctx.badRecords[1]).toEqual({ raw: 'not json', reason: expect.stringMatching(/^invalid JSON: /), position: `${path} line 5 (byte ${positionOf(badJsonl, 5)})` })
    expect(ctx.badRecords[2]).toEqual({ raw: '{"id":"four"}', reason: 'id must be a number, got "four"', position: `${path} line 6 (byte ${positionOf(badJsonl, 6)})` })
  })

  it('fails the read on the first malformed line under policy fail', async () => {
    const path = tempFile(badJsonl)
    const ctx = new TestSourceContext('fail')
    await expect(readSource(fileSource(path), ctx)).rejects.toMatchObject({
      code: 'SOURCE_MALFORMED_RECORD',
      message: expect.stringContaining(`${path} line 2 (byte 9)`),
    })
    expect(ctx.badRecords).toHaveLength(1)
  })

  it('reports CSV records with the wrong field count or an unconvertible value at their first line', async () => {
    const content = 'a,b,price\n1,"multi\nline",3\n1,2\n"x\ny",2,abc\n4,5,6\n'
    const path = tempFile(content, 'csv')
    const ctx = new TestSourceContext('skip')
    expect(await readSource(fileSource(path, { csv: { types: { price: 'number' } } }), ctx)).toEqual([
      { a: 1, b: 'multi\nline', price: 3 },
      { a: 4, b: '5', price: 6 },
    ])
    expect(ctx.badRecords).toEqual([
      { raw: '1,2', reason: 'expected 3 fields, got 2', position: `${path} line 4 (byte ${positionOf(content, 4)})` },
      { raw: '"x\ny",2,abc', reason: expect.stringMatching(/^column a: 'x\ny' is not a number, the type inferred from the column's first value \('1'\); declare the column's type: csv: \{ types: \{ a: 'string' \} \}/), position: `${path} line 5 (byte ${positionOf(content, 5)})` },
    ])
  })

  it('reports an unterminated quoted field at the end of the file', async () => {
    const path = tempFile('a,b\n1,2\n3,"open\n4,5\n', 'csv')
    const ctx = new TestSourceContext('skip')
    expect(await readSource(fileSource(path), ctx)).toEqual([{ a: 1, b: 2 }])
    expect(ctx.badRecords).toEqual([{ raw: '3,"open\n4,5', reason: 'unterminated quoted field at end of input', position: `${path} line 3 (byte 8)` }])
  })

  it('names the right line when reading a range that starts mid-file', async () => {
    const content = Array.from({ length: 50 }, (_, i) => (i === 37 ? 'oops' : JSON.stringify({ i }))).join('\n')
    const path = tempFile(content)
    const ctx = new TestSourceContext('skip')
    const startByte = positionOf(content, 20) + 3
    await readSource(fileSource(path, { startByte }), ctx)
    expect(ctx.badRecords.map((b) => b.position)).toEqual([`${path} line 38 (byte ${positionOf(content, 38)})`])
  })
})

describe('fileSource byte ranges', () => {
  async function readRanges(path: string, cuts: readonly number[], options: FileSourceOptions<unknown> = {}): Promise<unknown[]> {
    const bounds = [0, ...cuts, Infinity]
    const all: unknown[] = []
    for (let i = 0; i + 1 < bounds.length; i++) {
      const endByte = bounds[i + 1] === Infinity ? undefined : bounds[i + 1]
      all.push(...(await readSource(fileSource(path, { ...options, startByte: bounds[i], endByte }))))
    }
    return all
  }

  it('gives every record exactly once, whatever byte the file is cut at', async () => {
    const records = Array.from({ length: 12 }, (_, i) => ({ i, s: 'é'.repeat(i % 4) }))
    const content = `${jsonl(records)}\n\r\n{"last":true}`
    const path = tempFile(content)
    const expected = [...records, { last: true }]
    const size = Buffer.byteLength(content)
    for (let cut = 0; cut <= size + 1; cut++) {
      expect(await readRanges(path, [cut], { chunkSize: 16 })).toEqual(expected)
    }
  })

  it('gives every record exactly once across many random ranges, CSV with header included', async () => {
    const plain = rows.filter((r) => !r.name.includes('\n'))
    const path = tempFile(csv(plain, '\r\n'), 'csv')
    const size = Buffer.byteLength(csv(plain, '\r\n'))
    let seed = 42
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let round = 0; round < 20; round++) {
      const cuts = Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * size)).sort((a, b) => a - b)
      expect(await readRanges(path, cuts, { csv: csvTypes, chunkSize: 64 })).toEqual(plain)
    }
  })

  it('infers CSV column types from the file\'s first record in every range, also one that starts past it', async () => {
    // The first record has 2 fields too few: types come from the next one, in every range alike.
    const content = 'user,ts,zip\nshort\nann,1767225600000,12\nbob,1767225601000,07\ncid,1767225602000,x\n'
    const path = tempFile(content, 'csv')
    const expected = [
      { user: 'ann', ts: 1767225600000, zip: 12 },
      { user: 'bob', ts: 1767225601000, zip: 7 },
    ]
    for (let cut = 0; cut <= content.length; cut++) {
      const ctx = new TestSourceContext('skip')
      const out: unknown[] = []
      for (const [startByte, endByte] of [[0, cut], [cut, Infinity]] as const) {
        const reader = await fileSource(path, { startByte, ...(endByte === Infinity ? {} : { endByte }) }).open(ctx)
        for (let n = await reader.read(out, 100); n >= 0; n = await reader.read(out, 100));
      }
      expect(out).toEqual(expected)
      expect(ctx.badRecords.map((b) => b.reason)).toEqual(['expected 3 fields, got 1', expect.stringContaining("column zip: 'x' is not a number, the type inferred from the column's first value ('12')")])
    }
  })
})

describe('fileSource errors', () => {
  it('fails to open a missing file with SOURCE_IO naming the path and the reason', async () => {
    const path = join(dir, 'does-not-exist.jsonl')
    await expect(fileSource(path).open(new TestSourceContext())).rejects.toMatchObject({
      code: 'SOURCE_IO',
      message: expect.stringMatching(new RegExp(`${path.replaceAll('\\', '\\\\')}.*ENOENT`)),
    })
  })

  it('fails to open a directory with SOURCE_IO', async () => {
    await expect(fileSource(dir).open(new TestSourceContext())).rejects.toMatchObject({ code: 'SOURCE_IO', message: expect.stringContaining('directory') })
  })

  it.each<[FileSourceOptions<unknown>]>([
    [{ format: 'xml' as 'csv' }],
    [{ startByte: -1 }],
    [{ startByte: 10, endByte: 5 }],
    [{ chunkSize: 0 }],
    [{ format: 'csv', csv: { delimiter: '' } }],
  ])('rejects the options %j when the source is built', (options) => {
    expect(() => fileSource('x.jsonl', options)).toThrow(expect.objectContaining({ code: 'CONNECTOR_OPTION_INVALID' }))
  })
})

describe('file source split across parallel readers', () => {
  it('p readers together read every line exactly once (JSON Lines), and CSV does not split', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'sluice-split-'))
    const path = join(dir, 'rows.jsonl')
    const rows = Array.from({ length: 5000 }, (_, i) => ({ i, s: 'é'.repeat(i % 7) }))
    writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n')
    expect(fileSource(path).splittable).toBe(true)
    expect(fileSource(join(dir, 'x.csv')).splittable).toBe(false)
    expect(fileSource(path, { startByte: 0, endByte: 10 }).splittable).toBe(false)
    for (const p of [2, 3, 7]) {
      const all: { i: number }[] = []
      for (let k = 0; k < p; k++) {
        const part = await readSource(fileSource<{ i: number }>(path), new TestSourceContext('fail', undefined, 'test-source', k, p))
        expect(part.length).toBeGreaterThan(0)
        all.push(...part)
      }
      expect(all.map((r) => r.i).sort((a, b) => a - b)).toEqual(rows.map((r) => r.i))
    }
  })
})

describe('fileSource positions', () => {
  const context = (subtaskIndex = 0, parallelism = 1) => (): TestSourceContext =>
    new TestSourceContext('fail', undefined, 'test-source', subtaskIndex, parallelism)

  it('resumes a CSV file cut into 2 and 3 byte ranges (header read again), each range from every snapshot', async () => {
    const plain = rows.filter((r) => !r.name.includes('\n'))
    const content = csv(plain)
    const path = tempFile(content, 'csv')
    const size = Buffer.byteLength(content)
    for (const p of [2, 3]) {
      const all: unknown[] = []
      for (let k = 0; k < p; k++) {
        const startByte = Math.floor((size * k) / p)
        const endByte = k === p - 1 ? undefined : Math.floor((size * (k + 1)) / p)
        const source = fileSource(path, { csv: csvTypes, startByte, endByte, chunkSize: 64 })
        all.push(...(await expectResumesFromSnapshots(source, context(), [3, 1, 17], Infinity)))
      }
      expect(all).toEqual(plain)
    }
  })

  it('resumes at the first line of a CSV record spanning lines when a snapshot falls inside it', async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ id: i, name: i % 3 === 0 ? `a\n${'long '.repeat(20)}\nfield ${i}` : `row ${i}`, price: i, ok: true }))
    const source = fileSource(tempFile(csv(records), 'csv'), { csv: csvTypes, chunkSize: 16 })
    const reader = await source.open(new TestSourceContext('fail'))
    const out: unknown[] = []
    let insideRecord = 0
    while ((await reader.read(out, 4)) !== -1) {
      // The reader has consumed lines of a record it has not returned yet.
      if (reader.snapshotPosition().byteOffset < reader.byteOffset()) insideRecord++
    }
    await reader.close()
    expect(insideRecord).toBeGreaterThan(0)
    expect(await expectResumesFromSnapshots(source, context(), [4], Infinity)).toEqual(records)
  })

  /** Lines of 4-byte characters only, long enough that a cut into `parts` ranges splits a character. */
  function emojiLines(parts: readonly number[]): { content: string; lines: string[] } {
    for (let count = 5; ; count++) {
      const lines = Array.from({ length: count }, (_, i) => '😀'.repeat(1 + (i % 5)))
      const content = lines.map((l) => `${l}\n`).join('')
      const bytes = Buffer.from(content)
      const cutsInsideCharacters = parts.every((p) => Array.from({ length: p - 1 }, (_, k) => bytes[Math.floor((bytes.length * (k + 1)) / p)])
        .every((b) => (b & 0xc0) === 0x80))
      if (cutsInsideCharacters) return { content, lines }
    }
  }

  it('resumes splits whose range boundaries fall inside multi-byte characters, read in 5-byte chunks', async () => {
    const { content, lines } = emojiLines([2, 3])
    const path = tempFile(content, 'txt')
    for (const p of [2, 3]) {
      const shares: unknown[][] = []
      for (let k = 0; k < p; k++) {
        shares.push(await expectResumesFromSnapshots(fileSource(path, { format: 'lines', chunkSize: 5 }), context(k, p), [1], Infinity))
      }
      expect(shares.every((share) => share.length > 0)).toBe(true)
      expect(shares.flat()).toEqual(lines)
    }
  })

  it('reads from the next line when a position points inside a multi-byte character', async () => {
    const lines = ['ab', '€€€', 'cd', 'é😀é', 'last']
    const content = lines.map((l) => `${l}\n`).join('')
    const path = tempFile(content, 'txt')
    const euroStart = Buffer.byteLength('ab\n')
    const emojiStart = Buffer.byteLength('ab\n€€€\ncd\né')
    for (const [byteOffset, expected] of [[euroStart + 1, lines.slice(2)], [euroStart + 4, lines.slice(2)], [emojiStart + 2, lines.slice(4)]] as const) {
      const reader = await fileSource(path, { format: 'lines', chunkSize: 2 }).open(new TestSourceContext('fail'), { byteOffset, line: null, endByte: null })
      expect(await readAll(reader)).toEqual(expected)
      await reader.close()
    }
  })

  it('names the right line of a bad record after resuming, whether or not the position counted lines', async () => {
    const content = Array.from({ length: 50 }, (_, i) => (i === 37 ? 'oops' : JSON.stringify({ i }))).join('\n')
    const path = tempFile(content)
    const badAt = `${path} line 38 (byte ${Buffer.byteLength(content.split('\n').slice(0, 37).map((l) => `${l}\n`).join(''))})`
    for (const [k, p] of [[0, 1], [1, 2]]) {
      const source = fileSource(path, { chunkSize: 32 })
      const reader = await source.open(new TestSourceContext('skip', undefined, 'test-source', k, p))
      const out: unknown[] = []
      while (out.length < 3) await reader.read(out, 1)
      const at = reader.snapshotPosition()
      expect(at.line === null).toBe(k > 0) // a split reader has not counted the lines before its range
      await reader.close()
      const ctx = new TestSourceContext('skip', undefined, 'test-source', k, p)
      await readSource(source, ctx)
      const resumedCtx = new TestSourceContext('skip', undefined, 'test-source', k, p)
      const resumed = await source.open(resumedCtx, at)
      await readAll(resumed)
      await resumed.close()
      expect(resumedCtx.badRecords.map((b) => b.position)).toEqual([badAt])
      expect(ctx.badRecords.map((b) => b.position)).toEqual([badAt])
    }
  })

  it('keeps the line count in positions it takes after resuming', async () => {
    const path = tempFile(jsonl(rows.slice(0, 20)))
    const source = fileSource(path)
    const reader = await source.open(new TestSourceContext('fail'), { byteOffset: Buffer.byteLength(jsonl(rows.slice(0, 5))), line: 5, endByte: null })
    await reader.read([], 2)
    expect(reader.snapshotPosition()).toEqual({ byteOffset: Buffer.byteLength(jsonl(rows.slice(0, 7))), line: 7, endByte: null })
    await reader.close()
  })

  it('refuses a position of another split or a malformed one with CHECKPOINT_INCOMPATIBLE, and one past the end of the file with SOURCE_IO', async () => {
    const content = jsonl(rows)
    const path = tempFile(content)
    const size = Buffer.byteLength(content)
    const half = Math.floor(size / 2)
    const open = (from: Record<string, unknown>, k = 0, p = 1) =>
      fileSource(path).open(new TestSourceContext('fail', undefined, 'test-source', k, p), from as SourcePosition)
    await expect(open({ byteOffset: 10, line: null, endByte: half })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('did the parallelism or the file change?') })
    await expect(open({ byteOffset: 10, line: null, endByte: null }, 1, 2)).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining(`starts at ${half}`) })
    await expect(open({ byteOffset: -1, line: null, endByte: null })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE', message: expect.stringContaining('byteOffset must be a whole number') })
    await expect(open({ byteOffset: 0, line: 'x', endByte: null })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE' })
    await expect(open({ index: 4 })).rejects.toMatchObject({ code: 'CHECKPOINT_INCOMPATIBLE' })
    await expect(open({ byteOffset: size + 1, line: null, endByte: null })).rejects.toMatchObject({ code: 'SOURCE_IO', message: expect.stringContaining(`has only ${size} bytes`) })
  })
})
