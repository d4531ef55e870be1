/**
 * Reads a Kafka topic: one split per partition, partition p read by subtask p % parallelism.
 * Sluice assigns the partitions and keeps the offsets in its checkpoints, so the reader does not
 * join a consumer group: it fetches its partitions from explicit offsets, and only commits the
 * group's offsets (when a group is named) after a checkpoint completes, for lag tools.
 */
import type { Admin } from '@platformatic/kafka'
import { SluiceError } from '../../errors.ts'
import { PAYLOAD_FORMATS, type BrokerSourceOptions, type PayloadFormat } from '../broker.ts'
import type { Source, SourceContext, SourcePosition } from '../spi.ts'
import { kafkaLibrary } from '../client-libraries.ts'
import { describeBrokers, kafkaClientOptions, kafkaConnectionFromUri, kafkaError, parseBrokers, parseKafkaUri, type KafkaConnectionOptions, type ParsedBroker } from './common.ts'
import { assignedPartitions, checkKafkaPosition } from './kafka-position.ts'
import { KafkaSourceReader, type PartitionState } from './kafka-source-reader.ts'

/** Where a fresh start (no checkpoint) begins in each partition. */
export type KafkaStart = 'earliest' | 'latest' | 'committed' | { readonly timestamp: number }

export type KafkaIsolation = 'read_committed' | 'read_uncommitted'

export interface KafkaSourceOptions<T> extends KafkaConnectionOptions, BrokerSourceOptions<T> {
  readonly topic: string
  /**
   * A consumer group whose offsets the source commits when a checkpoint completes, so that
   * `kafka-consumer-groups --describe` and other lag tools see the job's progress. The source
   * never joins the group (Sluice assigns partitions itself); no commits without it.
   */
  readonly group?: string
  /**
   * Where a fresh start begins (a restore always resumes at the checkpoint): 'earliest'
   * (default), 'latest', 'committed' (the group's committed offsets; earliest where the group
   * has none) or `{ timestamp }` (the first message at or after that epoch ms; the end where none is).
   */
  readonly start?: KafkaStart
  /** 'read_committed' (default: messages of aborted or open transactions are never read) or 'read_uncommitted'. */
  readonly isolation?: KafkaIsolation
  /** How long the broker may hold a fetch while it has no data (default 100 ms). */
  readonly fetchMaxWaitMs?: number
  /** Bytes a fetch returns at most (default 8 MiB; at least one batch is always returned). */
  readonly fetchMaxBytes?: number
  /** Bytes a fetch returns at most per partition (default 1 MiB). */
  readonly partitionMaxBytes?: number
  /** How long the reader keeps reconnecting to an unreachable broker before it fails (default 120000 ms). */
  readonly reconnectTimeoutMs?: number
}

const ISOLATION_LEVEL = { read_uncommitted: 0, read_committed: 1 } as const
/** ListOffsets' special timestamps. */
const LATEST = -1n
const EARLIEST = -2n

/**
 * A source of the messages of a Kafka topic, decoded with `format` (JSON by default).
 * Replayable (positions are offsets per partition) and splittable (one split per partition).
 *
 * @example
 * ```ts
 * interface Order { id: string; amount: number }
 * // bounded: read up to the end offsets found at the start, then finish (without it: until stopped)
 * pipeline.source('orders', kafkaSource<Order>({ brokers: '127.0.0.1:9092', topic: 'orders', group: 'billing', bounded: true }))
 * // keys, headers and offsets for the record:
 * kafkaSource({ brokers: ['k1:9092', 'k2:9092'], topic: 'clicks', format: 'string', record: (m) => ({ user: m.key, url: m.value }) })
 * ```
 */
export function kafkaSource<T = unknown>(options: KafkaSourceOptions<T>): KafkaSource<T> {
  return new KafkaSource(options)
}

/**
 * The same from a URI: `kafka://HOST:PORT[,HOST:PORT]/TOPIC?group=ID&start=earliest|latest|committed|EPOCH_MS
 * &bounded=true&format=json|string|bytes&isolation=read_committed|read_uncommitted`, with
 * `USER:PASSWORD@` and `sasl=plain|scram-sha-256|scram-sha-512`, `tls=true`, `clientId=NAME`.
 * An unknown parameter fails at once (CONNECTOR_URI_INVALID).
 *
 * @example
 * ```ts
 * kafkaSourceFromUri('kafka://127.0.0.1:9092/nexmark?bounded=true&start=earliest')
 * ```
 */
export function kafkaSourceFromUri<T = unknown>(text: string, extra: BrokerSourceOptions<T> = {}): KafkaSource<T> {
  const { uri, topic } = parseKafkaUri(text)
  const connection = kafkaConnectionFromUri(uri)
  const group = uri.string('group')
  const startText = uri.string('start')
  const bounded = uri.bool('bounded')
  const format = uri.oneOf('format', PAYLOAD_FORMATS)
  const isolation = uri.oneOf('isolation', ['read_committed', 'read_uncommitted'] as const)
  uri.done()
  let start: KafkaStart | undefined
  if (startText === 'earliest' || startText === 'latest' || startText === 'committed') start = startText
  else if (startText !== undefined) {
    if (!/^\d+$/.test(startText) || !Number.isSafeInteger(Number(startText))) {
      throw new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${uri.text}": parameter "start" must be earliest, latest, committed or a time in epoch milliseconds, got "${startText}"`)
    }
    start = { timestamp: Number(startText) }
  }
  return new KafkaSource<T>({
    ...extra,
    ...connection,
    topic,
    ...(group !== undefined ? { group } : {}),
    ...(start !== undefined ? { start } : {}),
    ...(bounded !== undefined ? { bounded } : {}),
    ...(format !== undefined ? { format } : {}),
    ...(isolation !== undefined ? { isolation } : {}),
  }, uri.text)
}

export class KafkaSource<T> implements Source<T> {
  readonly kind = 'kafka'
  readonly bounded: boolean
  readonly splittable = true
  readonly replayable = true
  private readonly brokers: ParsedBroker[]
  /** The topic's address for messages, without credentials. */
  readonly where: string
  private readonly format: PayloadFormat
  private readonly start: KafkaStart
  private readonly isolation: KafkaIsolation

  constructor(private readonly options: KafkaSourceOptions<T>, uriText?: string) {
    this.brokers = parseBrokers(options.brokers)
    if (typeof options.topic !== 'string' || options.topic === '') invalid('topic', 'a topic name', options.topic)
    this.where = uriText ?? `${describeBrokers(this.brokers)}/${options.topic}`
    this.bounded = options.bounded === true
    this.format = options.format ?? 'json'
    if (!PAYLOAD_FORMATS.includes(this.format)) invalid('format', PAYLOAD_FORMATS.join(', '), options.format)
    this.isolation = options.isolation ?? 'read_committed'
    if (!(this.isolation in ISOLATION_LEVEL)) invalid('isolation', 'read_committed or read_uncommitted', options.isolation)
    this.start = options.start ?? 'earliest'
    const s = this.start
    if (typeof s === 'object' ? !(s !== null && Number.isSafeInteger(s.timestamp) && s.timestamp >= 0) : !['earliest', 'latest', 'committed'].includes(s)) {
      invalid('start', "'earliest', 'latest', 'committed' or { timestamp: epochMs }", options.start)
    }
    if (s === 'committed' && options.group === undefined) invalid('start', "a group with start: 'committed'", options.start)
    if (options.group !== undefined && (typeof options.group !== 'string' || options.group === '')) invalid('group', 'a non-empty group id', options.group)
    if (options.record !== undefined && typeof options.record !== 'function') invalid('record', 'a function', options.record)
    for (const key of ['fetchMaxWaitMs', 'fetchMaxBytes', 'partitionMaxBytes', 'reconnectTimeoutMs'] as const) {
      const v = options[key]
      if (v !== undefined && (!Number.isSafeInteger(v) || v < (key === 'fetchMaxWaitMs' ? 0 : 1))) invalid(key, 'a whole number >= 1', v)
    }
    kafkaClientOptions(options, this.brokers, 0) // checks SASL and time options now, not at open
  }

  async open(ctx: SourceContext, from?: SourcePosition): Promise<KafkaSourceReader<T>> {
    const { topic, group } = this.options
    const isolationLevel = ISOLATION_LEVEL[this.isolation]
    const client = kafkaClientOptions(this.options, this.brokers, 1)
    const { Admin, Consumer } = await kafkaLibrary.load()
    const consumer = new Consumer({ ...client, groupId: group ?? `sluice-${topic}`, isolationLevel })
    const admin = group !== undefined ? new Admin(client) : null
    try {
      const metadata = await consumer.metadata({ topics: [topic] })
      const info = metadata.topics.get(topic)
      if (info === undefined) throw new SluiceError('CONNECTOR_NOT_FOUND', `${this.where}: the topic does not exist. Create it first (this broker may not create topics on demand)`)
      const assigned = assignedPartitions(info.partitionsCount, ctx.subtaskIndex, ctx.parallelism)
      const resume = from === undefined ? null : checkKafkaPosition(from, topic, info.partitionsCount, assigned)
      const list = async (partitions: readonly number[], timestamp: bigint): Promise<bigint[]> =>
        partitions.length === 0 ? [] : (await consumer.listOffsets({ topics: [topic], partitions: { [topic]: [...partitions] }, timestamp, isolationLevel })).get(topic) ?? []
      // Partitions added to the topic after the checkpoint start from their beginning.
      const startAt = resume === null ? await this.startOffsets(admin, assigned, list, this.start) : await this.startOffsets(admin, resume.added, list, 'earliest')
      let ends: Map<number, number> | null = null
      if (this.bounded) {
        ends = resume?.ends ?? null
        const missing = ends === null ? assigned : assigned.filter((p) => !ends!.has(p))
        const latest = await list(missing, LATEST)
        ends ??= new Map()
        for (const p of missing) ends.set(p, Number(latest[p]))
      }
      const partitions: PartitionState[] = assigned.map((p, slot) => ({
        slot,
        index: p,
        name: `${topic}/${p}`,
        next: resume?.offsets.get(p) ?? startAt.get(p) ?? 0,
        fetchAt: 0,
        end: ends === null ? -1 : ends.get(p) ?? 0,
        highWatermark: -1,
        leader: info.partitions[p].leader,
      }))
      for (const part of partitions) part.fetchAt = part.next
      return new KafkaSourceReader<T>(ctx, {
        consumer,
        admin,
        topic,
        topicId: info.id,
        partitionCount: info.partitionsCount,
        group: group ?? null,
        where: this.where,
        format: this.format,
        record: this.options.record ?? null,
        isolationLevel,
        bounded: this.bounded,
        fetchMaxWaitMs: this.options.fetchMaxWaitMs ?? 100,
        fetchMaxBytes: this.options.fetchMaxBytes ?? 8 * 1024 * 1024,
        partitionMaxBytes: this.options.partitionMaxBytes ?? 1024 * 1024,
        reconnectTimeoutMs: this.options.reconnectTimeoutMs ?? 120_000,
      }, partitions)
    } catch (e) {
      await Promise.allSettled([consumer.close(true), admin?.close()])
      throw kafkaError(e, this.where, 'opening the topic', 'SOURCE_IO')
    }
  }

  /** Start offsets of a fresh start for `partitions`, by `start`. */
  private async startOffsets(admin: Admin | null, partitions: readonly number[], list: (partitions: readonly number[], timestamp: bigint) => Promise<bigint[]>, s: KafkaStart): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    if (partitions.length === 0) return out
    const earliest = await list(partitions, EARLIEST)
    if (s === 'earliest') {
      for (const p of partitions) out.set(p, Number(earliest[p]))
      return out
    }
    const latest = await list(partitions, LATEST)
    if (s === 'latest') {
      for (const p of partitions) out.set(p, Number(latest[p]))
      return out
    }
    if (s === 'committed') {
      // A group without a commit for a partition starts there from the earliest offset; a commit
      // below the log start (deleted by retention) starts at the log start.
      const [groupOffsets] = await admin!.listConsumerGroupOffsets({ groups: [{ groupId: this.options.group!, topics: [{ name: this.options.topic, partitionIndexes: [...partitions] }] }] })
      const committed = new Map<number, bigint>()
      for (const t of groupOffsets?.topics ?? []) for (const p of t.partitions) committed.set(p.partitionIndex, p.committedOffset)
      for (const p of partitions) {
        const c = committed.get(p) ?? -1n
        out.set(p, Number(c < 0n ? earliest[p] : c < earliest[p] ? earliest[p] : c > latest[p] ? latest[p] : c))
      }
      return out
    }
    const at = await list(partitions, BigInt(s.timestamp))
    for (const p of partitions) out.set(p, Number(at[p] === undefined || at[p] < 0n ? latest[p] : at[p]))
    return out
  }
}

function invalid(option: string, expected: string, got: unknown): never {
  throw new SluiceError('CONNECTOR_OPTION_INVALID', `kafkaSource: ${option} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`)
}
