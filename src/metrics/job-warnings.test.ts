import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../api/pipeline.ts'
import { fileSource } from '../connectors/file-source.ts'
import { memorySink } from '../testing/memory-sink.ts'
import { boundedOutOfOrderness } from '../time/watermarks.ts'
import { jobWarnings } from './job-warnings.ts'
import type { JobMetrics, OperatorMetricsSnapshot } from './task-metrics.ts'

function op(operator: string, subtask: number, counts: Partial<OperatorMetricsSnapshot>): OperatorMetricsSnapshot {
  return { operator, task: operator, subtask, recordsIn: 0, recordsOut: 0, errors: 0, skipped: 0, deadLettered: 0, lateDropped: 0, sideOutputDropped: 0, stateEntries: 0, stateBytes: 0, pendingTimers: 0, ...counts }
}
const metrics = (...operators: OperatorMetricsSnapshot[]): JobMetrics => ({ operators, tasks: [] })

describe('jobWarnings', () => {
  it('warns about a source that let no record out and skipped some, with the first reason', () => {
    expect(jobWarnings(metrics(op('views', 0, { skipped: 18, errors: 18, firstRejected: 'v.csv line 2 (byte 13): bad' })))).toEqual([{
      kind: 'ALL_RECORDS_REJECTED', operator: 'views', rejected: 18, firstReason: 'v.csv line 2 (byte 13): bad',
      message: 'every record of `views` was skipped (18 records): first reason: v.csv line 2 (byte 13): bad',
    }])
  })

  it('sums subtasks: an operator warns only when all of its input, on every subtask, was rejected', () => {
    const some = metrics(op('parse', 0, { recordsIn: 5, skipped: 5, firstRejected: 'input record #1: x' }), op('parse', 1, { recordsIn: 5, recordsOut: 4, skipped: 1 }))
    expect(jobWarnings(some)).toEqual([])
    const all = metrics(op('parse', 0, { recordsIn: 5, skipped: 5 }), op('parse', 1, { recordsIn: 5, deadLettered: 5, firstRejected: 'input record #1: x' }))
    expect(jobWarnings(all).map((w) => w.message)).toEqual(['every record of `parse` was skipped or dead-lettered (10 of 10): first reason: input record #1: x'])
  })

  it('says nothing of a run that rejected nothing, or read nothing', () => {
    expect(jobWarnings(metrics(op('views', 0, { recordsOut: 3 }), op('parse', 0, { recordsIn: 3, recordsOut: 3 }), op('empty', 0, {})))).toEqual([])
  })
})

describe('a run that skipped every record', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-warnings-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('ends with a warning naming the source and the first reason, a string timestamp shown as a string with the CSV hint', async () => {
    const path = join(dir, 'views.csv')
    writeFileSync(path, `user,ts\n${Array.from({ length: 17 }, (_, i) => `u${i},${1767225600000 + i}`).join('\n')}\n`)
    const p = new Pipeline('views')
    p.source('views', fileSource<{ user: string; ts: number }>(path, { csv: { infer: false } }), {
      watermarks: boundedOutOfOrderness({ timestamp: (v: { ts: number }) => v.ts, maxOutOfOrdernessMs: 0 }),
      onError: 'skip',
    }).to('out', memorySink())
    const result = await p.run().done
    expect(result.warnings).toHaveLength(1)
    expect(result.warnings[0]).toMatchObject({ operator: 'views', rejected: 17 })
    expect(result.warnings[0].message).toBe(`every record of \`views\` was skipped (17 records): first reason: ${path} line 2 (byte 8): TIMESTAMP_INVALID: timestamp is "1767225600000" (a string), not a finite number of epoch ms: convert it in the timestamp function (Number(…)), or, reading CSV, declare the column's type (csv: { types: { <column>: 'number' } }, see docs/GUIDE.md#csv-columns)`)
  })

  it('has no warning when the column types are inferred', async () => {
    const path = join(dir, 'typed.csv')
    writeFileSync(path, 'user,ts\nann,1767225600000\n')
    const p = new Pipeline('views')
    const out = memorySink<unknown>()
    p.source('views', fileSource<{ user: string; ts: number }>(path), { watermarks: boundedOutOfOrderness({ timestamp: (v: { ts: number }) => v.ts, maxOutOfOrdernessMs: 0 }), onError: 'skip' }).to('out', out)
    expect((await p.run().done).warnings).toEqual([])
    expect(out.records).toEqual([{ user: 'ann', ts: 1767225600000 }])
  })
})
