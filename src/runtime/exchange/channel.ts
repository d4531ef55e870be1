/**
 * Same-thread channel between two tasks: a bounded FIFO of batches and control items. Capacity
 * is counted in records; a producer may only send while the channel is not full, so a channel
 * holds at most capacity + one batch. A full channel is what backpressure is.
 */
import type { Batch } from '../../operators/types.ts'

export class WatermarkItem {
  constructor(readonly watermark: number) {}
}

/** The upstream subtask went idle (true) or became active again (false). */
export class IdleItem {
  constructor(readonly idle: boolean) {}
}

export class EndItem {}
export const END = new EndItem()

/**
 * A latency marker (as Flink's): a source sends one now and then, stamped with the epoch ms it left;
 * it travels behind the records, so where it arrives `now − time` is how long records take to get
 * there (queues and processing, not time held in windows).
 */
export class LatencyMarkerItem {
  constructor(readonly time: number) {}
}

/**
 * Checkpoint barrier `id`: everything before it in the channel belongs to checkpoint `id`,
 * everything after to the next. A task takes no more from a channel that delivered it until every
 * input has (alignment), then snapshots and passes it on.
 */
export class BarrierItem {
  constructor(readonly id: number) {}
}

export type ControlItem = WatermarkItem | IdleItem | EndItem | LatencyMarkerItem | BarrierItem
export type ChannelItem<T> = Batch<T> | ControlItem

/** What a consuming task needs of a channel (same-thread or cross-thread). */
export interface InChannel<T> {
  readonly label: string
  readonly isEmpty: boolean
  /** How full, 0..1 (metrics). */
  readonly usage: number
  /** Encoded bytes received (cross-thread channels; metrics). */
  readonly bytes?: number
  take(): ChannelItem<T>
  /** The next item without taking it, or null when there is none. */
  peek(): ChannelItem<T> | null
  /** The id of the first checkpoint barrier queued, or null (see overtakeBarrier). */
  barrierAhead?(): number | null
  /**
   * Removes the first barrier queued and returns the batches ahead of it, which stay queued (and
   * counted against the capacity) to be taken later.
   */
  overtakeBarrier?(): Batch<T>[]
  /** Cross-thread channels only: settles when the other thread may have sent something. */
  waitForActivity?(): Promise<void>
  /**
   * Cross-thread channels only: settles when the other thread has sent something since the last
   * call, even while items are queued (a full asynchronous head looks through its queue for a
   * barrier; waitForActivity would settle at once and spin).
   */
  waitForMore?(): Promise<void>
}

export class LocalChannel<T> implements InChannel<T> {
  private items: ChannelItem<T>[] = []
  private head = 0
  private bufferedRecords = 0

  constructor(
    readonly label: string,
    readonly capacityRecords: number,
  ) {}

  get full(): boolean {
    return this.bufferedRecords >= this.capacityRecords
  }

  get isEmpty(): boolean {
    return this.head === this.items.length
  }

  /** Buffered records / capacity, for metrics. */
  get usage(): number {
    return this.bufferedRecords / this.capacityRecords
  }

  sendBatch(b: Batch<T>): void {
    this.items.push(b)
    this.bufferedRecords += b.records.length
  }

  sendControl(item: ControlItem): void {
    this.items.push(item)
  }

  peek(): ChannelItem<T> | null {
    return this.head === this.items.length ? null : this.items[this.head]
  }

  barrierAhead(): number | null {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]
      if (item instanceof BarrierItem) return item.id
    }
    return null
  }

  overtakeBarrier(): Batch<T>[] {
    const ahead: Batch<T>[] = []
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]
      if (item instanceof BarrierItem) {
        this.items.splice(i, 1)
        return ahead
      }
      if (!isControl(item)) ahead.push(item as Batch<T>)
    }
    return ahead
  }

  take(): ChannelItem<T> {
    const item = this.items[this.head]
    this.items[this.head] = undefined as unknown as ChannelItem<T>
    this.head++
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    if (!isControl(item)) {
      this.bufferedRecords -= (item as Batch<T>).records.length
    }
    return item
  }
}

export function isControl<T>(item: ChannelItem<T>): item is ControlItem {
  return item instanceof WatermarkItem || item instanceof IdleItem || item instanceof EndItem || item instanceof LatencyMarkerItem || item instanceof BarrierItem
}
