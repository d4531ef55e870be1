/**
 * Writes records to a Kafka topic with @platformatic/kafka, exactly-once (transactions committed
 * when a checkpoint completes) or at-least-once (an idempotent producer).
 *
 * ## Why a pool of transactional ids, and how recovery commits
 *
 * Kafka lets one transactional id have one open transaction. A checkpoint's transaction must
 * stay open (invisible to read_committed consumers) from its preCommit until the checkpoint
 * completes, while the records after the barrier already arrive: they need a second open
 * transaction, hence a second id. So each sink subtask owns a fixed pool of SLOTS ids
 * `${prefix}-${sinkId}-${subtask}-${slot}`, as Flink's KafkaSink keeps one id per checkpoint; a
 * fixed pool means a recovery knows every id that can hold a lingering transaction and fences
 * all of them, where Flink has to probe for them.
 *
 * The checkpoint stores each pending transaction as (transactional id, producer id, epoch). A
 * process can die after the checkpoint completed and before commit(): the recovering writer then
 * sends EndTxn(commit) with those three numbers (the coordinator checks nothing else), which is
 * Flink's "resume and commit". Only then does it fence every id of the pool (InitProducerId bumps
 * the epoch and aborts what was open: output of checkpoints that never completed, and zombies'
 * writes). Committing at preCommit instead would make a checkpoint's output visible before the
 * checkpoint exists, and a recovery to the previous one would write it twice; holding the
 * records after the barrier in memory until the commit would need no second id but an unbounded
 * buffer.
 *
 * A transaction the broker aborted for outliving `transactionTimeoutMs` is lost: the timeout must
 * exceed the checkpoint interval plus the longest checkpoint plus the time to recover.
 */
import type { Admin } from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import { PAYLOAD_FORMATS, type BrokerSinkOptions } from '../broker.ts'
import { rejecterFor } from '../line-encoder.ts'
import type { Sink, SinkCommit, SinkContext } from '../spi.ts'
import { kafkaLibrary } from '../client-libraries.ts'
import { ConnectorUri } from '../uri.ts'
import { baseClientOptions, brokerList, isTopicExists, isUnknownTopic, resumeAndCommit, sinkError, withDeadline } from './kafka-sink-client.ts'
import type { MessageEncoding } from './kafka-sink-encoding.ts'
import { checkCommit, type KafkaProducer, type TransactionSlot } from './kafka-sink-transactions.ts'
import { KafkaSinkWriter, type SinkTarget } from './kafka-sink-writer.ts'

/** Transactional ids per sink subtask: the open transaction plus up to SLOTS - 1 checkpoints pre-committed and not yet completed. */
export const KAFKA_SINK_SLOTS = 4

const DEFAULT_TRANSACTION_TIMEOUT_MS = 15 * 60_000
const DEFAULT_OPEN_TIMEOUT_MS = 20_000

export interface KafkaSinkOptions<T> extends BrokerSinkOptions<T> {
  /** Bootstrap brokers: "host:port", a comma-separated list, or an array. */
  readonly brokers: string | readonly string[]
  readonly topic: string
  /**
   * 'exactly-once' (default): transactions committed when a checkpoint completes; consumers
   * reading with isolation read_committed see every record once. 'at-least-once': an idempotent
   * producer; a recovery writes the records since the last checkpoint again.
   */
  readonly guarantee?: 'exactly-once' | 'at-least-once'
  /** The partition of a record, 0 ≤ p < partitions; default: by key hash (Java client's murmur2), round robin without a key. */
  readonly partition?: (record: T, partitions: number) => number
  /**
   * Prefix of the transactional ids, `${prefix}-${sinkId}-${subtask}-${slot}`; default
   * `sluice-${topic}`. Two running jobs must not share ids: the later fences the earlier.
   */
  readonly transactionalIdPrefix?: string
  /** Create the topic with this many partitions when it does not exist (otherwise: CONNECTOR_NOT_FOUND). */
  readonly createTopic?: { readonly partitions: number; readonly replicas?: number }
  /** How long a transaction may stay open before the broker aborts it (≤ the broker's transaction.max.timeout.ms). Default 15 minutes. */
  readonly transactionTimeoutMs?: number
  /** How long open() may take to reach the brokers before failing with CONNECTOR_UNREACHABLE. Default 20 s. */
  readonly openTimeoutMs?: number
}

/**
 * A sink writing each record as one message of a Kafka topic.
 *
 * @example
 * ```ts
 * declare const bids: Stream<Bid>
 * bids.map('to-usd', (b) => ({ ...b, price: b.price * 1.08 }))
 *   .to('out', kafkaSink({ brokers: '127.0.0.1:9092', topic: 'bids-usd', createTopic: { partitions: 8 }, key: (b) => String(b.auction) }))
 * ```
 */
export function kafkaSink<T = unknown>(options: KafkaSinkOptions<T>): KafkaSink<T> {
  return new KafkaSink(options)
}

/**
 * A Kafka sink from a URI: `kafka://HOST:PORT/TOPIC?guarantee=exactly-once|at-least-once
 * &partitions=N&format=json|string|bytes&transactionalIdPrefix=X`. `partitions` creates the topic
 * with N partitions when it is missing. `extra` adds what a URI cannot say (key, headers…).
 *
 * @example
 * ```ts
 * const sink = kafkaSinkFromUri<{ id: string; n: number }>('kafka://127.0.0.1:9092/results?partitions=8', { key: (r) => r.id })
 * ```
 */
export function kafkaSinkFromUri<T = unknown>(uri: string, extra: Partial<KafkaSinkOptions<T>> = {}): KafkaSink<T> {
  const u = new ConnectorUri(uri, 'kafka', 9092)
  const topic = u.requireName('topic')
  const guarantee = u.oneOf('guarantee', ['exactly-once', 'at-least-once'] as const)
  const partitions = u.int('partitions', 1, 100_000)
  const format = u.oneOf('format', PAYLOAD_FORMATS)
  const transactionalIdPrefix = u.string('transactionalIdPrefix')
  u.done()
  if (u.user !== null) throw new SluiceError('CONNECTOR_UNSUPPORTED', `connector URI "${u.text}": kafka:// takes no user or password yet`)
  const host = u.host.includes(':') ? `[${u.host}]` : u.host
  return new KafkaSink<T>({
    ...extra,
    brokers: `${host}:${u.port}`,
    topic,
    ...(guarantee !== undefined && { guarantee }),
    ...(format !== undefined && { format }),
    ...(transactionalIdPrefix !== undefined && { transactionalIdPrefix }),
    ...(partitions !== undefined && { createTopic: { partitions } }),
  })
}

export class KafkaSink<T> implements Sink<T> {
  readonly kind = 'kafka'
  /** Each subtask has its own producers (and transactional ids). */
  readonly parallel = true
  readonly exactlyOnce: boolean
  private readonly brokers: string[]
  private readonly uri: string

  constructor(private readonly options: KafkaSinkOptions<T>) {
    if (typeof options.topic !== 'string' || options.topic === '') throw new SluiceError('CONNECTOR_OPTION_INVALID', 'kafkaSink option topic must name a topic')
    this.brokers = brokerList(options.brokers)
    this.uri = `kafka://${this.brokers.join(',')}/${options.topic}`
    const guarantee = options.guarantee ?? 'exactly-once'
    if (guarantee !== 'exactly-once' && guarantee !== 'at-least-once') throw new SluiceError('CONNECTOR_OPTION_INVALID', `kafkaSink option guarantee must be 'exactly-once' or 'at-least-once', got ${JSON.stringify(guarantee)}`)
    if (options.format !== undefined && !PAYLOAD_FORMATS.includes(options.format)) throw new SluiceError('CONNECTOR_OPTION_INVALID', `kafkaSink option format must be one of ${PAYLOAD_FORMATS.join(', ')}, got ${JSON.stringify(options.format)}`)
    const n = options.createTopic?.partitions
    if (options.createTopic !== undefined && (!Number.isInteger(n) || (n as number) < 1)) throw new SluiceError('CONNECTOR_OPTION_INVALID', `kafkaSink option createTopic.partitions must be a whole number ≥ 1, got ${String(n)}`)
    this.exactlyOnce = guarantee === 'exactly-once'
  }

  /**
   * Connects and checks the topic (creating it with `createTopic`). Exactly-once: commits the
   * transactions `recoverFrom` names that are still open, then fences every transactional id of
   * this subtask, aborting whatever else they left open.
   */
  async open(ctx: SinkContext, recoverFrom?: SinkCommit | null): Promise<KafkaSinkWriter<T>> {
    const o = this.options
    const commit = this.exactlyOnce && recoverFrom !== undefined && recoverFrom !== null ? checkCommit(recoverFrom, o.topic) : null
    const clientId = `sluice-${ctx.sinkId}-${ctx.subtaskIndex}`
    const { Admin, Producer, compatibilityPartitioner } = await kafkaLibrary.load()
    const admin = new Admin(baseClientOptions(clientId, this.brokers))
    const producers: KafkaProducer[] = []
    const release = async (): Promise<void> => {
      await Promise.all([admin.close().catch(() => undefined), ...producers.map((p) => new Promise<void>((resolve) => p.close(true, () => resolve())))])
    }
    try {
      const partitions = await withDeadline(this.checkTopic(admin), o.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, this.uri, `looking up topic ${o.topic}`)
      const encoding: MessageEncoding<T> = { topic: o.topic, format: o.format ?? 'json', partitions, key: o.key, partition: o.partition, headers: o.headers }
      const producerOptions = {
        ...baseClientOptions(clientId, this.brokers),
        // Retry sends until they succeed (the client's default for idempotent producers) but reach the brokers quickly.
        retries: undefined,
        idempotent: true,
        partitioner: compatibilityPartitioner,
        serializers: { headerKey: toBuffer, headerValue: toBuffer },
      }
      let target: SinkTarget
      if (!this.exactlyOnce) {
        const producer = new Producer<Buffer, Buffer, string, string>(producerOptions)
        producers.push(producer)
        await withDeadline(producer.initIdempotentProducer({}), o.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, this.uri, 'initialising the idempotent producer')
        target = { kind: 'idempotent', producer }
      } else {
        for (const tx of commit?.transactions ?? []) await resumeAndCommit(admin, tx, this.brokers)
        const prefix = o.transactionalIdPrefix ?? `sluice-${o.topic}`
        const slotCount = Math.max(KAFKA_SINK_SLOTS, commit?.slots ?? 0)
        const slots: TransactionSlot[] = []
        for (let s = 0; s < slotCount; s++) {
          const transactionalId = `${prefix}-${ctx.sinkId}-${ctx.subtaskIndex}-${s}`
          // producerId -1 / epoch -1: "no producer known" (the client's default 0/0 claims producer 0 and is fenced by the broker).
          const producer = new Producer<Buffer, Buffer, string, string>({ ...producerOptions, transactionalId, producerId: -1n, producerEpoch: -1, timeout: o.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS })
          producers.push(producer)
          slots.push({ transactionalId, producer, prepared: null })
        }
        // Beginning a transaction runs InitProducerId: it fences older producers of the id and aborts their open transaction.
        const fence = Promise.all(slots.map(async (s) => (s.prepared = await s.producer.beginTransaction())))
        await withDeadline(fence, o.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS, this.uri, 'fencing the transactional ids')
        target = { kind: 'transactional', slots }
      }
      return new KafkaSinkWriter<T>(encoding, target, rejecterFor(ctx, `topic ${o.topic}`), release, recoverFrom !== undefined)
    } catch (e) {
      await release()
      if (e instanceof SluiceError) throw e
      throw sinkError(e, `kafkaSink cannot open ${this.uri}`, 'CONNECTOR_UNREACHABLE')
    }
  }

  /** The topic's partition count; creates the topic with `createTopic`; CONNECTOR_NOT_FOUND or CONNECTOR_UNREACHABLE otherwise. */
  private async checkTopic(admin: Admin): Promise<number> {
    const { topic, createTopic } = this.options
    /** The partition count; null for a topic the broker does not know. */
    const lookUp = async (): Promise<number | null> => {
      try {
        const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
        return metadata.topics.get(topic)?.partitionsCount ?? null
      } catch (e) {
        if (isUnknownTopic(e)) return null
        throw e
      }
    }
    let partitions: number | null
    try {
      partitions = await lookUp()
    } catch (e) {
      throw sinkError(e, `kafkaSink cannot reach Kafka at ${this.uri}`, 'CONNECTOR_UNREACHABLE')
    }
    if (partitions !== null) return partitions
    if (createTopic === undefined) {
      throw new SluiceError('CONNECTOR_NOT_FOUND', `kafkaSink: topic "${topic}" does not exist at ${this.uri}; create it, or pass createTopic: { partitions: N } (?partitions=N in the URI)`)
    }
    try {
      await admin.createTopics({ topics: [topic], partitions: createTopic.partitions, replicas: createTopic.replicas ?? 1 })
    } catch (e) {
      if (!isTopicExists(e)) throw sinkError(e, `kafkaSink cannot create topic ${topic} at ${this.uri}`)
    }
    // Metadata can lag a fresh topic for a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        partitions = await lookUp()
      } catch (e) {
        throw sinkError(e, `kafkaSink created topic ${topic} at ${this.uri} but cannot see it`)
      }
      if (partitions !== null) return partitions
      if (attempt >= 50) throw new SluiceError('SINK_IO', `kafkaSink created topic ${topic} at ${this.uri} but cannot see it: the broker does not know it after ${attempt} tries`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

function toBuffer(s?: string): Buffer | undefined {
  return s === undefined ? undefined : Buffer.from(s, 'utf8')
}
