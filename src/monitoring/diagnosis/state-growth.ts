/**
 * Rule 5: state that grows steadily and never shrinks, judged over `stateGrowthSamples` (30 s):
 * a window's state grows until the window first closes, so a shorter history would call every
 * young windowed job leaking (the demo's 10 s windows did, for their first 10 s).
 */
import { series, type Context, type Scored } from './context.ts'
import { round } from './text.ts'

export function stateGrowth(ctx: Context): Scored[] {
  return ctx.view.operators.flatMap((op) => {
    const s = series(ctx.longWindow, op.id)
    if (s.length < Math.max(ctx.o.windowSamples, ctx.o.stateGrowthSamples, 2)) return []
    const entries = s.map((x) => x.m.stateEntries)
    const growth = entries[entries.length - 1] - entries[0]
    const ratio = entries[0] > 0 ? growth / entries[0] : Infinity
    const monotonic = entries.every((e, i) => i === 0 || e >= entries[i - 1])
    if (!monotonic || growth <= ctx.o.stateGrowthEntries || ratio <= ctx.o.stateGrowthRatio) return []
    const seconds = (s[s.length - 1].t - s[0].t) / 1000
    const perSecond = round(growth / seconds)
    return [{
      score: ratio === Infinity ? 10 : ratio / ctx.o.stateGrowthRatio,
      finding: {
        kind: 'state-growth', severity: 'warning', operator: op.id, action: null,
        title: `state of \`${op.id}\` grows by ${perSecond} entries/s (${entries[0]} to ${entries[entries.length - 1]} in ${Math.round(seconds)} s) and never shrinks`,
        evidence: {
          stateEntries: op.stateEntries, stateBytes: op.stateBytes, stateGrowthEntriesPerSecond: perSecond,
          stateGrowthPercent: ratio === Infinity ? 'new' : Math.round(ratio * 100), windowSeconds: Math.round(seconds),
        },
        recommendation: `give the state of \`${op.id}\` a TTL if old keys never come back (\`{ ttl: { ttlMs } }\` on keyed state, \`{ ttlMs }\` on an unbounded join), use shorter windows, or check that its windows close (its watermark advances)`,
      },
    }]
  })
}
