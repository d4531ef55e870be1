import { describe, expect, it } from 'vitest'
import { LineSplitter, OVERLONG_HEAD_BYTES } from './line-splitter.ts'

interface Out {
  line: string
  start: number
  end: number
  bytes: number
  overlong: boolean
}

const MiB = 1024 * 1024

/** Pushes `parts` in chunks of `chunkBytes`, draining after each; returns the lines and the most the splitter held. */
function run(parts: (string | Buffer)[], chunkBytes: number, maxLineBytes: number, startByte = 0, skipFirstLine = false): { lines: Out[]; peak: number } {
  const bytes = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)))
  const s = new LineSplitter(startByte, skipFirstLine, maxLineBytes)
  const lines: Out[] = []
  let peak = 0
  const drain = (): void => {
    while (s.next()) lines.push({ line: s.line, start: s.lineStart, end: s.lineEnd, bytes: s.lineBytes, overlong: s.overlong })
  }
  for (let at = 0; at < bytes.length; at += chunkBytes) {
    s.push(bytes.subarray(at, at + chunkBytes))
    peak = Math.max(peak, s.bufferedBytes)
    drain()
  }
  s.end()
  drain()
  expect(s.done).toBe(true)
  return { lines, peak }
}

describe('LineSplitter with maxLineBytes', () => {
  it('a 10 MiB line over a 1 KiB maximum comes out overlong with its head and exact offsets, never buffered whole', () => {
    const long = 'x'.repeat(10 * MiB)
    const { lines, peak } = run(['a\n', long, '\nb\n'], 64 * 1024, 1024)
    expect(lines.map((l) => [l.line.length, l.start, l.end, l.bytes, l.overlong])).toEqual([
      [1, 0, 2, 1, false],
      [1024, 2, 2 + 10 * MiB + 1, 10 * MiB, true],
      [1, 2 + 10 * MiB + 1, 2 + 10 * MiB + 3, 1, false],
    ])
    expect(lines[1].line).toBe('x'.repeat(1024))
    expect(peak).toBeLessThan(256 * 1024)
  })

  it('a long line that arrives whole in one chunk is overlong too', () => {
    const { lines } = run(['a\n', 'y'.repeat(5000), '\nb\n'], 1 * MiB, 1024)
    expect(lines.map((l) => [l.line.length, l.bytes, l.overlong])).toEqual([[1, 1, false], [1024, 5000, true], [1, 1, false]])
  })

  it('a long last line without a newline ends at the end of input', () => {
    const { lines } = run(['a\n', 'z'.repeat(100_000)], 4096, 1000)
    expect(lines.map((l) => [l.start, l.end, l.bytes, l.overlong, l.line.length])).toEqual([[0, 2, 1, false, 1], [2, 100_002, 100_000, true, 1000]])
  })

  it('a line of exactly maxLineBytes is not overlong; one byte more is', () => {
    expect(run(['q'.repeat(1024), '\n'], 100, 1024).lines.map((l) => l.overlong)).toEqual([false])
    expect(run(['q'.repeat(1025), '\n'], 100, 1024).lines.map((l) => [l.overlong, l.bytes])).toEqual([[true, 1025]])
  })

  it('keeps no half character at the end of the head', () => {
    const { lines } = run(['é'.repeat(3000), '\n'], 512, 1001)
    expect(lines[0].overlong).toBe(true)
    expect(lines[0].line).toBe('é'.repeat(500))
    expect(OVERLONG_HEAD_BYTES).toBe(1024)
  })

  it('a range whose partial first line is long skips it without reporting or holding it', () => {
    const { lines, peak } = run(['w'.repeat(2 * MiB), '\nok\n'], 64 * 1024, 1024, 500, true)
    expect(lines).toEqual([{ line: 'ok', start: 500 + 2 * MiB + 1, end: 500 + 2 * MiB + 4, bytes: 2, overlong: false }])
    expect(peak).toBeLessThan(256 * 1024)
  })

  it.each([1, 2, 3, 5, 64])('flags exactly the lines that are not UTF-8, whatever the chunks (%i bytes)', (chunk) => {
    const bytes = Buffer.concat([Buffer.from('é😀\n'), Buffer.from([0x78, 0xc3, 0x0a]), Buffer.from('日本\n'), Buffer.from([0xf0, 0x9f])])
    const s = new LineSplitter(0, false)
    const flags: boolean[] = []
    for (let at = 0; at < bytes.length; at += chunk) {
      s.push(bytes.subarray(at, at + chunk))
      while (s.next()) flags.push(s.invalidUtf8)
    }
    s.end()
    while (s.next()) flags.push(s.invalidUtf8)
    expect(flags).toEqual([false, true, false, true])
  })

  it('flags a line that is not valid UTF-8, and not one holding a real U+FFFD', () => {
    const s = new LineSplitter(0, false)
    s.push(Buffer.concat([Buffer.from('ok \uFFFD\n'), Buffer.from([0x61, 0xff, 0x62, 0x0a])]))
    expect(s.next()).toBe(true)
    expect(s.invalidUtf8).toBe(false)
    expect(s.next()).toBe(true)
    expect(s.invalidUtf8).toBe(true)
    expect([...(s.bytesAt(s.lineStart) as Buffer)]).toEqual([0x61, 0xff, 0x62])
  })
})
