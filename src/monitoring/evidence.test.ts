import { describe, expect, it } from 'vitest'
import { describeEvidence } from './evidence.ts'

describe('describeEvidence', () => {
  it('labels each item and gives its value with its unit, in the evidence\'s order', () => {
    expect(describeEvidence({ worker: -1, threadBusyMsPerSecond: 840, task: 'parse -> enrich', parallelism: 1 })).toEqual([
      { key: 'worker', label: 'thread', text: 'main thread' },
      { key: 'threadBusyMsPerSecond', label: 'thread busy', text: '840 ms/s' },
      { key: 'task', label: 'chain', text: 'parse -> enrich' },
      { key: 'parallelism', label: 'parallelism', text: '1' },
    ])
  })

  it('names worker threads by number', () => {
    expect(describeEvidence({ worker: 2 })[0].text).toBe('worker 2')
  })

  it('writes durations, sizes, rates and shares in units a person reads', () => {
    const text = (e: Parameters<typeof describeEvidence>[0]): string[] => describeEvidence(e).map((x) => x.text)
    expect(text({ watermarkLagMs: 420, latencyP99Ms: 4200, timeoutMs: 600_000, windowSeconds: 30 })).toEqual(['420 ms', '4.2 s', '10 min', '30 s'])
    expect(text({ stateBytes: 512, heapUsedBytes: 1.5 * 2 ** 30, lastSizeBytes: 12_595 })).toEqual(['512 B', '1.5 GiB', '12.3 KiB'])
    expect(text({ recordsInPerSecond: 1_234_567, lag: 16_384, waitingPercent: 84, stateGrowthPercent: 'new' })).toEqual(['1,234,567 records/s', '16,384 records', '84 %', 'new'])
  })

  it('keeps a key it does not know as its own label', () => {
    expect(describeEvidence({ somethingNew: 3 } as never)).toEqual([{ key: 'somethingNew', label: 'somethingNew', text: '3' }])
  })
})

describe('numbers in evidence', () => {
  it('group thousands and keep two decimals below 100, as en-US formatting would', () => {
    const cases = [0, 2.5, 0.25, 99.999, 100.4, 16_384, 1_184_607, -2_500, -0.5, 12.345]
    const texts = cases.map((v) => describeEvidence({ parallelism: v })[0].text)
    expect(texts).toEqual(cases.map((v) => v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : 2 })))
  })
})
