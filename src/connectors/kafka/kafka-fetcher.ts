/**
 * The fetching half of a Kafka source reader: one fetch in flight at a time, one request per
 * partition leader from each partition's `fetchAt`, the fetched batches queued in order (control
 * batches and aborted transactions marked to skip), and failures retried with backoff on fresh
 * metadata or kept for the reader to throw.
 */
import type { Consumer, RecordsBatch } from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import { ConnectionTracker } from '../broker.ts'
import { classifyKafkaError, findInChain, kafkaError, kafkaErrorMessage } from './common.ts'
import type { KafkaReaderConfig, PartitionState } from './kafka-source-reader.ts'

/**
 * read_committed on the wire without @platformatic/kafka 1.x's own filter of aborted records,
 * which it applies when `isolationLevel === 1`: that filter throws (from a socket callback, so the
 * process would crash) on a fetch that starts between an aborted transaction's records and its
 * abort marker, where Kafka leaves the transaction out of the response's aborted list
 * (platformatic/kafka#391, fixed in 2.x only). The fetcher filters aborted transactions itself
 * (fetched()). A Number object is 1 when written (Buffer.writeInt8 takes +value) but not `=== 1`.
 */
// eslint-disable-next-line no-new-wrappers
const READ_COMMITTED_ON_THE_WIRE = new Number(1) as unknown as number

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>

/** Record batch attributes (Kafka's record batch format v2). */
const IS_TRANSACTIONAL = 1 << 4
const IS_CONTROL = 1 << 5
const FIRST_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 5000

/** A fetched record batch waiting to be handed out. */
export interface Chunk {
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

export class KafkaFetcher {
  /** The fetched batches in order; the reader hands them out from `head`, lowering `bufferedBytes`. */
  readonly chunks: Chunk[] = []
  head = 0
  bufferedBytes = 0
  inflight: Promise<void> | null = null
  /** A failure not to retry: the reader's next read throws it. */
  failure: SluiceError | null = null
  readonly tracker = new ConnectionTracker()
  private retryAt = 0
  private backoffMs = FIRST_BACKOFF_MS
  /** Since when fetches fail without a success in between; -1 while they succeed. */
  private failingSince = -1
  private staleMetadata = false
  private closed = false

  constructor(
    private readonly config: KafkaReaderConfig<unknown>,
    private readonly partitions: readonly PartitionState[],
  ) {}

  /** Starts a fetch unless one is in flight, the buffer holds enough, or a retry is not due. */
  maybeFetch(): void {
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
        isolationLevel: isolationLevel === 1 ? READ_COMMITTED_ON_THE_WIRE : isolationLevel,
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

  /** Fetches no more; a fetch in flight is dropped when it settles. */
  stop(): void {
    this.closed = true
  }
}
