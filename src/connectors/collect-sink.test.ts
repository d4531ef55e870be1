import { describe, expect, it } from 'vitest'
import { collectSink } from './collect-sink.ts'
import { sinkContract, testSinkContext } from './sink-contract.ts'

sinkContract('collectSink', () => {
  const sink = collectSink<{ i: number }>()
  return { sink, written: () => sink.records }
}, Array.from({ length: 40 }, (_, i) => ({ i })))

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
})
