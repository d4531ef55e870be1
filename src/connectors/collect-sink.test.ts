import { describe, expect, it } from 'vitest'
import { collectSink } from './collect-sink.ts'
import { sinkContract, testSinkContext } from './sink-contract.ts'

sinkContract('collectSink', () => {
  const sink = collectSink<{ i: number }>()
  return { sink, written: () => sink.records }
}, Array.from({ length: 40 }, (_, i) => ({ i })), { exactlyOnce: true })

describe('collectSink', () => {
  it('keeps the records themselves, in arrival order, across writers', async () => {
    const sink = collectSink<{ id: string }>()
    const a = { id: 'a' }
    const first = await sink.open(testSinkContext)
    const second = await sink.open(testSinkContext)
    await first.write([a])
    await second.write([{ id: 'b' }])
    expect(sink.records).toEqual([{ id: 'a' }, { id: 'b' }])
    expect(sink.records[0]).toBe(a)
  })

  it('fails to recover more records than it holds, as after a process restart', () => {
    const sink = collectSink<number>()
    expect(() => sink.open(testSinkContext, { length: 3 })).toThrow(expect.objectContaining({ code: 'SINK_IO', message: expect.stringContaining('do not survive a process restart') }))
    expect(() => sink.open(testSinkContext, { length: -1 })).toThrow(expect.objectContaining({ code: 'CHECKPOINT_INCOMPATIBLE' }))
  })

  it('keeps the same records array through a recovery', async () => {
    const sink = collectSink<number>()
    const records = sink.records
    const writer = await sink.open(testSinkContext)
    await writer.write([1, 2, 3])
    const commit = await writer.preCommit!(1)
    await writer.write([4])
    await sink.open(testSinkContext, commit)
    expect(sink.records).toBe(records)
    expect(records).toEqual([1, 2, 3])
  })
})
