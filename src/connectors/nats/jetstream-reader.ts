/**
 * The JetStream source's reader: one ordered consumer per partition filling the partition's
 * buffer (stopped when it is full, started again once read down), and reads that merge the
 * buffers by stream sequence. The design is described in jetstream-source.ts.
 */
import type { JsMsg } from '@nats-io/jetstream'
import { jetstreamLibrary } from '../client-libraries.ts'
import { describeCause, reasonOf, SluiceError } from '../../errors.ts'
import { decodePayload, type BrokerMessage, type ConnectionTracker } from '../broker.ts'
import type { ConnectionStatus, PartitionProgress, SourceContext, SourcePosition, SourceReader } from '../spi.ts'
import { closeQuietly, type JetStreamLink } from './common.ts'
import type { PartitionState } from './jetstream-partition.ts'
import type { JetStreamSource } from './jetstream-source.ts'

/** Messages asked for in one pull of one partition (the client keeps pulls overlapping). */
const PULL_BATCH = 1000
/** A partition stops its consumer once this many of its messages wait to be read… */
const BUFFER_HIGH = 8 * PULL_BATCH
/** …and starts a new one from where it stopped once no more than this many wait. */
const BUFFER_LOW = 2 * PULL_BATCH
/** An unbounded read with nothing to give waits this long before returning 0 (so checkpoints are not held up). */
const IDLE_READ_MS = 50

/** The payload as a plain Uint8Array (the client hands out Buffers), without copying. */
const EMPTY = new Uint8Array(0)

function bytesOf(d: Uint8Array): Uint8Array {
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

export class JetStreamReader<T> implements SourceReader<T> {
  private readonly js
  private readonly recordFn: ((m: BrokerMessage) => T) | null
  private closed = false
  private failure: unknown = null
  /** A bounded read cannot go on before this partition delivers (null: not blocked). */
  private blockedOn: PartitionState | null = null
  /** Resolves a read waiting for messages. */
  private wake: (() => void) | null = null
  /** Partition and sequence of each record the last read pushed, for positionOf / rawOf. */
  private lastParts: PartitionState[] = []
  private lastSeqs: number[] = []
  private lastDatas: Uint8Array[] = []

  constructor(
    private readonly source: JetStreamSource<T>,
    private readonly ctx: SourceContext,
    private readonly link: JetStreamLink,
    private readonly tracker: ConnectionTracker,
    private readonly partitions: number,
    private readonly parts: readonly PartitionState[],
  ) {
    this.js = jetstreamLibrary.get().jetstream(link.nc)
    this.recordFn = source.options.record ?? null
    for (const part of parts) if (!part.exhausted) this.start(part)
  }

  /** Starts an ordered consumer on the partition from after the last fetched message. */
  private start(part: PartitionState): void {
    const gen = ++part.generation
    this.consume(part, gen).catch((e: unknown) => {
      if (!this.closed && gen === part.generation) this.failure ??= e
      this.notify()
    })
  }

  private async consume(part: PartitionState, gen: number): Promise<void> {
    const { DeliverPolicy } = jetstreamLibrary.get()
    const consumer = await this.js.consumers.get(this.source.options.stream, part.fetchedSeq === 0
      ? { filter_subjects: part.subject, deliver_policy: DeliverPolicy.All }
      : { filter_subjects: part.subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: part.fetchedSeq + 1 })
    if (this.closed || gen !== part.generation) {
      await consumer.delete().catch(() => false)
      return
    }
    part.consumer = consumer
    if (part.buffered === 0) part.pending = (await consumer.info(true)).num_pending
    const messages = await consumer.consume({ max_messages: PULL_BATCH, callback: (m) => this.onMessage(part, gen, m) })
    if (this.closed || gen !== part.generation) {
      messages.stop()
      return
    }
    part.messages = messages
    const err = await messages.closed()
    if (err instanceof Error && !this.closed && gen === part.generation) throw err
  }

  private onMessage(part: PartitionState, gen: number, m: JsMsg): void {
    if (gen !== part.generation) return
    const seq = m.seq
    if (seq > part.end) {
      part.exhausted = true
      void this.stop(part)
    } else {
      part.seqs.push(seq)
      part.datas.push(m.data)
      part.msgs?.push(m)
      part.fetchedSeq = seq
      part.pending = m.info.pending
      if (seq >= part.end) {
        part.exhausted = true
        void this.stop(part)
      } else if (part.seqs.length - part.head >= BUFFER_HIGH) {
        part.paused = true
        void this.stop(part)
      }
    }
    // A bounded read waiting on one partition (its next message may come first) wakes for that one only.
    if (this.wake !== null && (this.blockedOn === null || this.blockedOn === part || part.exhausted)) this.notify()
  }

  /** Stops the partition's consumer (and deletes it on the server); its late messages are ignored. */
  private stop(part: PartitionState): Promise<unknown> {
    part.generation++
    part.messages?.stop()
    const deleted = part.consumer?.delete().catch(() => false) ?? Promise.resolve()
    part.messages = null
    part.consumer = null
    return deleted
  }

  private notify(): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  read(out: T[], max: number): number | Promise<number> {
    if (this.failure !== null) throw this.ioError(this.failure)
    if (this.closed) throw new SluiceError('SOURCE_IO', `source "${this.ctx.sourceId}": the nats reader is closed`)
    this.lastParts.length = 0
    this.lastSeqs.length = 0
    this.lastDatas.length = 0
    const n = this.take(out, max)
    if (n !== 0) return n
    return this.waitAndTake(out, max)
  }

  private async waitAndTake(out: T[], max: number): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | null = null
    await new Promise<void>((resolve) => {
      this.wake = resolve
      if (!this.source.bounded) timer = setTimeout(() => this.notify(), IDLE_READ_MS)
    })
    if (timer !== null) clearTimeout(timer)
    if (this.failure !== null) throw this.ioError(this.failure)
    const n = this.take(out, max)
    return n === 0 && this.source.bounded ? this.waitAndTake(out, max) : n
  }

  /**
   * Moves up to `max` buffered messages to `out`, lowest stream sequence first. Bounded, a
   * partition that may still deliver and has nothing buffered stops the merge (its next message
   * may come first). Returns -1 when every partition is exhausted and read.
   */
  private take(out: T[], max: number): number {
    const parts = this.parts
    const strict = this.source.bounded
    let count = 0
    while (count < max) {
      let best: PartitionState | null = null
      let bestSeq = Infinity
      // The empty, unfinished partition that has fetched least: its next message may come before `best`.
      let waitFor: PartitionState | null = null
      let live = false
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]
        if (part.head < part.seqs.length) {
          live = true
          const seq = part.seqs[part.head]
          if (seq < bestSeq) {
            bestSeq = seq
            best = part
          }
        } else if (!part.exhausted) {
          live = true
          if (strict && (waitFor === null || part.fetchedSeq < waitFor.fetchedSeq)) waitFor = part
        }
      }
      if (!live) return count === 0 ? -1 : count
      if (waitFor !== null && waitFor.fetchedSeq > bestSeq) waitFor = null
      this.blockedOn = waitFor
      if (best === null || waitFor !== null) break
      const at = best.head++
      const seq = best.seqs[at]
      const data = best.datas[at]
      const m = best.msgs === null ? null : best.msgs[at]
      best.datas[at] = EMPTY
      if (best.msgs !== null) best.msgs[at] = undefined as unknown as JsMsg
      if (best.head === best.seqs.length) {
        best.seqs.length = 0
        best.datas.length = 0
        if (best.msgs !== null) best.msgs.length = 0
        best.head = 0
      } else if (best.head >= BUFFER_HIGH) {
        best.seqs = best.seqs.slice(best.head)
        best.datas = best.datas.slice(best.head)
        if (best.msgs !== null) best.msgs = best.msgs.slice(best.head)
        best.head = 0
      }
      if (best.paused && best.seqs.length - best.head <= BUFFER_LOW) {
        best.paused = false
        this.start(best)
      }
      best.readSeq = seq
      if (this.emit(out, best, seq, data, m)) {
        this.lastParts.push(best)
        this.lastSeqs.push(seq)
        this.lastDatas.push(data)
        count++
      }
    }
    return count
  }

  /** Decodes one message onto `out`; a bad one goes to reportBadRecord (which may throw) and is not pushed. */
  private emit(out: T[], part: PartitionState, seq: number, data: Uint8Array, m: JsMsg | null): boolean {
    let value: unknown
    try {
      value = decodePayload(this.source.format, this.source.format === 'bytes' ? bytesOf(data) : data)
    } catch (e) {
      this.ctx.reportBadRecord(bytesOf(data), reasonOf(e), this.describe(part, seq))
      return false
    }
    if (this.recordFn === null || m === null) {
      out.push(value as T)
      return true
    }
    let record: T
    try {
      record = this.recordFn(this.message(part, m, value))
    } catch (e) {
      this.ctx.reportBadRecord(bytesOf(data), `the record function threw: ${describeCause(e)}`, this.describe(part, seq))
      return false
    }
    out.push(record)
    return true
  }

  private message(part: PartitionState, m: JsMsg, value: unknown): BrokerMessage {
    const headers: Record<string, string> = {}
    if (m.headers !== undefined) for (const [k, v] of m.headers) headers[k] = v.join(',')
    return { value, key: headers['Sluice-Key'] ?? null, headers, partition: part.subject, offset: String(m.seq), timestamp: Math.floor(m.info.timestampNanos / 1e6) }
  }

  private describe(part: PartitionState, seq: number): string {
    return `${part.subject} seq ${seq}`
  }

  position(): string {
    return this.parts.map((p) => `${p.subject} seq ${p.readSeq}`).join(', ') || `${this.source.options.stream}: no partitions`
  }

  positionOf(i: number): string {
    const part = this.lastParts[i]
    return part === undefined ? this.position() : this.describe(part, this.lastSeqs[i])
  }

  rawOf(i: number): Uint8Array | undefined {
    const d = this.lastDatas[i]
    return d === undefined ? undefined : bytesOf(d)
  }

  snapshotPosition(): SourcePosition {
    return { stream: this.source.options.stream, partitions: this.partitions, owned: this.parts.map((p) => p.p), seqs: this.parts.map((p) => p.readSeq) }
  }

  /** Lag: what the server said was pending after the last fetched message, plus what is fetched and unread. */
  progress(): readonly PartitionProgress[] {
    return this.parts.map((p) => ({
      partition: p.subject,
      position: `seq ${p.readSeq}`,
      lag: p.pending < 0 ? null : p.pending + p.buffered,
    }))
  }

  connection(): ConnectionStatus {
    return this.tracker.status()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const deleted = this.parts.map((part) => this.stop(part))
    this.notify()
    await Promise.all(deleted)
    await closeQuietly(this.link.nc)
  }

  private ioError(e: unknown): SluiceError {
    if (e instanceof SluiceError) return e
    return new SluiceError('SOURCE_IO', `source "${this.ctx.sourceId}" failed reading nats stream ${this.source.options.stream} at ${this.position()}: ${describeCause(e)}`, { cause: e })
  }
}
