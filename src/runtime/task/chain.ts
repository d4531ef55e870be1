/**
 * A task's chain of operators run by direct calls: operator k writes into its collector, whose
 * batch becomes operator k+1's input; the tail's goes to the output routes. Task adds the mailbox,
 * the lifecycle and checkpoints on top.
 */
import type { TaskMetrics } from '../../metrics/task-metrics.ts'
import type { Batch } from '../../operators/types.ts'
import type { LatencyMarkerItem } from '../exchange/channel.ts'
import type { OutChannel, OutputRoute } from '../exchange/route.ts'
import { preservesIndex } from './fusion.ts'
import { ProcessingTimers } from './processing-timers.ts'
import { wallClockMs, type ChainLink } from './task-types.ts'

export abstract class Chain {
  abstract readonly metrics: TaskMetrics
  /** The chain as executed (runs of stateless operators may be fused into one link). */
  links: ChainLink[] = []
  /** Every operator of the chain, one link each, for metrics and explain. */
  readonly operatorLinks: ChainLink[] = []
  /** Routes fed by the chain's main output (the tail's, or the source's when the chain is empty). */
  readonly mainRoutes: OutputRoute[] = []
  /** Every channel this task sends to, main and side. */
  readonly outputs: OutChannel[] = []
  /** A source task's head links that get its batch as read, past maps and filters that kept all (SourceTask.sourcePositionOf). */
  protected alignedLinks = 0
  protected readonly timers = new ProcessingTimers()

  addLink(link: ChainLink): void {
    this.links.push(link)
    this.operatorLinks.push(link)
    this.timers.addLink()
  }

  /** Replaces the executed chain (after fusion); operator contexts learn their new positions. */
  setExecutedLinks(links: ChainLink[]): void {
    this.links = links
    this.timers.reset(links.length)
    links.forEach((l, i) => {
      l.ctx.index = i
    })
  }

  requestProcessingTime(opIndex: number, timeMs: number): void {
    this.timers.request(opIndex, timeMs)
  }

  nextProcessingTime(): number {
    return this.timers.next()
  }

  outputsFull(): boolean {
    const outs = this.outputs
    for (let i = 0; i < outs.length; i++) if (outs[i].full) return true
    return false
  }

  /** Runs a batch through links k.. of the chain. */
  protected runFrom(k: number, batch: Batch<unknown>, input: number): void {
    const l = this.links[k]
    const n = batch.records.length
    l.metrics.recordsIn += n
    l.ctx.currentInput = batch
    l.op.processBatch(batch, l.ctx, l.out, input)
    l.ctx.currentInput = null
    l.ctx.inputBase += n
    if (k < this.alignedLinks) this.alignedLinks = l.out.size === n && preservesIndex(l.op) ? k + 2 : k + 1
    this.forward(k)
  }

  /** Passes what link k emitted on: to link k+1, or to the output channels. */
  protected forward(k: number): void {
    const l = this.links[k]
    if (l.out.sides !== null) this.flushSides(l)
    const n = l.out.size
    if (n === 0) return
    l.metrics.recordsOut += n
    const b = l.out.takeBatch()
    if (k + 1 < this.links.length) this.runFrom(k + 1, b, 0)
    else this.emitMain(b)
  }

  protected emitMain(batch: Batch<unknown>): void {
    const routes = this.mainRoutes
    for (let i = 0; i < routes.length; i++) routes[i].send(batch)
  }

  private flushSides(l: ChainLink): void {
    for (const [tag, b] of l.out.sides as Map<string, Batch<unknown>>) {
      if (b.records.length === 0) continue
      const routes = l.sideRoutes.get(tag)
      if (routes === undefined) l.metrics.sideOutputDropped += b.records.length
      else for (const r of routes) r.send(b)
      l.metrics.recordsOut += b.records.length
    }
    l.out.sides = null
  }

  /** Records a latency marker's age here and passes it on (one channel per route). */
  protected onLatencyMarker(item: LatencyMarkerItem): void {
    this.metrics.latency.record(wallClockMs() - item.time)
    const routes = this.mainRoutes
    for (let i = 0; i < routes.length; i++) routes[i].sendMarker(item)
  }
}
