import { describe, expect, it } from 'vitest'
import { blackholeSink, countingSink } from './blackhole-sink.ts'
import { collectSink } from './collect-sink.ts'
import { testSinkContext } from './sink-contract.ts'
import { stdoutSink } from './stdout-sink.ts'
import { PassThrough } from 'node:stream'

describe('blackholeSink', () => {
  it('is parallel and exactly-once with nothing to commit (it has no output)', async () => {
    const sink = blackholeSink<number>()
    expect(sink.parallel).toBe(true)
    expect(sink.exactlyOnce).toBe(true)
    const writer = await sink.open(testSinkContext)
    expect(writer.write([1, 2])).toBeUndefined()
    expect(writer.preCommit).toBeUndefined()
  })
})

describe('countingSink', () => {
  it('counts records and passes checkpoint hooks and recovery through to the inner sink', async () => {
    const inner = collectSink<number>()
    const sink = countingSink(inner)
    expect(sink.exactlyOnce).toBe(true)
    const writer = await sink.open(testSinkContext)
    await writer.write([1, 2, 3])
    const commit = await writer.preCommit!(1)
    await writer.commit!(commit)
    await writer.write([4])
    const recovered = await sink.open(testSinkContext, commit)
    expect(inner.records).toEqual([1, 2, 3])
    await recovered.write([4, 5])
    expect(inner.records).toEqual([1, 2, 3, 4, 5])
    expect(sink.count).toBe(6) // the replayed 4 counts twice
  })

  it('declares what the inner sink declares', () => {
    expect(countingSink(stdoutSink({ stream: new PassThrough() })).exactlyOnce).toBe(false)
    expect(countingSink(blackholeSink()).parallel).toBe(true)
  })
})
