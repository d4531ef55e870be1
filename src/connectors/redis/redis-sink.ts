/**
 * Writes records to Redis Streams with pipelined XADD: at-least-once, each entry carrying a
 * deterministic `sluice-id` by which a consumer can drop the ones a recovery wrote again.
 */
import { describeCause, reasonOf, SluiceError } from '../../errors.ts'
import { encodeTextPayload, PAYLOAD_FORMATS, type BrokerSinkOptions, type PayloadFormat } from '../broker.ts'
import type { ConnectionStatus, Sink, SinkCommit, SinkContext, SinkWriter } from '../spi.ts'
import { keyHash } from '../broker.ts'
import { connectRedis, DEFAULT_CONNECT_TIMEOUT_MS, destroyQuietly, isConnectionLoss, parseRedisUri, partitionKeys, redisError, type RedisLink } from './redis-client.ts'

export interface RedisStreamSinkOptions<T> extends Omit<BrokerSinkOptions<T>, 'key'> {
  /** The server, as node-redis takes it: `redis://[user:pass@]HOST:PORT[/DB]`. */
  readonly url: string
  /** The stream key, or a function choosing it per record. */
  readonly key: string | ((record: T) => string)
  /**
   * With a string `key`: spread the records over the streams KEY.0 … KEY.(n-1), by
   * keyHash(messageKey) % n when `messageKey` gives one, else by the record's ordinal. Absent: KEY.
   */
  readonly partitions?: number
  /** The entry field for the payload (default 'value'). */
  readonly field?: string
  /** The message key from the record, written as the entry's 'key' field; null or absent: none. */
  readonly messageKey?: (record: T) => string | null
  /** Trim each stream to about this many entries as it is written (XADD MAXLEN ~ n). Absent: no trimming. */
  readonly maxLen?: number
  /**
   * The field holding the entry's deterministic id, `${sinkId}-${subtask}-${n}` (default
   * 'sluice-id'); null: write none. See docs/connectors/redis.md for deduplicating with it.
   */
  readonly idField?: string | null
  /** How long the first connect may take (default 5 s). */
  readonly connectTimeoutMs?: number
}

/**
 * Counts of the records this writer's subtask had written when the checkpoint was taken: a
 * recovered writer numbers its `sluice-id`s on from there.
 */
export type RedisStreamCommit = { readonly written: number }

/** Batches written but not yet answered before a write waits for the oldest. */
const MAX_BATCHES_IN_FLIGHT = 4
/** Times a batch's unanswered XADDs are sent again after connections drop, before the writer fails. */
const MAX_RESENDS = 10

/**
 * An at-least-once sink appending each record to a Redis Stream (XADD, pipelined per batch;
 * pre-commit waits for every reply). After a failure, records since the last checkpoint are
 * written again: same `sluice-id` when the job is deterministic. Runs in parallel, one
 * connection per subtask.
 *
 * @example
 * ```ts
 * interface Result { region: string; total: number }
 * declare const results: Stream<Result>
 * results.to('out', redisStreamSink<Result>({ url: 'redis://127.0.0.1:6379', key: (r) => `results.${r.region}`, maxLen: 1_000_000 }))
 * ```
 */
export function redisStreamSink<T>(options: RedisStreamSinkOptions<T>): Sink<T> {
  return new RedisStreamSink(options)
}

/**
 * What a URI's sink takes besides its parameters. The URI names the stream, so `key` here is the
 * message key, as in every broker sink (written as the entry's 'key' field, and choosing the
 * partition with `?partitions=N`).
 */
export type RedisStreamSinkUriOptions<T> = BrokerSinkOptions<T> & Partial<Pick<RedisStreamSinkOptions<T>, 'idField' | 'connectTimeoutMs'>>

/**
 * The same from a URI: `redis://[user:pass@]HOST:PORT/KEY?format=json&field=value&maxLen=N&partitions=N&db=0`.
 * `extra` gives what a URI cannot (`key` for the message key, `headers`); a URI parameter wins.
 *
 * @example
 * ```ts
 * redisStreamSinkFromUri('redis://127.0.0.1:6379/results?maxLen=100000')
 * ```
 */
export function redisStreamSinkFromUri<T>(uri: string, extra: RedisStreamSinkUriOptions<T> = {}): Sink<T> {
  const parts = parseRedisUri(uri)
  if (parts.partitioned === null && parts.keys.length !== 1) throw new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${parts.uri.text}": a redis sink writes one stream key; the path names ${parts.keys.length}`)
  const format = parts.uri.oneOf('format', PAYLOAD_FORMATS)
  const field = parts.uri.string('field')
  const maxLen = parts.uri.int('maxLen', 1, Number.MAX_SAFE_INTEGER)
  parts.uri.done()
  const { key: messageKey, ...rest } = extra
  return new RedisStreamSink<T>({
    ...rest,
    ...(messageKey === undefined ? {} : { messageKey }),
    url: parts.url,
    key: parts.partitioned?.key ?? parts.keys[0],
    ...(parts.partitioned === null ? {} : { partitions: parts.partitioned.partitions }),
    ...(format === undefined ? {} : { format }),
    ...(field === undefined ? {} : { field }),
    ...(maxLen === undefined ? {} : { maxLen }),
  })
}

class RedisStreamSink<T> implements Sink<T> {
  readonly kind = 'redis'
  readonly parallel = true
  readonly exactlyOnce = false
  readonly format: PayloadFormat

  constructor(readonly options: RedisStreamSinkOptions<T>) {
    if (typeof options.url !== 'string' || options.url === '') invalid('url', 'a redis:// URL', options.url)
    if (typeof options.key === 'string' ? options.key === '' : typeof options.key !== 'function') invalid('key', 'a stream key or a function of the record', options.key)
    this.format = options.format ?? 'json'
    if (!PAYLOAD_FORMATS.includes(this.format)) invalid('format', PAYLOAD_FORMATS.join(', '), options.format)
    const field = options.field ?? 'value'
    if (typeof field !== 'string' || field === '' || field === 'key') invalid('field', "a field name other than 'key'", options.field)
    if (options.maxLen !== undefined && (!Number.isSafeInteger(options.maxLen) || options.maxLen < 1)) invalid('maxLen', 'a whole number >= 1', options.maxLen)
    if (options.partitions !== undefined && (typeof options.key !== 'string' || !Number.isSafeInteger(options.partitions) || options.partitions < 1)) invalid('partitions', 'a whole number >= 1, with a string key', options.partitions)
    const idField = options.idField === undefined ? 'sluice-id' : options.idField
    if (idField !== null && (typeof idField !== 'string' || idField === '' || idField === field || idField === 'key')) invalid('idField', 'null or a field name other than the payload field and "key"', options.idField)
  }

  async open(ctx: SinkContext, recoverFrom?: SinkCommit | null): Promise<SinkWriter<T>> {
    let written = 0
    if (recoverFrom !== undefined && recoverFrom !== null) {
      const n = recoverFrom.written
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `redis sink ${ctx.sinkId}: cannot recover from commit ${JSON.stringify(recoverFrom)}: written must be a whole number >= 0`)
      }
      written = n
    }
    const link = await connectRedis(this.options.url, 'sink', `sluice-sink-${ctx.sinkId}-${ctx.subtaskIndex}`, this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
    return new RedisStreamWriter(ctx, link, this.options, this.format, written)
  }
}

class RedisStreamWriter<T> implements SinkWriter<T> {
  private readonly inFlight: Promise<void>[] = []
  private failure: SluiceError | null = null
  private readonly field: string
  private readonly idField: string | null
  private readonly idPrefix: string
  /** With `partitions`: the stream keys KEY.0 … KEY.(n-1); null otherwise. */
  private readonly partitionKeys: readonly string[] | null
  /** MAXLEN's argument as text; null: no trimming. */
  private readonly maxLen: string | null
  private closed = false

  constructor(
    private readonly ctx: SinkContext,
    private readonly link: RedisLink,
    private readonly options: RedisStreamSinkOptions<T>,
    private readonly format: PayloadFormat,
    /** Records of this subtask written since the job started, restored from the checkpoint. */
    private written: number,
  ) {
    this.field = options.field ?? 'value'
    this.idField = options.idField === undefined ? 'sluice-id' : options.idField
    this.idPrefix = `${ctx.sinkId}-${ctx.subtaskIndex}-`
    this.maxLen = options.maxLen === undefined ? null : String(options.maxLen)
    this.partitionKeys = options.partitions === undefined ? null : partitionKeys(options.key as string, options.partitions)
  }

  async write(batch: readonly T[]): Promise<void> {
    this.check()
    const { key, messageKey, headers } = this.options
    const commands: (string | Buffer)[][] = []
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]
      let payload: string | Buffer
      let args: (string | Buffer)[]
      try {
        payload = this.encode(record)
        const k = messageKey?.(record)
        const parts = this.partitionKeys
        const stream = parts !== null
          ? parts[(k === undefined || k === null ? this.written : keyHash(k)) % parts.length]
          : typeof key === 'string' ? key : key(record)
        args = this.maxLen === null ? ['XADD', stream, '*', this.field, payload] : ['XADD', stream, 'MAXLEN', '~', this.maxLen, '*', this.field, payload]
        if (this.idField !== null) args.push(this.idField, this.idPrefix + this.written)
        if (k !== undefined && k !== null) args.push('key', k)
        if (headers !== undefined) for (const [name, value] of Object.entries(headers(record))) args.push(name, value)
      } catch (e) {
        const reason = `cannot write the record: ${reasonOf(e)}`
        if (this.ctx.reportBadRecord === undefined) throw new SluiceError('SINK_RECORD_UNWRITABLE', `redis sink ${this.ctx.sinkId}: ${reason}`, { cause: e })
        this.ctx.reportBadRecord(record, reason)
        continue
      }
      this.written++
      commands.push(args)
    }
    if (commands.length === 0) return
    this.inFlight.push(this.send(commands, 0))
    if (this.inFlight.length > MAX_BATCHES_IN_FLIGHT) await this.inFlight.shift()
    this.check()
  }

  /**
   * Sends a batch's XADDs in one go and settles when every reply came. Those whose connection
   * dropped before the reply are sent again once node-redis has reconnected: an entry may then
   * be written twice (at-least-once), with the same sluice-id. A refusal by the server, or a
   * connection given up, becomes the writer's failure.
   */
  private send(commands: readonly (string | Buffer)[][], attempt: number): Promise<void> {
    const replies = commands.map((args) => this.link.client.sendCommand(args))
    return Promise.all(replies).then(() => undefined, async () => {
      const outcomes = await Promise.allSettled(replies)
      const again: (string | Buffer)[][] = []
      for (let i = 0; i < outcomes.length; i++) {
        const outcome = outcomes[i]
        if (outcome.status === 'fulfilled') continue
        const e: unknown = outcome.reason
        if (isConnectionLoss(e) && !this.closed && this.link.tracker.state !== 'failed' && attempt < MAX_RESENDS) {
          again.push(commands[i])
          continue
        }
        this.failure ??= isConnectionLoss(e)
          ? new SluiceError('CONNECTOR_UNREACHABLE', `redis sink ${this.ctx.sinkId}: lost ${this.link.text}: ${describeCause(e)}`, { cause: e })
          : redisError(e, 'SINK_IO', `redis sink ${this.ctx.sinkId}: XADD to ${this.link.text}`)
        return
      }
      if (again.length > 0) await this.send(again, attempt + 1)
    })
  }

  private encode(record: T): string | Buffer {
    if (this.format !== 'bytes') return encodeTextPayload(this.format, record)
    if (record instanceof Uint8Array) return Buffer.from(record.buffer, record.byteOffset, record.byteLength)
    throw new SluiceError('SINK_RECORD_UNWRITABLE', `format 'bytes' needs a Uint8Array record, got ${record === null ? 'null' : typeof record}`)
  }

  /** Waits for every XADD sent so far; throws the first failure. */
  private async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift()
    this.check()
  }

  private check(): void {
    if (this.failure !== null) throw this.failure
  }

  async flush(): Promise<void> {
    await this.drain()
  }

  async preCommit(): Promise<SinkCommit> {
    await this.drain()
    return { written: this.written } satisfies RedisStreamCommit
  }

  /** Nothing to do: every entry is final once XADD answered (at-least-once). */
  commit(): void {}

  async close(): Promise<void> {
    if (this.closed) return
    try {
      await this.drain()
    } finally {
      this.closed = true
      destroyQuietly(this.link.client)
    }
  }

  async abort(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled(this.inFlight)
    this.inFlight.length = 0
    destroyQuietly(this.link.client)
  }

  connection(): ConnectionStatus {
    return this.link.tracker.status()
  }
}

function invalid(option: string, expected: string, got: unknown): never {
  throw new SluiceError('CONNECTOR_OPTION_INVALID', `redisStreamSink: option ${option} must be ${expected}, got ${typeof got === 'function' ? 'a function' : JSON.stringify(got) ?? String(got)}`)
}
