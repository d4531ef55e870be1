/** Rule 4: a watermark stalled or falling behind, reported where it starts, with the input that holds it. */
import type { Evidence } from '../evidence.ts'
import type { OperatorView } from '../types.ts'
import { ancestors, inputs, series, type Context, type OpSample, type Scored } from './context.ts'
import { share } from './measure.ts'
import { round } from './text.ts'

interface WatermarkTrouble { stalled: boolean; lagMs: number | null; advanceMs: number | null; elapsedMs: number }

export function watermarkStalls(ctx: Context): Scored[] {
  const troubled = new Map<string, WatermarkTrouble>()
  for (const op of ctx.view.operators) {
    const t = watermarkTrouble(ctx, op)
    if (t !== null) troubled.set(op.id, t)
  }
  // Downstream of a held watermark every watermark is held too: report only where it starts.
  return [...troubled].filter(([id]) => ![...ancestors(ctx, id)].some((a) => troubled.has(a))).map(([id, t]) => {
    const op = ctx.ops.get(id) as OperatorView
    const heldDownstream = [...troubled.keys()].filter((d) => ancestors(ctx, d).has(id))
    return watermarkFinding(ctx, op, t, heldDownstream)
  })
}

function watermarkTrouble(ctx: Context, op: OperatorView): WatermarkTrouble | null {
  const s = series(ctx.window, op.id)
  if (s.length < ctx.o.minSamples) return null
  const rate = (m: OpSample): number => (op.kind === 'source' ? m.recordsOutPerSecond : m.recordsInPerSecond)
  if (share(s.map((x) => rate(x.m)), (r) => r > 0) < ctx.o.persistenceShare) return null
  const lags = s.flatMap((x) => (x.m.watermarkLagMs === null ? [] : [{ t: x.t, lag: x.m.watermarkLagMs }]))
  const elapsedMs = s[s.length - 1].t - s[0].t
  if (lags.length === 0) {
    // Records flow but no watermark ever came, though an upstream operator has one: an input never emitted any.
    const upstreamHasOne = [...ancestors(ctx, op.id)].some((a) => typeof ctx.ops.get(a)?.watermark === 'number')
    return op.watermark === null && upstreamHasOne ? { stalled: true, lagMs: null, advanceMs: null, elapsedMs } : null
  }
  if (lags.length < ctx.o.minSamples) return null
  const first = lags[0]
  const last = lags[lags.length - 1]
  const span = last.t - first.t
  if (span <= 0 || last.lag < ctx.o.watermarkLagMs) return null
  const advanceMs = span - (last.lag - first.lag)
  const steps = lags.slice(1).map((x, i) => x.lag - lags[i].lag)
  const rising = last.lag > first.lag && share(steps, (d) => d > 0) >= ctx.o.persistenceShare
  const stalled = advanceMs <= span * ctx.o.stalledAdvanceRatio
  return stalled || rising ? { stalled, lagMs: op.watermarkLagMs ?? last.lag, advanceMs, elapsedMs: span } : null
}

function watermarkFinding(ctx: Context, op: OperatorView, t: WatermarkTrouble, heldDownstream: string[]): Scored {
  const seconds = Math.round(t.elapsedMs / 1000)
  const evidence: Evidence = { windowSeconds: seconds }
  if (t.lagMs !== null) evidence.watermarkLagMs = Math.round(t.lagMs)
  if (t.advanceMs !== null) evidence.watermarkAdvanceMs = Math.round(Math.max(0, t.advanceMs))
  evidence.recordsInPerSecond = round(op.kind === 'source' ? op.recordsOutPerSecond : op.recordsInPerSecond)
  if (heldDownstream.length > 0) evidence.alsoHeldBack = heldDownstream.join(', ')
  const holder = op.kind === 'source' ? op : holdingSource(ctx, op.id)
  const idle = holder === null ? null : idleInput(ctx, holder)
  if (holder !== null && holder.id !== op.id) evidence.heldBy = holder.id
  const input = op.kind === 'source' ? undefined : slowestInput(ctx, op.id)
  if (input !== undefined && input.id !== holder?.id) evidence.heldByInput = input.id
  if (idle !== null) evidence.idleInput = idle

  const what = t.stalled ? `has not advanced for ${seconds} s while records flow` : `falls behind the wall clock (lag ${round(t.lagMs ?? 0)} ms and rising)`
  const cause = idle !== null ? `: ${idle} reads nothing and holds it back`
    : holder !== null && holder.id !== op.id ? `: \`${holder.id}\` holds it back` : ''
  const recommendation = idle !== null && holder !== null
    ? `give the watermark strategy of \`${holder.id}\` an idle timeout, e.g. \`boundedOutOfOrderness({ …, idleTimeoutMs: 30_000 })\`, so an input that reads nothing stops holding back the watermark`
    : t.stalled
      ? `check the watermark strategy of \`${holder?.id ?? op.id}\`: its event times do not advance (timestamps from the past, or a maxOutOfOrdernessMs far too large); windows and timers downstream will not fire`
      : `the watermark lags more and more: the sources read slower than events arrive (see any bottleneck finding) or event times run behind; windows fire late until it catches up`
  return {
    score: (t.lagMs ?? ctx.o.watermarkLagMs) / ctx.o.watermarkLagMs,
    finding: {
      kind: 'watermark-stalled', severity: t.stalled ? 'critical' : 'warning', operator: op.id, evidence, recommendation, action: null,
      title: `the watermark of \`${op.id}\` ${what}${cause}`,
    },
  }
}

/** The input with the smallest watermark (none counts as smallest). */
function slowestInput(ctx: Context, id: string): OperatorView | undefined {
  const ins = inputs(ctx, id).map((e) => ctx.ops.get(e.from)).filter((x): x is OperatorView => x !== undefined)
  return ins.sort((a, b) => (a.watermark ?? -Infinity) - (b.watermark ?? -Infinity))[0]
}

/** Walks up through the slowest inputs to the source that holds the watermark. */
function holdingSource(ctx: Context, id: string): OperatorView | null {
  const seen = new Set<string>()
  let at = ctx.ops.get(id)
  while (at !== undefined && at.kind !== 'source' && !seen.has(at.id)) {
    seen.add(at.id)
    at = slowestInput(ctx, at.id)
  }
  return at?.kind === 'source' ? at : null
}

/** "source `x`" when a source reads nothing while the others flow, "partition N of `x`" for an idle subtask. */
function idleInput(ctx: Context, source: OperatorView): string | null {
  const sources = ctx.view.operators.filter((op) => op.kind === 'source')
  const flowing = (op: OperatorView): boolean => share(series(ctx.window, op.id).map((x) => x.m.recordsOutPerSecond), (r) => r > 0) >= ctx.o.persistenceShare
  if (!flowing(source) && sources.some((s) => s !== source && flowing(s))) return `source \`${source.id}\``
  const subs = source.subtasks
  const idle = subs.find((s) => s.recordsOutPerSecond === 0)
  return idle !== undefined && subs.some((s) => s.recordsOutPerSecond > 0) ? `partition ${idle.subtask} of \`${source.id}\`` : null
}
