/** Rule 3, skew: one subtask of an operator takes far more than its share of the records (or busy time). */
import type { Evidence } from '../evidence.ts'
import type { OperatorView } from '../types.ts'
import { series, type Context, type OpSample, type Scored } from './context.ts'
import { mean, sum } from './measure.ts'
import { cap, round } from './text.ts'

export interface Skew { hotSubtask: number; hot: number; median: number; share: number; metric: 'recordsInPerSecond' | 'busyMsPerSecond' }

export function skewOf(ctx: Context, op: OperatorView): Skew | null {
  const s = series(ctx.window, op.id)
  const p = op.parallelism
  if (p < 2 || op.kind === 'source' || s.length < ctx.o.minSamples) return null
  const avg = (pick: (x: OpSample['subtasks'][number]) => number): number[] =>
    Array.from({ length: p }, (_, i) => mean(s.map((x) => (x.m.subtasks[i] === undefined ? 0 : pick(x.m.subtasks[i])))))
  const records = avg((x) => x.recordsInPerSecond)
  const busy = avg((x) => x.busyMsPerSecond)
  const [metric, values] = sum(records) >= ctx.o.skewMinRecordsPerSecond ? ['recordsInPerSecond', records] as const
    : Math.max(...busy) >= ctx.o.skewMinBusyMsPerSecond ? ['busyMsPerSecond', busy] as const : [null, []] as const
  if (metric === null) return null
  const hot = Math.max(...values)
  const median = [...values].sort((a, b) => a - b)[(p - 1) >> 1] // the lower middle: with two subtasks, the smaller
  const share = hot / sum(values)
  if (hot < ctx.o.skewMaxToMedian * median || share < ctx.o.skewShareFactor / p) return null
  return { hotSubtask: values.indexOf(hot), hot, median, share, metric }
}

export function skews(ctx: Context): Scored[] {
  return ctx.view.operators.flatMap((op) => {
    const skew = skewOf(ctx, op)
    if (skew === null) return []
    const unit = skew.metric === 'recordsInPerSecond' ? 'records/s' : 'ms/s busy'
    const keys = hotKeysText(op)
    const evidence: Evidence = {
      parallelism: op.parallelism,
      hotSubtask: skew.hotSubtask,
      [`hotSubtask${cap(skew.metric)}`]: round(skew.hot),
      [`median${cap(skew.metric)}`]: round(skew.median),
      hotSubtaskSharePercent: Math.round(skew.share * 100),
    }
    if (keys !== null) {
      evidence.hotKeys = keys
      if (typeof op.hotKeysSampled === 'number') evidence.hotKeysSampled = op.hotKeysSampled
    }
    const topKey = op.hotKeys?.[0]?.key
    const twoPhase = isOnePhaseWindowAggregate(op)
    return [{
      score: (skew.share * op.parallelism) / ctx.o.skewShareFactor,
      finding: {
        kind: 'skew', severity: 'warning', operator: op.id, evidence,
        title: `\`${op.id}\` is skewed: subtask ${skew.hotSubtask} gets ${Math.round(skew.share * 100)}% of its load (${round(skew.hot)} ${unit} against a median of ${round(skew.median)})${keys === null ? '' : `, hot keys ${keys}`}`,
        recommendation: `${twoPhase ? 'enable two-phase aggregation (give its aggregate a `merge()` and do not set `twoPhase: false`), which pre-aggregates before the exchange' : 'pre-aggregate before the keyBy (two-phase)'}, salt the hot key${topKey === undefined ? '' : ` \`${topKey}\``} (add a small random suffix, then combine the partial results), or key by something finer`,
        action: twoPhase ? { kind: 'enable-two-phase', operator: op.id } : null,
      },
    }]
  })
}

/** "`user-42` (55 %), `user-7` (5 %) of 12,800 sampled records": the top three and the sample behind them. */
export function hotKeysText(op: OperatorView): string | null {
  const top = (op.hotKeys ?? []).slice(0, 3)
  if (top.length === 0) return null
  const sample = typeof op.hotKeysSampled === 'number' ? ` of ${op.hotKeysSampled.toLocaleString('en-US')} sampled records` : ''
  return `${top.map((k) => `\`${k.key}\` (${Math.round(k.share * 100)} %)`).join(', ')}${sample}`
}

/** Two-phase window aggregates carry "(merge)" in their label; rolling aggregates have no two-phase form. */
export function isOnePhaseWindowAggregate(op: OperatorView): boolean {
  return op.label.startsWith('window(') && /\.(aggregate|reduce)\b/.test(op.label) && !op.label.includes('merge')
}
