import { PassThrough, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { sinkContract, testSinkContext } from './sink-contract.ts'
import { stdoutSink } from './stdout-sink.ts'

const sample = Array.from({ length: 50 }, (_, i) => ({ i, text: i % 4 === 0 ? 'line\nbreak ü😀' : `v${i}` }))

function captured(stream: PassThrough): () => string {
  let text = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => (text += chunk))
  return () => text
}

sinkContract('stdoutSink', () => {
  const stream = new PassThrough()
  const text = captured(stream)
  return {
    sink: stdoutSink({ stream }),
    written: () => text().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown),
  }
}, sample)

describe('stdoutSink', () => {
  it('writes a whole batch in one write', async () => {
    const stream = new PassThrough()
    const text = captured(stream)
    let writes = 0
    const original = stream.write.bind(stream)
    stream.write = ((chunk: string) => {
      writes++
      return original(chunk)
    }) as typeof stream.write
    const writer = stdoutSink({ stream }).open(testSinkContext)
    await writer.write([1, 'two', { three: 3 }])
    expect(writes).toBe(1)
    expect(text()).toBe('1\n"two"\n{"three":3}\n')
  })

  it('writes strings as they are in text format', async () => {
    const stream = new PassThrough()
    const text = captured(stream)
    await stdoutSink({ stream, format: 'text' }).open(testSinkContext).write(['hello', 42])
    expect(text()).toBe('hello\n42\n')
  })

  it('waits for drain when the stream is full', async () => {
    const stream = new PassThrough({ highWaterMark: 16 })
    const writer = stdoutSink({ stream }).open(testSinkContext)
    const pending = writer.write(['a fairly long string that fills the buffer'])
    expect(pending).toBeInstanceOf(Promise)
    let drained = false
    void (pending as Promise<void>).then(() => (drained = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(drained).toBe(false)
    stream.resume()
    await pending
    expect(drained).toBe(true)
  })

  it('turns a stream error (a closed pipe) into SINK_IO instead of crashing', async () => {
    const stream = new Writable({
      highWaterMark: 1,
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))
      },
    })
    const writer = stdoutSink({ stream }).open(testSinkContext)
    await expect(writer.write(['x'])).rejects.toMatchObject({ code: 'SINK_IO', message: expect.stringContaining('EPIPE') })
    expect(() => writer.write(['y'])).toThrow(expect.objectContaining({ code: 'SINK_IO' }))
  })

  it('a record JSON cannot encode is the record\'s fault (SINK_RECORD_UNWRITABLE, a user error), not SINK_IO', () => {
    const writer = stdoutSink({ stream: new PassThrough() }).open(testSinkContext)
    expect(() => writer.write([{ n: 1n }])).toThrow(expect.objectContaining({ code: 'SINK_RECORD_UNWRITABLE', kind: 'user', retryable: false }))
  })

  it('reports each record it cannot encode to ctx.reportBadRecord and prints the rest of the batch', () => {
    const stream = new PassThrough()
    const bad: [unknown, string][] = []
    const writer = stdoutSink({ stream }).open({ ...testSinkContext, reportBadRecord: (r, reason) => void bad.push([r, reason]) })
    void writer.write([1, { n: 1n }, 2])
    expect(String(stream.read())).toBe('1\n2\n')
    expect(bad).toEqual([[{ n: 1n }, 'it cannot be encoded as JSON (Do not know how to serialize a BigInt)']])
  })

  it('is at-least-once: preCommit waits for the stream to drain, and a recovery prints again', async () => {
    const stream = new PassThrough({ highWaterMark: 16 })
    const sink = stdoutSink({ stream })
    const writer = sink.open(testSinkContext)
    void writer.write(['a fairly long string that fills the buffer'])
    let committed = false
    const preCommit = Promise.resolve(writer.preCommit!(1)).then((c) => {
      committed = true
      return c
    })
    await new Promise((resolve) => setImmediate(resolve))
    expect(committed).toBe(false)
    const text = captured(stream)
    const commit = await preCommit
    expect(commit).toEqual({})
    writer.commit!(commit)
    await sink.open(testSinkContext, commit).write(['again'])
    expect(text()).toBe('"a fairly long string that fills the buffer"\n"again"\n')
  })
})
