import { describe, expect, it } from 'vitest'
import { fromArray } from '../connectors/array-source.ts'
import { Pipeline } from '../api/pipeline.ts'
import { isSluiceError } from '../errors.ts'
import { memorySink } from '../testing/index.ts'
import { count } from './aggregate.ts'
import { forEachRecord, type RecordLoop } from './record-loop.ts'
import type { Batch, OperatorContext, Output } from './types.ts'
import { session, tumbling } from './window/assigners.ts'

/** Doubles numbers; throws on negative ones. */
class Doubler implements RecordLoop<number, number> {
  at = 0
  entries = 0
  records(batch: Batch<number>, from: number, _ctx: OperatorContext, out: Output<number>): void {
    this.entries++
    const { records, times } = batch
    for (let i = from; i < records.length; i++) {
      this.at = i
      if (records[i] < 0) throw new RangeError(`negative: ${records[i]}`)
      out.emit(records[i] * 2, times[i])
    }
  }
}

function run(records: number[], policy: 'skip' | 'fail') {
  const failed: unknown[] = []
  const emitted: number[] = []
  const ctx = {
    recordFailed: (r: unknown, e: unknown) => {
      failed.push(r)
      if (policy === 'fail') throw e
    },
  } as unknown as OperatorContext
  const out = { emit: (v: number) => emitted.push(v) } as unknown as Output<number>
  const loop = new Doubler()
  let thrown: unknown = null
  try {
    forEachRecord(loop, { records, times: records.map(() => 0) }, ctx, out, 0)
  } catch (e) {
    thrown = e
  }
  return { failed, emitted, thrown, entries: loop.entries }
}

describe('the record loop', () => {
  it('hands each failing record to the error policy and goes on after it', () => {
    // Entered once, then again after each failure but the last record's.
    expect(run([-1, 2, -3, -4, 5, -6], 'skip')).toEqual({ failed: [-1, -3, -4, -6], emitted: [4, 10], thrown: null, entries: 4 })
    expect(run([], 'skip').entries).toBe(0)
  })

  it("stops at the first failure when the policy rethrows ('fail')", () => {
    const r = run([1, -2, 3], 'fail')
    expect(r.emitted).toEqual([2])
    expect(r.failed).toEqual([-2])
    expect(String(r.thrown)).toMatch(/negative: -2/)
  })
})

describe('records without event time', () => {
  const windowed = (kind: 'tumbling' | 'session', onError: 'skip' | 'fail') => {
    const p = new Pipeline('t')
    const sink = memorySink<unknown>()
    p.source('n', fromArray([1, 2, 3]))
      .keyBy((n) => n % 2)
      .window(kind === 'tumbling' ? tumbling(1000) : session(1000))
      .aggregate('w', count(), { onError })
      .to('out', sink)
    return p.run().done
  }

  it('fail an event-time window, caused by RECORD_NO_EVENT_TIME', async () => {
    const err = await windowed('session', 'fail').then(() => null, (e: unknown) => e)
    expect(isSluiceError(err) && err.code).toBe('RECORD_FAILED')
    const cause = (err as { cause?: unknown }).cause
    expect(isSluiceError(cause) && cause.code).toBe('RECORD_NO_EVENT_TIME')
    // The message users see keeps what to do about it, not only RECORD_FAILED's own hint.
    const message = String((err as Error).message)
    expect(message).toContain('RECORD_NO_EVENT_TIME: record has no event time (its source has no watermark strategy), so an event-time window or join cannot place it')
    expect(message).toContain("(what to do: Give the source a watermark strategy (pipeline.source(id, source, { watermarks: boundedOutOfOrderness({ timestamp, maxOutOfOrdernessMs }) })), or use a processing-time window (tumbling(sizeMs, { time: 'processing' })); see docs/GUIDE.md#event-time-and-watermarks.)")
  })

  it('are skipped and counted under onError: skip', async () => {
    const r = await windowed('tumbling', 'skip')
    // Two-phase aggregation: the local half meets the records first.
    expect(r.metrics.operators.find((o) => o.operator === 'w-local')?.skipped).toBe(3)
  })
})
