/**
 * Reads a NATS JetStream stream whose partitions are the subjects `<stream>.<n>`.
 *
 * Each subtask reads the partitions p with p % parallelism === subtask, one ordered consumer per
 * partition (ephemeral, no acks, filter subject `<stream>.<p>`, starting at the checkpointed
 * sequence + 1), fetching in batches one batch ahead of what the job has taken. The position is
 * the last stream sequence read per partition, so a restore replays exactly what followed it;
 * nothing is acknowledged to the server (correctness rests on the checkpoint alone).
 *
 * Order: within a partition, stream order. Across a subtask's partitions, a bounded read merges
 * by stream sequence, so it reads the stream in the order it was written and a replay reads the
 * same sequence of records; an unbounded read takes what has arrived, lowest sequence first,
 * without waiting for an idle partition.
 */
import { DeliverPolicy, jetstream, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import { describeCause, SluiceError } from '../../errors.ts'
import { ConnectionTracker, decodePayload, type BrokerMessage, type BrokerSourceOptions, type PayloadFormat, PAYLOAD_FORMATS } from '../broker.ts'
import { badPosition } from '../position.ts'
import type { ConnectionStatus, PartitionProgress, Source, SourceContext, SourcePosition, SourceReader } from '../spi.ts'
import { checkStreamName, closeQuietly, connectJetStream, partitionSubject, streamInfo, type JetStreamConnectionOptions, type JetStreamLink } from './common.ts'

/** Messages asked for in one fetch of one partition. */
const FETCH_BATCH = 1000
/** A partition stops fetching while this many of its messages wait to be read. */
const BUFFER_PER_PARTITION = 4 * FETCH_BATCH
/** An unbounded read with nothing to give waits this long before returning 0 (so checkpoints are not held up). */
const IDLE_READ_MS = 50
/** A fetch of an unbounded partition ends after this long without filling, then the next starts. */
const IDLE_FETCH_MS = 5000

export interface JetStreamSourceOptions<T> extends JetStreamConnectionOptions, BrokerSourceOptions<T> {
  /** The stream; its partitions are the subjects `<stream>.0` … `<stream>.<partitions - 1>`. */
  readonly stream: string
  /**
   * How many partitions. Default: the subjects `<stream>.<n>` holding messages when the reader
   * opens (the highest n + 1), or the count in the position restored from; give it for an
   * unbounded read of a stream whose last partitions may still be empty.
   */
  readonly partitions?: number
}

/**
 * A replayable, splittable source over a JetStream stream.
 *
 * @example
 * pipeline.from('orders', jetstreamSource({ servers: '127.0.0.1:4222', stream: 'orders', bounded: true }))
 */
export function jetstreamSource<T = unknown>(options: JetStreamSourceOptions<T>): JetStreamSource<T> {
  return new JetStreamSource(options)
}

/**
 * A position: which partitions this subtask reads (of how many) and the last stream sequence
 * read in each (0: none yet).
 */
interface JetStreamPosition {
  readonly stream: string
  readonly partitions: number
  readonly owned: readonly number[]
  readonly seqs: readonly number[]
}

export class JetStreamSource<T> implements Source<T> {
  readonly kind = 'nats'
  readonly bounded: boolean
  readonly replayable = true
  readonly splittable = true
  readonly format: PayloadFormat

  constructor(readonly options: JetStreamSourceOptions<T>) {
    checkStreamName('jetstreamSource', options.stream)
    this.bounded = options.bounded === true
    this.format = options.format ?? 'json'
    if (!PAYLOAD_FORMATS.includes(this.format)) throw new SluiceError('JOB_INVALID_OPTION', `jetstreamSource option format must be one of ${PAYLOAD_FORMATS.join(', ')}, got ${JSON.stringify(options.format)}`)
    const p = options.partitions
    if (p !== undefined && (!Number.isSafeInteger(p) || p < 1)) throw new SluiceError('JOB_INVALID_OPTION', `jetstreamSource option partitions must be a whole number >= 1, got ${String(p)}`)
  }

  async open(ctx: SourceContext, from?: SourcePosition): Promise<JetStreamReader<T>> {
    const stream = this.options.stream
    const what = `source "${ctx.sourceId}" (nats stream ${stream})`
    const saved = from === undefined ? null : checkPosition(from, stream)
    const tracker = new ConnectionTracker()
    const link = await connectJetStream(this.options, what, tracker)
    try {
      const info = await streamInfo(link, stream, what, this.options.partitions === undefined && saved === null ? `${stream}.*` : undefined)
      const partitions = this.options.partitions ?? saved?.partitions ?? discoverPartitions(stream, info.state.subjects)
      if (saved !== null && saved.partitions !== partitions) throw badPosition('nats', from!, `it covers ${saved.partitions} partitions, the source now has ${partitions}`)
      if (partitions === 0 && !this.bounded) {
        throw new SluiceError('JOB_INVALID_OPTION', `${what}: no subject ${stream}.<n> holds messages yet, so the partitions cannot be discovered; give the partitions option (or ?partitions= in the URI)`)
      }
      const owned: number[] = []
      for (let p = ctx.subtaskIndex; p < partitions; p += ctx.parallelism) owned.push(p)
      if (saved !== null && saved.owned.join(',') !== owned.join(',')) {
        throw badPosition('nats', from!, `it covers partitions [${saved.owned.join(', ')}], subtask ${ctx.subtaskIndex} of ${ctx.parallelism} reads [${owned.join(', ')}]`)
      }
      const ends = this.bounded ? await Promise.all(owned.map((p) => lastSequence(link, stream, p, what))) : owned.map(() => Infinity)
      const parts = owned.map((p, i) => new PartitionState(p, partitionSubject(stream, p), saved?.seqs[i] ?? 0, ends[i]))
      return new JetStreamReader<T>(this, ctx, link, tracker, partitions, parts)
    } catch (e) {
      await closeQuietly(link.nc)
      throw e
    }
  }
}

function checkPosition(from: SourcePosition, stream: string): JetStreamPosition {
  const { partitions, owned, seqs } = from
  if (from.stream !== stream) throw badPosition('nats', from, `it is a position in stream ${JSON.stringify(from.stream)}, not "${stream}"`)
  const whole = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= min
  if (!whole(partitions, 0)) throw badPosition('nats', from, 'partitions must be a whole number >= 0')
  if (!Array.isArray(owned) || !Array.isArray(seqs) || owned.length !== seqs.length || !owned.every((p) => whole(p, 0)) || !seqs.every((s) => whole(s, 0))) {
    throw badPosition('nats', from, 'owned and seqs must be lists of whole numbers of one length')
  }
  return { stream, partitions: partitions as number, owned: owned as number[], seqs: seqs as number[] }
}

function discoverPartitions(stream: string, subjects: Readonly<Record<string, number>> | undefined): number {
  let n = 0
  const prefix = `${stream}.`
  for (const s of Object.keys(subjects ?? {})) {
    const tail = s.slice(prefix.length)
    if (s.startsWith(prefix) && /^\d+$/.test(tail)) n = Math.max(n, Number(tail) + 1)
  }
  return n
}

/** The sequence of the last message on partition p now (0 when it has none). */
async function lastSequence(link: JetStreamLink, stream: string, p: number, what: string): Promise<number> {
  try {
    const m = await link.jsm.streams.getMessage(stream, { last_by_subj: partitionSubject(stream, p) })
    return m === null ? 0 : m.seq
  } catch (e) {
    throw new SluiceError('SOURCE_IO', `${what}: cannot read the last sequence of ${partitionSubject(stream, p)}: ${describeCause(e)}`, { cause: e })
  }
}

/** One partition a reader reads: its buffer of fetched messages and where it is. */
class PartitionState {
  /** Fetched, not yet read: buf[head…]. */
  buf: JsMsg[] = []
  head = 0
  /** The last sequence read (handed to the job). */
  readSeq: number
  /** The last sequence fetched (in buf or read). */
  fetchedSeq: number
  /** Messages on the server after fetchedSeq, as the last fetched message said; -1 unknown. */
  pending = -1
  /** True once every message up to `end` is fetched (bounded), or the reader closed. */
  exhausted = false
  consumer: Consumer | null = null
  fetch: ConsumerMessages | null = null
  /** Resumes the pump, paused while the buffer is full. */
  drained: (() => void) | null = null

  constructor(readonly p: number, readonly subject: string, start: number, readonly end: number) {
    this.readSeq = start
    this.fetchedSeq = start
    this.exhausted = start >= end
  }

  get buffered(): number {
    return this.buf.length - this.head
  }
}

/** The payload as a plain Uint8Array (the client hands out Buffers), without copying. */
function bytesOf(m: JsMsg): Uint8Array {
  const d = m.data
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

function resume(part: PartitionState): void {
  const d = part.drained
  part.drained = null
  d?.()
}

export class JetStreamReader<T> implements SourceReader<T> {
  private readonly js
  private readonly recordFn: ((m: BrokerMessage) => T) | null
  private closed = false
  private failure: unknown = null
  /** Resolves a read waiting for messages. */
  private wake: (() => void) | null = null
  /** Partition and sequence of each record the last read pushed, for positionOf / rawOf. */
  private lastParts: PartitionState[] = []
  private lastMsgs: JsMsg[] = []
  private readonly pumps: Promise<void>[]

  constructor(
    private readonly source: JetStreamSource<T>,
    private readonly ctx: SourceContext,
    private readonly link: JetStreamLink,
    private readonly tracker: ConnectionTracker,
    private readonly partitions: number,
    private readonly parts: readonly PartitionState[],
  ) {
    this.js = jetstream(link.nc)
    this.recordFn = source.options.record ?? null
    this.pumps = parts.map((part) => this.pump(part).catch((e: unknown) => {
      if (!this.closed) this.failure ??= e
      this.notify()
    }))
  }

  /** Fetches a partition one batch ahead of the reads, until it is exhausted or the reader closes. */
  private async pump(part: PartitionState): Promise<void> {
    const stream = this.source.options.stream
    while (!this.closed && !part.exhausted) {
      if (part.buffered >= BUFFER_PER_PARTITION) {
        await new Promise<void>((resolve) => (part.drained = resolve))
        continue
      }
      if (part.consumer === null) {
        part.consumer = await this.js.consumers.get(stream, part.fetchedSeq === 0
          ? { filter_subjects: part.subject, deliver_policy: DeliverPolicy.All }
          : { filter_subjects: part.subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: part.fetchedSeq + 1 })
        part.pending = (await part.consumer.info(true)).num_pending
      }
      // A bounded partition asks only for messages that exist, so the fetch never waits for its expiry.
      const want = this.source.bounded ? Math.min(FETCH_BATCH, part.pending) : FETCH_BATCH
      if (want <= 0) {
        part.exhausted = true
        break
      }
      const fetch = await part.consumer.fetch({ max_messages: want, expires: this.source.bounded ? 30_000 : IDLE_FETCH_MS })
      part.fetch = fetch
      for await (const m of fetch) {
        if (m.seq > part.end) {
          part.exhausted = true
          fetch.stop()
          break
        }
        part.buf.push(m)
        part.fetchedSeq = m.seq
        part.pending = m.info.pending
        if (m.seq >= part.end) part.exhausted = true
        if (this.wake !== null) this.notify()
      }
      part.fetch = null
      this.notify()
    }
    this.notify()
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
    this.lastMsgs.length = 0
    const n = this.take(out, max)
    if (n !== 0) return n
    return this.waitAndTake(out, max)
  }

  private async waitAndTake(out: T[], max: number): Promise<number> {
    await new Promise<void>((resolve) => {
      this.wake = resolve
      if (!this.source.bounded) setTimeout(() => this.notify(), IDLE_READ_MS)
    })
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
      let blocked = false
      let live = false
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]
        if (part.head < part.buf.length) {
          live = true
          const seq = part.buf[part.head].seq
          if (seq < bestSeq) {
            bestSeq = seq
            best = part
          }
        } else if (!part.exhausted) {
          live = true
          if (strict) blocked = true
        }
      }
      if (!live) return count === 0 ? -1 : count
      if (best === null || blocked) break
      const m = best.buf[best.head]
      best.buf[best.head++] = undefined as unknown as JsMsg
      if (best.head === best.buf.length) {
        best.buf.length = 0
        best.head = 0
      } else if (best.head >= BUFFER_PER_PARTITION) {
        best.buf = best.buf.slice(best.head)
        best.head = 0
      }
      if (best.drained !== null && best.buffered <= FETCH_BATCH) resume(best)
      best.readSeq = m.seq
      if (this.emit(out, best, m)) {
        this.lastParts.push(best)
        this.lastMsgs.push(m)
        count++
      }
    }
    return count
  }

  /** Decodes one message onto `out`; a bad one goes to reportBadRecord (which may throw) and is not pushed. */
  private emit(out: T[], part: PartitionState, m: JsMsg): boolean {
    let value: unknown
    try {
      value = decodePayload(this.source.format, this.source.format === 'bytes' ? bytesOf(m) : m.data)
    } catch (e) {
      this.ctx.reportBadRecord(bytesOf(m), (e as Error).message, this.describe(part, m.seq))
      return false
    }
    if (this.recordFn === null) {
      out.push(value as T)
      return true
    }
    let record: T
    try {
      record = this.recordFn(this.message(part, m, value))
    } catch (e) {
      this.ctx.reportBadRecord(bytesOf(m), `the record function threw: ${describeCause(e)}`, this.describe(part, m.seq))
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
    return part === undefined ? this.position() : this.describe(part, this.lastMsgs[i].seq)
  }

  rawOf(i: number): Uint8Array | undefined {
    const m = this.lastMsgs[i]
    return m === undefined ? undefined : bytesOf(m)
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
    for (const part of this.parts) {
      part.fetch?.stop()
      resume(part)
    }
    this.notify()
    await Promise.all(this.pumps)
    await Promise.all(this.parts.map((part) => part.consumer?.delete().catch(() => false)))
    await closeQuietly(this.link.nc)
  }

  private ioError(e: unknown): SluiceError {
    if (e instanceof SluiceError) return e
    return new SluiceError('SOURCE_IO', `source "${this.ctx.sourceId}" failed reading nats stream ${this.source.options.stream} at ${this.position()}: ${describeCause(e)}`, { cause: e })
  }
}
