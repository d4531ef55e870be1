/**
 * An output route: how one producer subtask spreads batches over the channels to the subtasks of
 * one consumer. forward → its one channel; rebalance → channels in turn, batch by batch;
 * broadcast → every channel; hash → each record to the subtask owning its key group.
 */
import { newBatch, type Batch } from '../../operators/types.ts'
import { keyGroupOf, subtaskOfKeyGroup } from '../../state/key-groups.ts'
import type { ControlItem, LatencyMarkerItem } from './channel.ts'
import { SpaceSaving } from '../../metrics/top-k.ts'

/**
 * Hot-key sampling: one record in HOT_KEY_STRIDE is counted (its count then stands for that many).
 * 64: at 16 a keyed rolling count lost ~10 % of its throughput to sampling; at 64 it is ~1 ns a record.
 */
export const HOT_KEY_STRIDE = 64

/** What a producer needs of a channel (same-thread now; cross-thread channels implement it too). */
export interface OutChannel {
  readonly label: string
  readonly capacityRecords: number
  readonly full: boolean
  /** How full, 0..1 (metrics). */
  readonly usage: number
  /** Encoded bytes sent (cross-thread channels; metrics). */
  readonly bytes?: number
  sendBatch(b: Batch<unknown>): void
  sendControl(item: ControlItem): void
  /** Cross-thread channels only: false while messages still wait to enter the ring. */
  readonly drained?: boolean
  /** Cross-thread channels only: settles when the other thread may have freed space. */
  waitForActivity?(): Promise<void>
}

export type { RouteKind } from '../../graph/physical.ts'
import type { RouteKind } from '../../graph/physical.ts'

export class OutputRoute {
  private next = 0
  /** Heaviest keys sent through a hash route (sampled), for the consumer's hot-key metrics. */
  readonly hotKeys: SpaceSaving | null
  /** Index in the next batch of the next record to sample. */
  private nextSample = 0
  /** Key group → channel index, precomputed so routing a record is one table lookup. */
  private readonly owner: Int32Array | null

  constructor(
    readonly kind: RouteKind,
    readonly channels: readonly OutChannel[],
    private readonly key: ((v: unknown) => unknown) | null,
    private readonly maxParallelism: number,
    /** The consuming operator's id. */
    readonly target = '',
    sampleKeys = false,
  ) {
    this.hotKeys = kind === 'hash' && sampleKeys ? new SpaceSaving() : null
    if (kind === 'hash') {
      this.owner = new Int32Array(maxParallelism)
      for (let g = 0; g < maxParallelism; g++) this.owner[g] = subtaskOfKeyGroup(g, maxParallelism, channels.length)
    } else {
      this.owner = null
    }
  }

  /** A latency marker goes to one channel (in turn), as Flink's do: enough to sample each path. */
  sendMarker(item: LatencyMarkerItem): void {
    const chs = this.channels
    if (this.kind === 'broadcast') {
      for (let i = 0; i < chs.length; i++) chs[i].sendControl(item)
      return
    }
    chs[this.markerNext].sendControl(item)
    this.markerNext = (this.markerNext + 1) % chs.length
  }

  private markerNext = 0

  send(batch: Batch<unknown>): void {
    if (this.hotKeys !== null) this.sampleKeys(batch.records)
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

  private sampleKeys(records: readonly unknown[]): void {
    const key = this.key as (v: unknown) => unknown
    const hot = this.hotKeys as SpaceSaving
    let i = this.nextSample
    for (; i < records.length; i += HOT_KEY_STRIDE) hot.offer(key(records[i]), HOT_KEY_STRIDE)
    this.nextSample = i - records.length
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
