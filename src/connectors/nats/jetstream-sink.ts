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
 */
import { keyHash } from '../broker.ts'
import type { Msg, PublishOptions, Subscription } from '@nats-io/transport-node'
import { jetstreamLibrary, natsLibrary } from '../client-libraries.ts'
import { describeCause, SluiceError } from '../../errors.ts'
import { ConnectionTracker, encodePayload, PAYLOAD_FORMATS, type BrokerSinkOptions, type PayloadFormat } from '../broker.ts'
import type { ConnectionStatus, Sink, SinkCommit, SinkContext, SinkWriter } from '../spi.ts'
import { checkStreamName, closeQuietly, connectJetStream, MESSAGE_TTL, partitionSubject, unsupportedFeature, type JetStreamConnectionOptions, type JetStreamLink } from './common.ts'

const DEFAULT_MAX_IN_FLIGHT = 8192
const DEFAULT_ACK_TIMEOUT_MS = 30_000
/** Header carrying the record's key (from the `key` option), read back by the source as `BrokerMessage.key`. */
export const KEY_HEADER = 'Sluice-Key'

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
 * pipeline.from('bids', bids).to('out', jetstreamSink({ servers: '127.0.0.1:4222', stream: 'bids_usd', partitions: 8, key: (b) => String(b.auction), create: true }))
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
    const { DeliverPolicy, jetstream } = jetstreamLibrary.get()
    try {
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
  throw new SluiceError('JOB_INVALID_OPTION', `jetstreamSink option ${option} must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`)
}

function newRun(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
}

function checkCommit(c: SinkCommit, ctx: SinkContext, what: string): JetStreamCommit {
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  if (typeof c.run !== 'string' || !/^[a-z0-9]+$/.test(c.run) || !whole(c.count) || !whole(c.seq) || !whole(c.subtask) || !whole(c.checkpoint)) {
    throw new SluiceError('JOB_INVALID_OPTION', `${what}: cannot recover from ${JSON.stringify(c)}: not a commit of a nats sink`)
  }
  if (c.subtask !== ctx.subtaskIndex) throw new SluiceError('JOB_INVALID_OPTION', `${what}: cannot recover subtask ${ctx.subtaskIndex} from the commit of subtask ${c.subtask}`)
  return c as JetStreamCommit
}


const EMPTY = new Uint8Array(0)

export class JetStreamWriter<T> implements SinkWriter<T> {
  private readonly sub: Subscription
  private readonly inbox: string
  private readonly ttl: string | null
  /** Records published and acknowledged in this writer's life. */
  private published = 0
  private acked = 0
  private highestSeq: number
  private failure: SluiceError | null = null
  private stopped = false
  /** A wait for acknowledgements: resolves when `acked` reaches `target`. */
  private waiter: { target: number; resolve: () => void } | null = null
  private lastAckAt = 0
  private committed = -1
  /** The highest ordinal found already published at recovery (-1: none). */
  private readonly lastPresent: number
  /**
   * Published, not acknowledged: a ring by ordinal (slot n & ringMask; ordinal -1 when free),
   * kept to send them again after a reconnect. Twice the window, so a slot is free again long
   * before its next ordinal comes, unless one message goes unanswered (then the writer fails).
   */
  private readonly ringMask: number
  private readonly ringOrdinal: Float64Array
  private readonly ringSubject: string[]
  private readonly ringPayload: Uint8Array[]
  /** Key and headers of the record, when it had any (the id and TTL headers are made again). */
  private readonly ringExtra: ({ key: string | null; extra: Record<string, string> | null } | null)[]
  private readonly reject: (record: T, reason: string) => void

  constructor(
    private readonly sink: JetStreamSink<T>,
    private readonly ctx: SinkContext,
    private readonly link: JetStreamLink,
    private readonly tracker: ConnectionTracker,
    private readonly run: string,
    private readonly prefix: string,
    /** The next record's ordinal in the lineage. */
    private next: number,
    /** Ordinals in the stream already (recovery): skipped. */
    private readonly present: Set<number> | null,
    /** The sequence the recovery read back from. */
    private readonly recoveredSeq: number,
    baseSeq: number,
  ) {
    this.highestSeq = baseSeq
    let last = -1
    if (present !== null) for (const n of present) if (n > last) last = n
    this.lastPresent = last
    this.inbox = `${natsLibrary.get().createInbox()}.`
    this.sub = link.nc.subscribe(`${this.inbox}*`, { callback: (err, msg) => this.onAck(err, msg) })
    const size = 2 ** Math.ceil(Math.log2(2 * (sink.options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT)))
    this.ringMask = size - 1
    this.ringOrdinal = new Float64Array(size).fill(-1)
    this.ringSubject = new Array<string>(size).fill('')
    this.ringPayload = new Array<Uint8Array>(size).fill(EMPTY)
    this.ringExtra = new Array<{ key: string | null; extra: Record<string, string> | null } | null>(size).fill(null)
    void this.resendAfterReconnects()
    this.ttl = sink.options.messageTtlMs === undefined ? null : `${Math.ceil(sink.options.messageTtlMs / 1000)}s`
    this.reject = ctx.reportBadRecord !== undefined
      ? (record, reason) => ctx.reportBadRecord!(record, reason)
      : (_record, reason) => {
          throw new SluiceError('SINK_RECORD_UNWRITABLE', `sink "${ctx.sinkId}" cannot write a record to nats stream ${sink.options.stream}: ${reason}`)
        }
  }

  private onAck(err: Error | null, msg: Msg): void {
    // A message sent again after a reconnect may be acknowledged twice: count each once.
    const n = Number(msg.subject.slice(this.inbox.length))
    const slot = n & this.ringMask
    if (this.ringOrdinal[slot] !== n) return
    this.ringOrdinal[slot] = -1
    this.ringPayload[slot] = EMPTY
    this.ringExtra[slot] = null
    this.acked++
    this.lastAckAt = performance.now()
    if (err !== null) {
      this.fail(`the server rejected a publish: ${err.message}`)
    } else if (msg.data.length === 0) {
      // A status message: 503 when no stream takes the subject.
      const code = msg.headers?.code ?? 0
      this.fail(code === 503 ? `no stream takes the subject of message ${msg.subject.slice(this.inbox.length)} (is the subject one of stream ${this.sink.options.stream}'s?)` : `the server answered a publish with status ${code} ${msg.headers?.description ?? ''}`)
    } else {
      // {"stream":"S","seq":N} or {"stream":"S","seq":N,"duplicate":true}: read N without JSON.parse
      // (once per message); anything else (an {"error":…}) is parsed to name the error.
      const text = msg.string()
      const at = text.indexOf('"seq":')
      const seq = at < 0 || text.includes('"error"') ? NaN : parseInt(text.slice(at + 6), 10)
      if (Number.isSafeInteger(seq)) {
        if (seq > this.highestSeq) this.highestSeq = seq
      } else {
        let description = `unreadable acknowledgement ${text.slice(0, 100)}`
        try {
          description = (JSON.parse(text) as { error?: { description?: string } }).error?.description ?? text
        } catch {
          // keep the raw text
        }
        this.fail(`the server rejected a publish: ${description}`)
      }
    }
    const w = this.waiter
    if (w !== null && (this.acked >= w.target || this.failure !== null)) {
      this.waiter = null
      w.resolve()
    }
  }

  /** The reply subject and headers of message n. */
  private publishOptions(n: number, key: string | null, extra: Record<string, string> | null): PublishOptions {
    if (!this.sink.exactlyOnce && key === null && extra === null && this.ttl === null) return { reply: this.inbox + n }
    const h = natsLibrary.get().headers()
    if (this.sink.exactlyOnce) h.set('Nats-Msg-Id', this.prefix + n)
    if (key !== null) h.set(KEY_HEADER, key)
    if (this.ttl !== null) h.set('Nats-TTL', this.ttl)
    if (extra !== null) for (const k in extra) h.set(k, extra[k])
    return { reply: this.inbox + n, headers: h }
  }

  /**
   * Publishes in flight when the connection dropped may be lost with it, while later ones (held by
   * the client meanwhile) go through: send every unacknowledged one again, under the same id.
   */
  private async resendAfterReconnects(): Promise<void> {
    const nc = this.link.nc
    for await (const s of nc.status()) {
      if (s.type !== 'reconnect' || this.stopped) continue
      const slots: number[] = []
      for (let i = 0; i <= this.ringMask; i++) if (this.ringOrdinal[i] >= 0) slots.push(i)
      slots.sort((x, y) => this.ringOrdinal[x] - this.ringOrdinal[y])
      for (const i of slots) {
        const n = this.ringOrdinal[i]
        const x = this.ringExtra[i]
        nc.publish(this.ringSubject[i], this.ringPayload[i], this.publishOptions(n, x?.key ?? null, x?.extra ?? null))
      }
    }
  }

  private fail(reason: string): void {
    this.failure ??= new SluiceError('SINK_IO', `sink "${this.ctx.sinkId}" (nats stream ${this.sink.options.stream}): ${reason}`)
  }

  async write(batch: readonly T[]): Promise<void> {
    this.check()
    const { nc } = this.link
    const opts = this.sink.options
    const format = this.sink.format
    const maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    const subjectOf = opts.subject ?? null
    const keyOf = opts.key ?? null
    const headersOf = opts.headers ?? null
    const partitions = this.sink.partitions
    const stream = opts.stream
    for (let i = 0; i < batch.length; i++) {
      if (this.stopped) return
      const record = batch[i]
      let payload: Uint8Array
      let subject: string
      let key: string | null = null
      let extra: Record<string, string> | null = null
      try {
        payload = encodePayload(format, record)
        if (keyOf !== null) key = keyOf(record)
        if (headersOf !== null) extra = headersOf(record)
        subject = subjectOf !== null ? subjectOf(record) : partitionSubject(stream, key !== null ? keyHash(key) % partitions : this.next % partitions)
      } catch (e) {
        this.reject(record, describeCause(e))
        continue
      }
      const n = this.next++
      if (this.present !== null && this.present.has(n)) continue
      const options = this.publishOptions(n, key, extra)
      const slot = n & this.ringMask
      if (this.ringOrdinal[slot] >= 0) {
        this.fail(`message ${this.ringOrdinal[slot]} is still unacknowledged ${this.ringMask + 1} messages later`)
        this.check()
      }
      this.ringOrdinal[slot] = n
      this.ringSubject[slot] = subject
      this.ringPayload[slot] = payload
      this.ringExtra[slot] = key === null && extra === null ? null : { key, extra }
      nc.publish(subject, payload, options)
      if (++this.published - this.acked >= maxInFlight) await this.waitAcked(this.published - (maxInFlight >> 1))
    }
  }

  /** Waits until `target` publishes are acknowledged; fails after ackTimeoutMs without progress. */
  private async waitAcked(target: number): Promise<void> {
    if (this.acked < target && this.failure === null) {
      const timeoutMs = this.sink.options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS
      this.lastAckAt = performance.now()
      const done = new Promise<void>((resolve) => (this.waiter = { target, resolve }))
      const watchdog = setInterval(() => {
        if (performance.now() - this.lastAckAt < timeoutMs) return
        this.fail(`no publish acknowledgement for ${timeoutMs} ms with ${this.published - this.acked} outstanding; check that the server is up and the stream is not full`)
        const w = this.waiter
        this.waiter = null
        w?.resolve()
      }, Math.min(1000, timeoutMs))
      try {
        await done
      } finally {
        clearInterval(watchdog)
      }
    }
    this.check()
  }

  private check(): void {
    if (this.failure !== null) throw this.failure
    if (this.stopped) throw new SluiceError('SINK_IO', `sink "${this.ctx.sinkId}": the nats writer is closed`)
  }

  async flush(): Promise<void> {
    await this.waitAcked(this.published)
  }

  /** Waits for every acknowledgement: everything written so far is in the stream. */
  async preCommit(checkpointId: number): Promise<SinkCommit> {
    await this.waitAcked(this.published)
    const commit: JetStreamCommit = {
      checkpoint: checkpointId,
      run: this.run,
      subtask: this.ctx.subtaskIndex,
      count: this.next,
      // Until the replay has passed what the failed writer had published, those messages (at
      // sequences after recoveredSeq, before this writer's) hold ordinals >= count: a recovery
      // from this commit must read back from where this one did.
      seq: this.next <= this.lastPresent ? this.recoveredSeq : this.highestSeq,
      lastId: this.next > 0 ? this.prefix + (this.next - 1) : null,
    }
    return commit
  }

  /** Published messages are final at their acknowledgement: nothing is left to do but remember. */
  commit(commit: SinkCommit): void {
    const id = commit.checkpoint
    if (typeof id === 'number' && id > this.committed) this.committed = id
  }

  connection(): ConnectionStatus {
    return this.tracker.status()
  }

  async close(): Promise<void> {
    if (this.stopped) return
    try {
      if (this.failure === null) await this.flush()
    } finally {
      await this.shutdown()
    }
  }

  /** Writes nothing more; messages already sent may still land (a recovery reads them back). */
  async abort(): Promise<void> {
    if (this.stopped) return
    await this.shutdown()
  }

  private async shutdown(): Promise<void> {
    this.stopped = true
    const w = this.waiter
    this.waiter = null
    w?.resolve()
    this.sub.unsubscribe()
    await closeQuietly(this.link.nc)
  }
}
