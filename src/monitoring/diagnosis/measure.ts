/** A rule's measurements over the window: an operator's load, persistence, and the parallelism that relieves it. */
import type { Context, OpSample } from './context.ts'
import { series } from './context.ts'

export interface Load {
  /** Mean over subtasks, averaged over the window. */
  busyMs: number
  hotBusyMs: number
  hotSubtask: number
  /** Awaiting external calls: mean over subtasks, and the subtask waiting most, averaged over the window. */
  waitingMs: number
  hotWaitingMs: number
  backpressuredMs: number
  busy: boolean
  waiting: boolean
  /** Busy and waiting together leave it no time: it takes records as fast as it can. */
  saturated: boolean
  backpressured: boolean
}

export function loadOf(ctx: Context, id: string): Load | null {
  const s = series(ctx.window, id)
  if (s.length < ctx.o.minSamples) return null
  const busyBySubtask = (m: OpSample): number[] => (m.subtasks.length > 0 ? m.subtasks.map((x) => x.busyMsPerSecond) : [m.busyMsPerSecond])
  const meanBusy = s.map((x) => mean(busyBySubtask(x.m)))
  const hotBusy = s.map((x) => Math.max(...busyBySubtask(x.m)))
  const bp = s.map((x) => x.m.backpressuredMsPerSecond)
  const width = Math.max(...s.map((x) => busyBySubtask(x.m).length))
  const perSubtask = Array.from({ length: width }, (_, i) => mean(s.map((x) => busyBySubtask(x.m)[i] ?? 0)))
  const hot = Math.max(...perSubtask)
  // Samples from before waiting was measured have none.
  const waitingBySubtask = (m: OpSample): number[] => (m.subtasks.length > 0 ? m.subtasks.map((x) => x.waitingMsPerSecond ?? 0) : [m.waitingMsPerSecond ?? 0])
  const meanWaiting = s.map((x) => mean(waitingBySubtask(x.m)))
  const hotWaiting = s.map((x) => Math.max(...waitingBySubtask(x.m)))
  const occupied = s.map((x) => Math.max(...busyBySubtask(x.m).map((b, i) => b + (waitingBySubtask(x.m)[i] ?? 0))))
  const { busyMsPerSecond: busyAt, backpressuredMsPerSecond: bpAt, waitingMsPerSecond: waitAt } = ctx.o
  return {
    busyMs: mean(meanBusy),
    hotBusyMs: hot,
    hotSubtask: perSubtask.indexOf(hot),
    waitingMs: mean(meanWaiting),
    hotWaitingMs: mean(hotWaiting),
    backpressuredMs: mean(bp),
    busy: sustained(ctx, meanBusy, busyAt) || sustained(ctx, hotBusy, busyAt),
    waiting: sustained(ctx, meanWaiting, waitAt) || sustained(ctx, hotWaiting, waitAt),
    saturated: sustained(ctx, occupied, busyAt),
    backpressured: sustained(ctx, bp, bpAt),
  }
}

/** Holds on average and in at least `persistenceShare` of the samples. */
export function sustained(ctx: Context, values: readonly number[], threshold: number): boolean {
  return values.length > 0 && mean(values) >= threshold && share(values, (v) => v >= threshold) >= ctx.o.persistenceShare
}

/** Q = ceil(P × busy / target), at least P + 1, at most P × maxScaleFactor and workers × 2. */
export function scaledParallelism(ctx: Context, p: number, busyMs: number): number {
  const wanted = Math.ceil((p * busyMs) / ctx.o.targetBusyMsPerSecond)
  const byWorkers = ctx.view.workerCount > 0 ? ctx.view.workerCount * 2 : Infinity
  const cap = Math.max(p + 1, Math.min(p * ctx.o.maxScaleFactor, byWorkers))
  return Math.min(Math.max(wanted, p + 1), cap)
}

export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)
export const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : sum(xs) / xs.length)
export const share = (xs: readonly number[], pred: (x: number) => boolean): number => (xs.length === 0 ? 0 : xs.filter(pred).length / xs.length)
