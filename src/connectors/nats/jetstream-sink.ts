/**
 * Publishes records to a NATS JetStream stream, exactly once across recoveries.
 *
 * ## Message ids
 *
 * Every message carries `Nats-Msg-Id: <sinkId>-<subtask>-<run>-<n>`:
 * - `run` names the writer's lineage: a fresh writer (`open(ctx)`, or a restore that has no
 *   commit for this sink) draws a new one; a writer recovering from a commit takes the commit's.
 * - `n` is the record's ordinal in that lineage: how many records this subtask wrote before it
 *   since the lineage began. A pre-commit stores it (`count`), and a recovered writer counts on
 *   from there.
 * A job recovering from checkpoint c replays exactly the records that followed c, in the same
 * order (replayable sources, deterministic operators), so the replay regenerates the ids the
 * failed writer gave them, and the server drops the ones it already holds as duplicates.
 *
 * Why not `<checkpoint id>-<index since that checkpoint>`: after a restore the coordinator numbers
 * checkpoints on from the restored one, so checkpoint c+1 of the new run ends at another record
 * than the c+1 the failed run pre-committed; the same id would name two different records and the
 * second would be dropped as a duplicate — a lost record.
 *
 * ## Not relying on the duplicate window
 *
 * The server forgets ids after the stream's `duplicate_window` (2 minutes by default). So a
 * recovering writer first reads what it already published: the messages after the commit's
 * stream sequence (headers only, through an ordered consumer) whose id starts with
 * `<sinkId>-<subtask>-<run>-`: the ordinals found are the replayed records already in the stream,
 * and the writer skips them instead of publishing them again. (The set, not the highest: a message
 * lost in a disconnect can leave a gap below later ones that went through.) A pre-commit waits for
 * every publish acknowledgement, so every message of the lineage before the commit has a sequence
 * at most the commit's, and every later one a higher sequence — except while a recovered writer is
 * still skipping what the failed one published: its commits then carry the sequence its own
 * read-back started from, which lies before those messages.
 *
 * Publishes not acknowledged when the connection drops are sent again (same ids) once it is back.
 *
 * ## Throughput
 *
 * `js.publish()` awaits one promise per message and is client-bound (~10-14 K msg/s here). This
 * writer publishes plainly with a reply subject under one inbox subscription and counts the
 * acknowledgements, keeping up to `maxInFlight` unacknowledged (~45 K msg/s with ids here).
 *
 * This file checks the options, the stream and a recovery's commit; `JetStreamWriter`
 * (jetstream-writer.ts) publishes.
 */
import { jetstreamLibrary } from '../client-libraries.ts'
import { describeCause, SluiceError } from '../../errors.ts'
import { ConnectionTracker, PAYLOAD_FORMATS, type BrokerSinkOptions, type PayloadFormat } from '../broker.ts'
import type { Sink, SinkCommit, SinkContext } from '../spi.ts'
import { checkStreamName, closeQuietly, connectJetStream, MESSAGE_TTL, unsupportedFeature, type JetStreamConnectionOptions, type JetStreamLink } from './common.ts'
import { JetStreamWriter } from './jetstream-writer.ts'

export interface JetStreamSinkOptions<T> extends JetStreamConnectionOptions, BrokerSinkOptions<T> {
  /** The stream to publish to. */
  readonly stream: string
  /** The subject of each record (it must be one of the stream's subjects). Default: a partition subject, see `partitions`. */
  readonly subject?: (record: T) => string
  /**
   * Without `subject`: records go to `<stream>.<p>`, p = hash(key) % partitions with a `key`
   * function, else the record's ordinal % partitions. Default 1.
   */
  readonly partitions?: number
  /** Create the stream (subjects `<stream>.*`, file storage) when it does not exist. Default false: a missing stream is CONNECTOR_NOT_FOUND. */
  readonly create?: boolean
  /** 'exactly-once' (default): message ids and the restore check above. 'at-least-once': no ids; a recovery publishes again what followed the checkpoint. */
  readonly guarantee?: 'exactly-once' | 'at-least-once'
  /** Unacknowledged publishes allowed at once (default 8192). */
  readonly maxInFlight?: number
  /** Fail (SINK_IO) when no acknowledgement arrives for this long while some are outstanding (default 30000). */
  readonly ackTimeoutMs?: number
  /** Per-message time to live. Needs NATS 2.11; refused (CONNECTOR_UNSUPPORTED) on older servers. */
  readonly messageTtlMs?: number
}

/**
 * A parallel sink publishing to a JetStream stream; exactly-once by default.
 *
 * @example
 * ```ts
 * declare const bids: Stream<Bid>
 * bids.to('out', jetstreamSink({ servers: '127.0.0.1:4222', stream: 'bids_usd', partitions: 8, key: (b) => String(b.auction), create: true }))
 * ```
 */
export function jetstreamSink<T = unknown>(options: JetStreamSinkOptions<T>): JetStreamSink<T> {
  return new JetStreamSink(options)
}

/** What a pre-commit made durable: records 0 … count-1 of lineage `run`, all at stream sequences <= seq. */
export type JetStreamCommit = {
  readonly checkpoint: number
  readonly run: string
  readonly subtask: number
  readonly count: number
  readonly seq: number
  /** The id of the last message published (null when none), for people reading a checkpoint. */
  readonly lastId: string | null
}

export class JetStreamSink<T> implements Sink<T> {
  readonly kind = 'nats'
  readonly parallel = true
  readonly exactlyOnce: boolean
  readonly format: PayloadFormat
  readonly partitions: number

  constructor(readonly options: JetStreamSinkOptions<T>) {
    checkStreamName('jetstreamSink', options.stream)
    this.format = options.format ?? 'json'
    if (!PAYLOAD_FORMATS.includes(this.format)) invalid('format', `one of ${PAYLOAD_FORMATS.join(', ')}`, options.format)
    const g = options.guarantee ?? 'exactly-once'
    if (g !== 'exactly-once' && g !== 'at-least-once') invalid('guarantee', "'exactly-once' or 'at-least-once'", g)
    this.exactlyOnce = g === 'exactly-once'
    this.partitions = options.partitions ?? 1
    if (!Number.isSafeInteger(this.partitions) || this.partitions < 1) invalid('partitions', 'a whole number >= 1', options.partitions)
    if (options.subject !== undefined && options.partitions !== undefined) invalid('partitions', 'absent when subject is given', options.partitions)
    for (const k of ['maxInFlight', 'ackTimeoutMs', 'messageTtlMs'] as const) {
      const v = options[k]
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) invalid(k, 'a whole number >= 1', v)
    }
  }

  async open(ctx: SinkContext, recoverFrom?: SinkCommit | null): Promise<JetStreamWriter<T>> {
    const stream = this.options.stream
    const what = `sink "${ctx.sinkId}" (nats stream ${stream})`
    const commit = recoverFrom === undefined || recoverFrom === null ? null : checkCommit(recoverFrom, ctx, what)
    const tracker = new ConnectionTracker()
    const link = await connectJetStream(this.options, what, tracker)
    try {
      const version = link.nc.info?.version ?? '0.0.0'
      const refused = unsupportedFeature(what, version, this.options.messageTtlMs !== undefined ? [MESSAGE_TTL] : [])
      if (refused !== null) throw refused
      const lastSeq = await this.ensureStream(link, what)
      const run = commit?.run ?? newRun()
      const prefix = `${ctx.sinkId}-${ctx.subtaskIndex}-${run}-`
      const present = commit !== null && this.exactlyOnce ? await this.published(link, prefix, commit.seq, lastSeq, what) : null
      // Whatever this writer publishes lands after lastSeq, so a later recovery reads back from there at most.
      return new JetStreamWriter<T>(this, ctx, link, tracker, run, prefix, commit?.count ?? 0, present, commit?.seq ?? 0, lastSeq)
    } catch (e) {
      await closeQuietly(link.nc)
      throw e
    }
  }

  /** Checks (or creates) the stream; returns its last sequence. */
  private async ensureStream(link: JetStreamLink, what: string): Promise<number> {
    const stream = this.options.stream
    try {
      return (await link.jsm.streams.info(stream)).state.last_seq
    } catch (e) {
      if ((e as { name?: unknown }).name !== 'StreamNotFoundError') throw new SluiceError('SINK_IO', `${what}: cannot read the stream's info: ${describeCause(e)}`, { cause: e })
      if (this.options.create !== true) throw new SluiceError('CONNECTOR_NOT_FOUND', `${what}: JetStream has no stream "${stream}"; create it or set create: true (?create=true)`, { cause: e })
    }
    try {
      const info = await link.jsm.streams.add({ name: stream, subjects: [`${stream}.*`], ...(this.options.messageTtlMs !== undefined ? { allow_msg_ttl: true } : {}) })
      return info.state.last_seq
    } catch (e) {
      // Another subtask may have created it in the meantime.
      try {
        return (await link.jsm.streams.info(stream)).state.last_seq
      } catch {
        throw new SluiceError('SINK_IO', `${what}: cannot create stream "${stream}": ${describeCause(e)}`, { cause: e })
      }
    }
  }

  /**
   * The ordinals of lineage `prefix` among the messages after sequence `after` (up to `last`),
   * or null when there are none: what a recovered writer must not publish again.
   */
  private async published(link: JetStreamLink, prefix: string, after: number, last: number, what: string): Promise<Set<number> | null> {
    if (last <= after) return null
    const stream = this.options.stream
    const found = new Set<number>()
    try {
      const { DeliverPolicy, jetstream } = jetstreamLibrary.get()
      const consumer = await jetstream(link.nc).consumers.get(stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: after + 1,
        headers_only: true,
        ...(this.options.subject === undefined ? { filter_subjects: `${stream}.*` } : {}),
      })
      let pending = (await consumer.info(true)).num_pending
      let seq = after
      while (pending > 0 && seq < last) {
        const fetch = await consumer.fetch({ max_messages: Math.min(pending, 1000), expires: 30_000 })
        for await (const m of fetch) {
          seq = m.seq
          pending = m.info.pending
          if (seq > last) break
          const id = m.headers?.get('Nats-Msg-Id') ?? ''
          if (id.startsWith(prefix)) {
            const n = Number(id.slice(prefix.length))
            if (Number.isSafeInteger(n)) found.add(n)
          }
        }
      }
      await consumer.delete().catch(() => false)
    } catch (e) {
      throw new SluiceError('SINK_IO', `${what}: cannot read back what was published after sequence ${after}: ${describeCause(e)}`, { cause: e })
    }
    return found.size === 0 ? null : found
  }
}

function invalid(option: string, expected: string, got: unknown): never {
  throw new SluiceError('CONNECTOR_OPTION_INVALID', `jetstreamSink option ${option} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`)
}

function newRun(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
}

function checkCommit(c: SinkCommit, ctx: SinkContext, what: string): JetStreamCommit {
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  if (typeof c.run !== 'string' || !/^[a-z0-9]+$/.test(c.run) || !whole(c.count) || !whole(c.seq) || !whole(c.subtask) || !whole(c.checkpoint)) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `${what}: cannot recover from ${JSON.stringify(c)}: not a commit of a nats sink`)
  }
  if (c.subtask !== ctx.subtaskIndex) throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `${what}: cannot recover subtask ${ctx.subtaskIndex} from the commit of subtask ${c.subtask}`)
  return c as JetStreamCommit
}
