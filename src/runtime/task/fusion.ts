/**
 * Operator fusion: a run of map / filter / flatMap links inside one chain executes as a single
 * per-record function composed once at plan time, so a record goes through the whole run
 * without being written into intermediate batches. Each stage keeps its own metrics (records in
 * and out, errors) and error policy; a failure names the stage's own input record number.
 */
import type { FilterOperator } from '../../operators/filter.ts'
import type { FlatMapOperator, Collector as UserCollector } from '../../operators/flat-map.ts'
import type { MapOperator } from '../../operators/map.ts'
import type { Batch, Operator, OperatorContext, Output } from '../../operators/types.ts'
import { Collector, type OperatorContextImpl } from './operator-context.ts'
import { OperatorMetrics } from '../../metrics/task-metrics.ts'
import type { ChainLink } from './task.ts'
import type { OutputRoute } from '../exchange/route.ts'

type Fusable = MapOperator<unknown, unknown> | FilterOperator<unknown> | FlatMapOperator<unknown, unknown>
type Step = (value: unknown, time: number) => void

export function isFusable(op: Operator<unknown, unknown>): op is Fusable {
  return (op as Partial<Fusable>).fusable !== undefined
}

/**
 * Whether an operator that emitted as many records as it took emitted them one per input, in
 * order: a map, a filter, or a fused run of only those (a flatMap may emit two for one and none
 * for the next).
 */
export function preservesIndex(op: Operator<unknown, unknown>): boolean {
  const fusable = (op as Partial<Fusable>).fusable
  return fusable === 'map' || fusable === 'filter' || (op instanceof FusedOperator && op.preservesIndex)
}

/** Per-stage counters for the current batch; folded into the stage's metrics after it. */
class StageCounter {
  in = 0
  constructor(
    readonly ctx: OperatorContextImpl,
    readonly metrics: OperatorMetrics,
  ) {}
}

class StageCollector implements UserCollector<unknown> {
  time = 0
  constructor(private readonly next: Step) {}
  collect(value: unknown): void {
    this.next(value, this.time)
  }
}

export class FusedOperator implements Operator<unknown, unknown> {
  private out: Output<unknown> | null = null
  private emitted = 0
  private readonly head: Step
  private readonly counters: StageCounter[]
  /** The fused link's context: its index is the link's in the executed chain. */
  private readonly linkCtx: OperatorContextImpl
  /** Every stage is a map or a filter (see preservesIndex). */
  readonly preservesIndex: boolean

  constructor(links: readonly ChainLink[]) {
    this.counters = links.map((l) => new StageCounter(l.ctx, l.metrics))
    this.linkCtx = links[0].ctx
    this.preservesIndex = links.every((l) => (l.op as Fusable).fusable !== 'flatMap')
    let next: Step = (v, t) => {
      this.emitted++
      ;(this.out as Output<unknown>).emit(v, t)
    }
    for (let k = links.length - 1; k >= 0; k--) next = this.stage(links[k].op as Fusable, this.counters[k], next)
    this.head = next
  }

  private stage(op: Fusable, c: StageCounter, next: Step): Step {
    // Whatever stage fails, the record entering the run is the head's latest: where it was read.
    const fail = (v: unknown, e: unknown): void => c.ctx.recordFailedAt(v, e, c.metrics.recordsIn + c.in, this.linkCtx.sourcePositionOf(this.counters[0].in - 1))
    switch (op.fusable) {
      case 'map': {
        const fn = op.fn
        return (v, t) => {
          c.in++
          let r: unknown
          try {
            r = fn(v)
          } catch (e) {
            fail(v, e)
            return
          }
          next(r, t)
        }
      }
      case 'filter': {
        const pred = op.predicate
        return (v, t) => {
          c.in++
          let keep: boolean
          try {
            keep = pred(v)
          } catch (e) {
            fail(v, e)
            return
          }
          if (keep) next(v, t)
        }
      }
      case 'flatMap': {
        const fn = op.fn
        const collector = new StageCollector(next)
        return (v, t) => {
          c.in++
          collector.time = t
          try {
            fn(v, collector)
          } catch (e) {
            fail(v, e)
          }
        }
      }
    }
  }

  processBatch(batch: Batch<unknown>, _ctx: OperatorContext, out: Output<unknown>): void {
    const { records, times } = batch
    const n = records.length
    const head = this.head
    this.out = out
    for (let i = 0; i < n; i++) head(records[i], times[i])
    const cs = this.counters
    for (let k = 0; k < cs.length; k++) {
      const c = cs[k]
      c.metrics.recordsIn += c.in
      c.metrics.recordsOut += k + 1 < cs.length ? cs[k + 1].in : this.emitted
      c.in = 0
    }
    this.emitted = 0
  }
}

/** Replaces every run of two or more fusable links with one fused link. */
export function fuseLinks(links: readonly ChainLink[]): ChainLink[] {
  const out: ChainLink[] = []
  let i = 0
  while (i < links.length) {
    let j = i
    while (j < links.length && isFusable(links[j].op)) j++
    if (j - i >= 2) {
      const run = links.slice(i, j)
      const sideRoutes = new Map<string, OutputRoute[]>()
      for (const l of run) for (const [tag, chs] of l.sideRoutes) sideRoutes.set(tag, chs)
      out.push({
        id: run.map((l) => l.id).join('+'),
        label: `fused(${run.map((l) => l.label).join(', ')})`,
        op: new FusedOperator(run),
        ctx: run[0].ctx,
        out: new Collector(),
        // The stages count themselves; this link's own counters are not reported.
        metrics: new OperatorMetrics(run[0].id),
        sideRoutes,
        external: null,
      })
      i = j
    } else {
      out.push(links[i])
      i++
    }
  }
  return out
}
