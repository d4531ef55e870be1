/**
 * Per-partition watermarks: a reader of several partitions, each in event-time order, that reads
 * one partition far ahead of another must not make the other's records late.
 */
import { describe, expect, it } from 'vitest'
import type { Source, SourceReader } from '../../connectors/spi.ts'
import { count, operatorTotal, Pipeline, tumbling, boundedOutOfOrderness } from '../../index.ts'
import { memorySink } from '../../testing/index.ts'
import type { WindowResult } from '../../api/windowed-stream.ts'

interface Ev {
  readonly p: number
  readonly t: number
}

/**
 * Partitions of `perPartition` events each, at times 0, 10, 20… ms; reads all of partition 0 in
 * batches of 50, then all of partition 1, and so on. `perPartitionWatermarks`: the reader reports
 * its partitions (the SPI's partitionCount / lastPartition / partitionEnded).
 */
function skewedSource(partitions: number, perPartition: number, perPartitionWatermarks: boolean): Source<Ev> {
  return {
    kind: 'skewed',
    bounded: true,
    open(): SourceReader<Ev> {
      let p = 0
      let i = 0
      let last = -1
      const reader: SourceReader<Ev> = {
        read(out, max) {
          if (p >= partitions) return -1
          const n = Math.min(max, 50, perPartition - i)
          for (let k = 0; k < n; k++) out.push({ p, t: (i + k) * 10 })
          last = p
          i += n
          if (i === perPartition) {
            p++
            i = 0
          }
          return n
        },
        position: () => `partition ${p} event ${i}`,
      }
      if (perPartitionWatermarks) {
        reader.partitionCount = () => partitions
        reader.lastPartition = () => last
        reader.partitionEnded = (index) => index < p
      }
      return reader
    },
  }
}

async function windowCounts(perPartitionWatermarks: boolean): Promise<{ counts: Map<number, number>; late: number }> {
  const sink = memorySink<WindowResult<number, number>>()
  const p = new Pipeline('skew')
  p.source('s', skewedSource(3, 2000, perPartitionWatermarks), { watermarks: boundedOutOfOrderness({ timestamp: (e: Ev) => e.t, maxOutOfOrdernessMs: 100 }) })
    .keyBy((e) => e.p)
    .window(tumbling(1000))
    .aggregate('w', count())
    .to('out', sink)
  const result = await p.run().done
  const counts = new Map<number, number>()
  for (const r of sink.records) counts.set(r.key, (counts.get(r.key) ?? 0) + r.value)
  return { counts, late: operatorTotal(result.metrics, 'w', 'lateDropped') }
}

describe('per-partition watermarks', () => {
  it('a partition read ahead of the others makes none of their records late', async () => {
    const { counts, late } = await windowCounts(true)
    expect(late).toBe(0)
    expect([...counts.entries()].sort()).toEqual([[0, 2000], [1, 2000], [2, 2000]])
  })

  it('without them (one watermark over the reader) the same reads drop the later partitions as late', async () => {
    // The control: proves the skew in this source is real, so the test above can fail.
    const { counts, late } = await windowCounts(false)
    expect(late).toBeGreaterThan(3000)
    expect(counts.get(0)).toBe(2000)
  })
})
