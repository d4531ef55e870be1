/**
 * The JetStream sink's writer: publishes each record with its id (exactly-once) and a reply
 * subject under one inbox, counts the acknowledgements, keeps the unacknowledged ones to send
 * again after a reconnect, and pre-commits once all are acknowledged. Why, and how ids are made:
 * jetstream-sink.ts.
 */
import type { Msg, PublishOptions, Subscription } from '@nats-io/transport-node'
import { natsLibrary } from '../client-libraries.ts'
import { reasonOf, SluiceError } from '../../errors.ts'
import { encodePayload, keyHash, type ConnectionTracker } from '../broker.ts'
import type { ConnectionStatus, SinkCommit, SinkContext, SinkWriter } from '../spi.ts'
import { closeQuietly, partitionSubject, type JetStreamLink } from './common.ts'
import type { JetStreamCommit, JetStreamSink } from './jetstream-sink.ts'

const DEFAULT_MAX_IN_FLIGHT = 8192
const DEFAULT_ACK_TIMEOUT_MS = 30_000
/** Header carrying the record's key (from the `key` option), read back by the source as `BrokerMessage.key`. */
export const KEY_HEADER = 'Sluice-Key'

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
        this.reject(record, reasonOf(e))
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
