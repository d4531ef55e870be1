/**
 * The reader of one subtask's Kafka partitions: fetches them from explicit offsets (no group
 * membership), keeps one fetch in flight ahead of what it hands out, and advances a partition's
 * position only with the records it hands out, so a checkpoint taken between reads names
 * exactly the next record of each partition. The fetching is `KafkaFetcher`'s (kafka-fetcher.ts).
 */
import type { Admin, Consumer } from '@platformatic/kafka'
import { isUtf8 } from 'node:buffer'
import { reasonOf } from '../../errors.ts'
import { decodePayload, type BrokerMessage, type PayloadFormat } from '../broker.ts'
import type { ConnectionStatus, PartitionProgress, SourceContext, SourcePosition, SourceReader } from '../spi.ts'
import { kafkaError } from './common.ts'
import { KafkaFetcher } from './kafka-fetcher.ts'
import { checkKafkaPosition, type KafkaPosition } from './kafka-position.ts'

/** A read waits this much longer than the fetch's maxWait before returning 0 (a stalled broker). */
const READ_WAIT_SLACK_MS = 400

/** One partition this reader reads. Fixed shape; numbers are offsets (safe integers). */
export interface PartitionState {
  /** This partition's place among the reader's partitions (0 ≤ slot < partitionCount()). */
  readonly slot: number
  readonly index: number
  /** "topic/3", as monitoring and bad-record positions name it. */
  readonly name: string
  /** The offset of the next record to hand out: the position. */
  next: number
  /** The offset the next fetch asks for (>= next: fetched records wait in the buffer). */
  fetchAt: number
  /** Bounded: stop here; -1 when unbounded. */
  end: number
  /** The last high watermark a fetch reported; -1 before the first. */
  highWatermark: number
  leader: number
}

export interface KafkaReaderConfig<T> {
  readonly consumer: Consumer
  readonly admin: Admin | null
  readonly topic: string
  readonly topicId: string
  readonly partitionCount: number
  readonly group: string | null
  readonly where: string
  readonly format: PayloadFormat
  readonly record: ((message: BrokerMessage) => T) | null
  readonly isolationLevel: number
  readonly bounded: boolean
  readonly fetchMaxWaitMs: number
  readonly fetchMaxBytes: number
  readonly partitionMaxBytes: number
  readonly reconnectTimeoutMs: number
}

export class KafkaSourceReader<T> implements SourceReader<T> {
  private readonly fetcher: KafkaFetcher
  private closed = false
  /** Per record of the last read: its offset and raw value (for positionOf / rawOf); all of one partition, lastSlot's. */
  private readonly lastOffsets: number[] = []
  private readonly lastRaw: (Buffer | null)[] = []
  /** The slot of the partition the last read's records came from; -1 when it pushed none. */
  private lastSlot = -1

  constructor(
    private readonly ctx: SourceContext,
    private readonly config: KafkaReaderConfig<T>,
    private readonly partitions: readonly PartitionState[],
  ) {
    this.fetcher = new KafkaFetcher(config, partitions)
  }

  read(out: T[], max: number): number | Promise<number> {
    if (this.fetcher.failure !== null) throw this.fetcher.failure
    this.lastOffsets.length = 0
    this.lastRaw.length = 0
    this.lastSlot = -1
    const n = this.drain(out, max)
    if (n > 0) {
      this.fetcher.maybeFetch()
      return n
    }
    if (this.finished()) return -1
    this.fetcher.maybeFetch()
    const inflight = this.fetcher.inflight
    if (inflight === null || this.fetcher.tracker.state !== 'connected') return 0
    // Wait for the fetch in flight, but not past its maxWait (plus slack): a stalled broker
    // must not hold the task, which takes checkpoints only between reads.
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.config.fetchMaxWaitMs + READ_WAIT_SLACK_MS)
      void inflight.then(() => {
        clearTimeout(timer)
        resolve()
      })
    }).then(() => {
      if (this.fetcher.failure !== null) throw this.fetcher.failure
      const got = this.drain(out, max)
      if (got > 0) {
        this.fetcher.maybeFetch()
        return got
      }
      return this.finished() ? -1 : 0
    })
  }

  /**
   * Hands out up to `max` buffered records of ONE partition (the task keeps a watermark per
   * partition: see lastPartition), advancing that partition's position with them.
   */
  private drain(out: T[], max: number): number {
    const { format, record } = this.config
    const f = this.fetcher
    const chunks = f.chunks
    let n = 0
    let current: PartitionState | null = null
    while (n < max && f.head < chunks.length) {
      const c = chunks[f.head]
      const part = c.part
      if (!c.skip) {
        if (current === null) current = part
        else if (part !== current) break
        const records = c.batch.records
        const end = part.end
        while (c.i < records.length && n < max) {
          const r = records[c.i++]
          const offset = c.base + r.offsetDelta
          if (offset < part.next) continue
          if (end >= 0 && offset >= end) {
            c.i = records.length
            break
          }
          part.next = offset + 1
          const raw = r.value
          let value: unknown
          try {
            value = raw === null ? null : decodePayload(format, raw)
            if (record !== null) value = record(this.message(value, r.key, r.headers, part, offset, c.firstTimestamp + Number(r.timestampDelta)))
          } catch (e) {
            this.reportBad(raw, reasonOf(e), part, offset)
            continue
          }
          out.push(value as T)
          this.lastOffsets.push(offset)
          this.lastRaw.push(raw)
          n++
        }
        if (c.i < records.length) break
      }
      // The whole batch is handed out: the position moves past it (past a control record, an
      // aborted transaction or offsets compaction removed), never past a bounded end.
      const after = part.end >= 0 ? Math.min(c.last + 1, part.end) : c.last + 1
      if (after > part.next) part.next = after
      f.bufferedBytes -= c.batch.length
      f.head++
    }
    if (f.head === chunks.length) {
      chunks.length = 0
      f.head = 0
    }
    if (n > 0 && current !== null) this.lastSlot = current.slot
    return n
  }

  private message(value: unknown, key: Buffer | null, headers: [Buffer | null, Buffer | null][], part: PartitionState, offset: number, timestamp: number): BrokerMessage {
    const h: Record<string, string> = {}
    for (let i = 0; i < headers.length; i++) {
      const [k, v] = headers[i]
      if (k !== null) h[k.toString('utf8')] = v === null ? '' : v.toString('utf8')
    }
    return { value, key: key === null ? null : key.toString('utf8'), headers: h, partition: part.name, offset: String(offset), timestamp }
  }

  private reportBad(raw: Buffer | null, reason: string, part: PartitionState, offset: number): void {
    const input = raw === null ? null : isUtf8(raw) ? raw.toString('utf8') : new Uint8Array(raw)
    this.ctx.reportBadRecord(input, reason, `${part.name} offset ${offset}`)
  }

  private finished(): boolean {
    if (!this.config.bounded || this.fetcher.head < this.fetcher.chunks.length) return false
    for (const p of this.partitions) if (p.next < p.end) return false
    return true
  }

  /** The partitions this reader reads, for per-partition watermarks (fixed once open). */
  partitionCount(): number {
    return this.partitions.length
  }

  /** The slot of the partition whose records the last read pushed (every read pushes one partition's). */
  lastPartition(): number {
    return this.lastSlot
  }

  /** A bounded read has handed out partition `slot` to its end: it holds no watermark back. */
  partitionEnded(slot: number): boolean {
    const p = this.partitions[slot]
    return p !== undefined && p.end >= 0 && p.next >= p.end
  }

  position(): string {
    return `${this.config.topic} ${this.partitions.map((p) => `${p.index}@${p.next}`).join(' ')}`
  }

  positionOf(i: number): string {
    const part = this.partitions[this.lastSlot]
    const offset = this.lastOffsets[i]
    return part === undefined || offset === undefined ? this.position() : `${part.name} offset ${offset}`
  }

  rawOf(i: number): string | Uint8Array | undefined {
    const raw = this.lastRaw[i]
    if (raw === undefined || raw === null) return undefined
    return isUtf8(raw) ? raw.toString('utf8') : new Uint8Array(raw)
  }

  snapshotPosition(): KafkaPosition {
    const offsets: Record<string, number> = {}
    const ends: Record<string, number> | null = this.config.bounded ? {} : null
    for (const p of this.partitions) {
      offsets[p.index] = p.next
      if (ends !== null) ends[p.index] = p.end
    }
    return { topic: this.config.topic, partitionCount: this.config.partitionCount, offsets, ends }
  }

  async checkpointComplete(position: SourcePosition): Promise<void> {
    const { admin, group, topic } = this.config
    if (admin === null || group === null) return
    const { offsets } = checkKafkaPosition(position, topic, this.config.partitionCount, this.partitions.map((p) => p.index))
    if (offsets.size === 0) return
    try {
      await admin.alterConsumerGroupOffsets({
        groupId: group,
        topics: [{ name: topic, partitionOffsets: [...offsets].map(([partition, offset]) => ({ partition, offset: BigInt(offset) })) }],
      })
    } catch (e) {
      throw kafkaError(e, this.config.where, `committing the offsets of group ${group}`, 'SOURCE_IO')
    }
  }

  progress(): readonly PartitionProgress[] {
    return this.partitions.map((p) => ({
      partition: p.name,
      position: `offset ${p.next}`,
      lag: p.highWatermark < 0 ? null : Math.max(0, p.highWatermark - p.next),
    }))
  }

  connection(): ConnectionStatus {
    return this.fetcher.tracker.status()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.fetcher.stop()
    await Promise.allSettled([this.config.consumer.close(true), this.config.admin?.close()])
  }
}
