/** Rule 7: failing records (counters since start: samples carry no per-second error counts). */
import type { Context, Scored } from './context.ts'
import { round } from './text.ts'

export function failingRecords(ctx: Context): Scored[] {
  const seconds = Math.max(1, ctx.view.uptimeMs / 1000)
  return ctx.view.operators.flatMap((op) => {
    const failed = Math.max(op.errors, op.skippedRecords + op.deadLetteredRecords)
    if (failed === 0) return []
    const perSecond = round(failed / seconds)
    const how = op.deadLetteredRecords > 0 ? 'dead-lettered' : op.skippedRecords > 0 ? 'skipped' : 'failed on'
    return [{
      score: failed / seconds,
      finding: {
        kind: 'errors', severity: 'warning', operator: op.id, action: null,
        title: `\`${op.id}\` ${how} ${failed} records (${perSecond}/s since the job started)`,
        evidence: { errors: op.errors, skippedRecords: op.skippedRecords, deadLetteredRecords: op.deadLetteredRecords, failedPerSecond: perSecond },
        recommendation: op.deadLetteredRecords > 0
          ? `look at the dead-letter output of \`${op.id}\`: each entry has the record, where it came from and why it failed`
          : `records that fail in \`${op.id}\` are dropped; give it \`{ onError: 'dead-letter' }\` in its options (with a \`deadLetter\` sink there or on the pipeline) to see which records fail and why`,
      },
    }]
  })
}
