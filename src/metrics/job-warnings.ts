/**
 * Warnings a job's end result carries: things that let a run finish "successfully" while it did
 * nothing useful. Today one: every record of a source or operator was rejected (skipped or
 * dead-lettered), typically a wrong column type or timestamp that `onError: 'skip'` hid.
 */
import type { JobMetrics } from './task-metrics.ts'

/** One warning about a finished or stopped job (`JobResult.warnings`). */
export interface JobWarning {
  /** `ALL_RECORDS_REJECTED`: every record of `operator` was skipped or dead-lettered. */
  readonly kind: 'ALL_RECORDS_REJECTED'
  /** The source, operator or sink id. */
  readonly operator: string
  /** Records it rejected (skipped plus dead-lettered), summed over its subtasks. */
  readonly rejected: number
  /** Where and why the first of them was rejected ("views.csv line 2 (byte 13): …"); '' if not known. */
  readonly firstReason: string
  /** For people: "every record of `views` was skipped (17 of 17): first reason: …". */
  readonly message: string
}

/**
 * The warnings `metrics` (of a job that ended) calls for: each source, operator or sink that
 * rejected records and let none through.
 *
 * @example
 * ```ts
 * const result = await pipeline.run().done
 * for (const w of result.warnings) console.warn(w.message)
 * ```
 */
export function jobWarnings(metrics: JobMetrics): JobWarning[] {
  const sums = new Map<string, { in: number; out: number; skipped: number; deadLettered: number; first: string }>()
  for (const m of metrics.operators) {
    let s = sums.get(m.operator)
    if (s === undefined) sums.set(m.operator, (s = { in: 0, out: 0, skipped: 0, deadLettered: 0, first: '' }))
    s.in += m.recordsIn
    s.out += m.recordsOut
    s.skipped += m.skipped
    s.deadLettered += m.deadLettered
    if (s.first === '' && m.firstRejected !== undefined) s.first = m.firstRejected
  }
  const warnings: JobWarning[] = []
  for (const [operator, s] of sums) {
    const rejected = s.skipped + s.deadLettered
    // A source takes no input: all its records were rejected when it let none out.
    const all = rejected > 0 && (s.in === 0 ? s.out === 0 : rejected >= s.in)
    if (!all) continue
    const how = s.deadLettered === 0 ? 'was skipped' : s.skipped === 0 ? 'went to the dead letters' : 'was skipped or dead-lettered'
    const of = s.in === 0 ? `${rejected} records` : `${rejected} of ${s.in}`
    const message = `every record of \`${operator}\` ${how} (${of}): ${s.first === '' ? 'see its onError policy' : `first reason: ${s.first}`}`
    warnings.push({ kind: 'ALL_RECORDS_REJECTED', operator, rejected, firstReason: s.first, message })
  }
  return warnings
}
