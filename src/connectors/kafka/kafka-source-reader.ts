/**
 * The reader of one subtask's Kafka partitions: fetches them from explicit offsets (no group
 * membership), keeps one fetch in flight ahead of what it hands out, and advances a partition's
 * position only with the records it hands out, so a checkpoint taken between reads names
 * exactly the next record of each partition.
 */
import type { Admin, Consumer, RecordsBatch } from '@platformatic/kafka'
import { isUtf8 } from 'node:buffer'
import { describeCause, reasonOf, SluiceError } from '../../errors.ts'
import { ConnectionTracker, decodePayload, type BrokerMessage, type PayloadFormat } from '../broker.ts'
import type { ConnectionStatus, PartitionProgress, SourceContext, SourcePosition, SourceReader } from '../spi.ts'
import { classifyKafkaError, findInChain, kafkaError, kafkaErrorMessage } from './common.ts'
import { checkKafkaPosition, type KafkaPosition } from './kafka-position.ts'

/** Record batch attributes (Kafka's record batch format v2). */
type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>

const IS_TRANSACTIONAL = 1 << 4
const IS_CONTROL = 1 << 5
const FIRST_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 5000
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

/** A fetched record batch waiting to be handed out. */
interface Chunk {
  readonly part: PartitionState
  readonly batch: RecordsBatch
  /** Control batches and batches of aborted transactions: only move the position past them. */
  readonly skip: boolean
  readonly base: number
  readonly last: number
  readonly firstTimestamp: number
  /** The next record of `batch.records` to look at. */
  i: number
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
  private readonly chunks: Chunk[] = []
  private head = 0
  private bufferedBytes = 0
  private inflight: Promise<void> | null = null
  private failure: SluiceError | null = null
  private readonly tracker = new ConnectionTracker()
  private retryAt = 0
  private backoffMs = FIRST_BACKOFF_MS
  /** Since when fetches fail without a success in between; -1 while they succeed. */
  private failingSince = -1
  private staleMetadata = false
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
  ) {}

  read(out: T[], max: number): number | Promise<number> {
    if (this.failure !== null) throw this.failure
    this.lastOffsets.length = 0
    this.lastRaw.length = 0
    this.lastSlot = -1
    const n = this.drain(out, max)
    if (n > 0) {
      this.maybeFetch()
      return n
    }
    if (this.finished()) return -1
    this.maybeFetch()
    const inflight = this.inflight
    if (inflight === null || this.tracker.state !== 'connected') return 0
    // Wait for the fetch in flight, but not past its maxWait (plus slack): a stalled broker
    // must not hold the task, which takes checkpoints only between reads.
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.config.fetchMaxWaitMs + READ_WAIT_SLACK_MS)
      void inflight.then(() => {
        clearTimeout(timer)
        resolve()
      })
    }).then(() => {
      if (this.failure !== null) throw this.failure
      const got = this.drain(out, max)
      if (got > 0) {
        this.maybeFetch()
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
    const chunks = this.chunks
    let n = 0
    let current: PartitionState | null = null
    while (n < max && this.head < chunks.length) {
      const c = chunks[this.head]
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
      this.bufferedBytes -= c.batch.length
      this.head++
    }
    if (this.head === chunks.length) {
      chunks.length = 0
      this.head = 0
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
    if (!this.config.bounded || this.head < this.chunks.length) return false
    for (const p of this.partitions) if (p.next < p.end) return false
    return true
  }

  /** Starts a fetch unless one is in flight, the buffer holds enough, or a retry is not due. */
  private maybeFetch(): void {
    if (this.inflight !== null || this.closed || this.failure !== null) return
    if (this.bufferedBytes >= this.config.fetchMaxBytes) return
    if (this.retryAt > 0 && Date.now() < this.retryAt) return
    let any = false
    for (const p of this.partitions) if (p.end < 0 || p.fetchAt < p.end) any = true
    if (!any) return
    // Never rejects: a failure is kept in `failure` (thrown by the next read) or retried.
    this.inflight = this.fetch().then(
      (responses) => {
        try {
          this.fetched(responses)
        } catch (e) {
          this.failure = kafkaError(e, this.config.where, 'reading', 'SOURCE_IO')
        }
      },
      (e: unknown) => this.fetchFailed(e),
    ).finally(() => {
      this.inflight = null
    })
  }

  private async fetch(): Promise<FetchResponse[]> {
    const { consumer, topic, topicId, isolationLevel } = this.config
    if (this.staleMetadata) {
      const metadata = await consumer.metadata({ topics: [topic], forceUpdate: true })
      const info = metadata.topics.get(topic)
      if (info === undefined || info.id !== topicId) throw new SluiceError('CONNECTOR_NOT_FOUND', `${this.config.where}: the topic was deleted while the job read it`)
      for (const p of this.partitions) p.leader = info.partitions[p.index].leader
      this.staleMetadata = false
    }
    const byLeader = new Map<number, PartitionState[]>()
    for (const p of this.partitions) {
      if (p.end >= 0 && p.fetchAt >= p.end) continue
      let list = byLeader.get(p.leader)
      if (list === undefined) byLeader.set(p.leader, (list = []))
      list.push(p)
    }
    const requests: Promise<FetchResponse>[] = []
    for (const [node, parts] of byLeader) {
      requests.push(consumer.fetch({
        node,
        maxWaitTime: this.config.fetchMaxWaitMs,
        minBytes: 1,
        maxBytes: this.config.fetchMaxBytes,
        isolationLevel,
        topics: [{
          topicId,
          partitions: parts.map((p) => ({ partition: p.index, fetchOffset: BigInt(p.fetchAt), currentLeaderEpoch: -1, lastFetchedEpoch: -1, partitionMaxBytes: this.config.partitionMaxBytes })),
        }],
      }))
    }
    return Promise.all(requests)
  }

  /** Queues the fetched batches in order, marking those never to hand out. */
  private fetched(responses: FetchResponse[]): void {
    if (this.closed) return
    this.failingSince = -1
    this.retryAt = 0
    this.backoffMs = FIRST_BACKOFF_MS
    this.tracker.set('connected')
    const readCommitted = this.config.isolationLevel === 1
    for (const response of responses) {
      for (const topic of response.responses) {
        for (const fetched of topic.partitions) {
          const part = this.partitions.find((p) => p.index === fetched.partitionIndex)
          if (part === undefined) continue
          part.highWatermark = Number(fetched.highWatermark)
          const batches = fetched.records
          if (batches === undefined || batches.length === 0) continue
          // Kafka's read_committed rule: a transactional batch of a producer listed as aborted
          // from an offset at or before the batch is skipped until that producer's abort marker.
          const aborted = readCommitted && fetched.abortedTransactions.length > 0
            ? [...fetched.abortedTransactions].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
            : null
          const abortedProducers = new Set<bigint>()
          let ai = 0
          for (const batch of batches) {
            const base = Number(batch.firstOffset)
            const last = base + batch.lastOffsetDelta
            if (last < part.fetchAt) continue
            let skip = (batch.attributes & IS_CONTROL) !== 0
            if (aborted !== null) {
              while (ai < aborted.length && Number(aborted[ai].firstOffset) <= last) abortedProducers.add(aborted[ai++].producerId)
              if ((batch.attributes & IS_TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId)) {
                // The abort marker (control record type 0) ends the aborted range of its producer.
                if (skip && batch.records[0]?.key?.readInt16BE(2) === 0) abortedProducers.delete(batch.producerId)
                skip = true
              }
            }
            this.chunks.push({ part, batch, skip, base, last, firstTimestamp: Number(batch.firstTimestamp), i: 0 })
            this.bufferedBytes += batch.length
            if (last + 1 > part.fetchAt) part.fetchAt = last + 1
          }
        }
      }
    }
  }

  private fetchFailed(e: unknown): void {
    if (this.closed) return
    const code = classifyKafkaError(e)
    const outOfRange = findInChain(e, (x) => x.apiId === 'OFFSET_OUT_OF_RANGE')
    if (outOfRange !== null) {
      const at = this.partitions.map((p) => `${p.name} offset ${p.fetchAt}`).join(', ')
      this.failure = new SluiceError('SOURCE_IO', `${this.config.where}: the broker no longer has the offsets to read (${at}): retention deleted them, or the topic was emptied. Restore from a newer checkpoint, or start the job afresh`, { cause: e })
      return
    }
    if (e instanceof SluiceError || code === 'CONNECTOR_AUTH' || code === 'CONNECTOR_NOT_FOUND') {
      this.failure = kafkaError(e, this.config.where, 'reading', 'SOURCE_IO')
      this.tracker.set('failed', this.failure.message)
      return
    }
    // Anything else (the broker restarting, a leader moving, a request timing out) is retried
    // from the same offsets with growing backoff, on fresh metadata.
    const now = Date.now()
    if (this.failingSince < 0) this.failingSince = now
    this.staleMetadata = true
    this.config.consumer.clearMetadata()
    const message = kafkaErrorMessage(e)
    if (now - this.failingSince >= this.config.reconnectTimeoutMs) {
      this.failure = new SluiceError('CONNECTOR_UNREACHABLE', `${this.config.where}: no successful fetch for ${Math.round((now - this.failingSince) / 1000)} s (reconnectTimeoutMs ${this.config.reconnectTimeoutMs}): ${message}. Check that the brokers are running and reachable`, { cause: e })
      this.tracker.set('failed', this.failure.message)
      return
    }
    this.tracker.set('reconnecting', message)
    this.retryAt = now + this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS)
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
    return this.tracker.status()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([this.config.consumer.close(true), this.config.admin?.close()])
  }
}
