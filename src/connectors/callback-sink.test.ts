import { describe, expect, it } from 'vitest'
import { batchCallbackSink, callbackSink } from './callback-sink.ts'
import { sinkContract, testSinkContext } from './sink-contract.ts'

const sample = Array.from({ length: 40 }, (_, i) => ({ i }))

sinkContract('callbackSink', () => {
  const seen: unknown[] = []
  return { sink: callbackSink((r) => void seen.push(r)), written: () => seen }
}, sample)

sinkContract('callbackSink, async callback', () => {
  const seen: unknown[] = []
  return {
    sink: callbackSink(async (r) => {
      await new Promise((resolve) => setImmediate(resolve))
      seen.push(r)
    }),
    written: () => seen,
  }
}, sample)

sinkContract('batchCallbackSink', () => {
  const batches: (readonly unknown[])[] = []
  return { sink: batchCallbackSink((b) => void batches.push(b)), written: () => batches.flat() }
}, sample)

describe('callbackSink', () => {
  it('awaits an async callback record by record, in order', async () => {
    const log: string[] = []
    const writer = await callbackSink(async (n: number) => {
      log.push(`start ${n}`)
      await new Promise((resolve) => setTimeout(resolve, 3 - n))
      log.push(`end ${n}`)
    }).open(testSinkContext)
    await writer.write([0, 1, 2])
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2'])
  })

  it('passes errors from the callback through unchanged', async () => {
    const boom = new Error('boom')
    const writer = await callbackSink(() => {
      throw boom
    }).open(testSinkContext)
    expect(() => writer.write([1])).toThrow(boom)
  })

  it('rejects a callback that is not a function', () => {
    expect(() => callbackSink(null as unknown as () => void)).toThrow(expect.objectContaining({ code: 'JOB_ARGUMENT_INVALID' }))
    expect(() => batchCallbackSink('x' as unknown as () => void)).toThrow(expect.objectContaining({ code: 'JOB_ARGUMENT_INVALID' }))
  })
})
