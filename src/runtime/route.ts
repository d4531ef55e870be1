/**
 * An output route: how one producer subtask spreads batches over the channels to the subtasks of
 * one consumer. forward → its one channel; rebalance → channels in turn, batch by batch;
 * broadcast → every channel; hash → each record to the subtask owning its key group.
 */
import { newBatch, type Batch } from '../operators/types.ts'
import { keyGroupOf, subtaskOfKeyGroup } from '../state/key-groups.ts'
import type { ControlItem } from './channel.ts'

/** What a producer needs of a channel (same-thread now; cross-thread channels implement it too). */
export interface OutChannel {
  readonly label: string
  readonly capacityRecords: number
  readonly full: boolean
  sendBatch(b: Batch<unknown>): void
  sendControl(item: ControlItem): void
  /** Cross-thread channels only: false while messages still wait to enter the ring. */
  readonly drained?: boolean
  /** Cross-thread channels only: settles when the other thread may have freed space. */
  waitForActivity?(): Promise<void>
}

export type RouteKind = 'forward' | 'rebalance' | 'broadcast' | 'hash'

export class OutputRoute {
  private next = 0
  /** Key group → channel index, precomputed so routing a record is one table lookup. */
  private readonly owner: Int32Array | null

  constructor(
    readonly kind: RouteKind,
    readonly channels: readonly OutChannel[],
    private readonly key: ((v: unknown) => unknown) | null,
    private readonly maxParallelism: number,
  ) {
    if (kind === 'hash') {
      this.owner = new Int32Array(maxParallelism)
      for (let g = 0; g < maxParallelism; g++) this.owner[g] = subtaskOfKeyGroup(g, maxParallelism, channels.length)
    } else {
      this.owner = null
    }
  }

  send(batch: Batch<unknown>): void {
    const chs = this.channels
    const n = chs.length
    if (n === 1) {
      chs[0].sendBatch(batch)
      return
    }
    switch (this.kind) {
      case 'forward':
        chs[0].sendBatch(batch)
        return
      case 'rebalance':
        chs[this.next].sendBatch(batch)
        this.next = (this.next + 1) % n
        return
      case 'broadcast':
        for (let i = 0; i < n; i++) chs[i].sendBatch(batch)
        return
      case 'hash':
        this.split(batch)
    }
  }

  private split(batch: Batch<unknown>): void {
    const { records, times } = batch
    const chs = this.channels
    const parts: Batch<unknown>[] = new Array(chs.length)
    for (let i = 0; i < chs.length; i++) parts[i] = newBatch()
    const key = this.key as (v: unknown) => unknown
    const owner = this.owner as Int32Array
    const maxP = this.maxParallelism
    for (let i = 0; i < records.length; i++) {
      const part = parts[owner[keyGroupOf(key(records[i]), maxP)]]
      part.records.push(records[i])
      part.times.push(times[i])
    }
    for (let i = 0; i < chs.length; i++) if (parts[i].records.length > 0) chs[i].sendBatch(parts[i])
  }
}
