/**
 * Bottleneck diagnosis: reads a job's current view and its last seconds of history and says, in
 * plain words, what limits it and what to change. A pure function of its inputs: no clock, no I/O.
 *
 * Busy time is a task running its own code on its thread; time spent awaiting a sink's write or a
 * source's read is waiting, and a sink or source that mostly waits is I/O-bound (rule 1c), which
 * more CPU does not fix; so is an asynchronous operator whose call slots are all taken (a slow
 * service, rule 1d). Only busy time makes an operator busy or a thread saturated.
 *
 * Conditions that need persistence (busy, waiting, backpressured, skewed, stalled, growing) are judged over
 * the last `windowSamples` samples, and must hold on average *and* in at least `persistenceShare`
 * of those samples, so one noisy second does not flip a finding. Current values come from the view.
 *
 * Each rule is a file of diagnosis/, named after the finding it makes; this file runs them and ranks the findings.
 */
import type { Finding, JobView, Sample } from './types.ts'
import { bottlenecks } from './diagnosis/bottleneck.ts'
import { checkpoints } from './diagnosis/checkpoints.ts'
import type { Context } from './diagnosis/context.ts'
import { describeEvidence } from './evidence.ts'
import { failingRecords } from './diagnosis/failing-records.ts'
import { healthy } from './diagnosis/healthy.ts'
import { ioBound } from './diagnosis/io-bound.ts'
import { DEFAULT_DIAGNOSIS_OPTIONS, type DiagnosisOptions } from './diagnosis/options.ts'
import { saturatedThreads } from './diagnosis/saturated-thread.ts'
import { skews } from './diagnosis/skew.ts'
import { slowServices } from './diagnosis/slow-service.ts'
import { sourceBound } from './diagnosis/source-bound.ts'
import { connectionFindings, sourceLagFindings } from './diagnosis/sources.ts'
import { stateGrowth } from './diagnosis/state-growth.ts'
import { watermarkStalls } from './diagnosis/watermark.ts'
import { workerPressure } from './diagnosis/worker-pressure.ts'

export { DEFAULT_DIAGNOSIS_OPTIONS, type DiagnosisOptions } from './diagnosis/options.ts'

/**
 * Findings about a job, most severe first (critical, warning, info; then by how far past its
 * threshold each is); never empty: a job with nothing wrong gets one `healthy` finding.
 *
 * @example
 * const findings = diagnose(view, history.samples)
 * findings[0] // { kind: 'bottleneck', operator: 'enrich', action: { kind: 'set-parallelism', operator: 'enrich', parallelism: 2 }, ... }
 */
export function diagnose(view: JobView, history: readonly Sample[], options?: DiagnosisOptions): Finding[] {
  const o = { ...DEFAULT_DIAGNOSIS_OPTIONS, ...options }
  const sorted = [...history].sort((a, b) => a.t - b.t)
  const base: Context = {
    view, o,
    window: sorted.slice(-o.windowSamples),
    longWindow: sorted.slice(-Math.max(o.windowSamples, o.stateGrowthSamples)),
    ops: new Map(view.operators.map((op) => [op.id, op])),
    waitingOnCalls: new Set(),
  }
  const slow = slowServices(base)
  // An operator waiting on its service explains the backpressure above it and the waiting of the
  // task it heads (operators chained after it, a sink among them, share that task's time).
  const ctx: Context = { ...base, waitingOnCalls: new Set(slow.map((s) => s.finding.operator as string)) }
  const slowTasks = new Set(view.operators.filter((op) => ctx.waitingOnCalls.has(op.id)).map((op) => op.task))
  const flink = bottlenecks(ctx)
  const named = new Set(flink.map((s) => s.finding.operator))
  const threads = saturatedThreads(ctx).filter((s) => !named.has(s.finding.operator) && !ctx.waitingOnCalls.has(s.finding.operator as string))
  const io = ioBound(ctx).filter((s) => !slowTasks.has(ctx.ops.get(s.finding.operator as string)?.task ?? -1))
  // A job whose sink or source waits on I/O (or an operator on its service) is limited by that
  // system, not by its sources' reading; and a source whose thread is saturated by its chain is
  // that finding's case.
  const inSaturatedChain = new Set(threads.flatMap((s) => s.covers ?? []))
  const sources = io.length > 0 || slow.length > 0 || ctx.view.operators.some((op) => op.kind === 'source' && inSaturatedChain.has(op.id)) ? [] : sourceBound(ctx)
  const scored = [flink, threads, slow, io, sources, ...[skews, watermarkStalls, stateGrowth, workerPressure, failingRecords, checkpoints].map((rule) => rule(ctx))].flat()
  // The lag rule names the cause the other rules found, so it runs after them.
  scored.push(...sourceLagFindings(view, ctx.window, o, scored), ...connectionFindings(view))
  if (scored.length === 0) scored.push(healthy(ctx))
  scored.sort((a, b) => SEVERITY_RANK[a.finding.severity] - SEVERITY_RANK[b.finding.severity] || b.score - a.score)
  return scored.map((s) => ({ ...s.finding, evidenceText: describeEvidence(s.finding.evidence) }))
}

const SEVERITY_RANK: Record<Finding['severity'], number> = { critical: 0, warning: 1, info: 2 }
