/**
 * Reads a NATS JetStream stream whose partitions are the subjects `<stream>.<n>`.
 *
 * Each subtask reads the partitions p with p % parallelism === subtask, one ordered consumer per
 * partition (ephemeral, no acks, filter subject `<stream>.<p>`, starting at the checkpointed
 * sequence + 1), consuming with overlapping pulls into a buffer. A partition whose buffer is full
 * stops its consumer and starts a new one from where it stopped once the job has caught up
 * (bounded memory without a pause in the client's API). The position is
 * the last stream sequence read per partition, so a restore replays exactly what followed it;
 * nothing is acknowledged to the server (correctness rests on the checkpoint alone).
 *
 * Order: within a partition, stream order. Across a subtask's partitions, a bounded read merges
 * by stream sequence, so it reads the stream in the order it was written and a replay reads the
 * same sequence of records; an unbounded read takes what has arrived, lowest sequence first,
 * without waiting for an idle partition.
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import { jetstreamLibrary } from '../client-libraries.ts'
import { describeCause, SluiceError } from '../../errors.ts'
import { ConnectionTracker, decodePayload, type BrokerMessage, type BrokerSourceOptions, type PayloadFormat, PAYLOAD_FORMATS } from '../broker.ts'
import { badPosition } from '../position.ts'
import type { ConnectionStatus, PartitionProgress, Source, SourceContext, SourcePosition, SourceReader } from '../spi.ts'
import { checkStreamName, closeQuietly, connectJetStream, partitionSubject, streamInfo, type JetStreamConnectionOptions, type JetStreamLink } from './common.ts'

/** Messages asked for in one pull of one partition (the client keeps pulls overlapping). */
const PULL_BATCH = 1000
/** A partition stops its consumer once this many of its messages wait to be read… */
const BUFFER_HIGH = 8 * PULL_BATCH
/** …and starts a new one from where it stopped once no more than this many wait. */
const BUFFER_LOW = 2 * PULL_BATCH
/** An unbounded read with nothing to give waits this long before returning 0 (so checkpoints are not held up). */
const IDLE_READ_MS = 50

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
      const parts = owned.map((p, i) => new PartitionState(p, partitionSubject(stream, p), saved?.seqs[i] ?? 0, ends[i], this.options.record !== undefined))
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
  /**
   * Fetched, not yet read: seqs[head…] and datas[head…] (and msgs[head…] when a record function
   * needs headers). Only the sequence and the payload are kept: the client's message objects die
   * young, so a full buffer does not cost the garbage collector much.
   */
  seqs: number[] = []
  datas: Uint8Array[] = []
  msgs: JsMsg[] | null
  head = 0
  /** The last sequence read (handed to the job). */
  readSeq: number
  /** The last sequence fetched (in buf or read). */
  fetchedSeq: number
  /** Messages on the server after fetchedSeq, as the last fetched message said; -1 unknown. */
  pending = -1
  /** True once every message up to `end` is fetched (bounded). */
  exhausted = false
  /** True while the consumer is stopped because the buffer is full. */
  paused = false
  /** Counts consumers started; messages of an older one (stopped) are ignored. */
  generation = 0
  consumer: Consumer | null = null
  messages: ConsumerMessages | null = null

  constructor(readonly p: number, readonly subject: string, start: number, readonly end: number, keepMessages: boolean) {
    this.msgs = keepMessages ? [] : null
    this.readSeq = start
    this.fetchedSeq = start
    this.exhausted = start >= end
  }

  get buffered(): number {
    return this.seqs.length - this.head
  }
}

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
      this.ctx.reportBadRecord(bytesOf(data), (e as Error).message, this.describe(part, seq))
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
