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
 *
 * This file checks the options and the position and finds the partitions; `JetStreamReader`
 * (jetstream-reader.ts) reads.
 */
import { SluiceError, describeCause } from '../../errors.ts'
import { ConnectionTracker, type BrokerSourceOptions, type PayloadFormat, PAYLOAD_FORMATS } from '../broker.ts'
import { badPosition } from '../position.ts'
import type { Source, SourceContext, SourcePosition } from '../spi.ts'
import { checkStreamName, closeQuietly, connectJetStream, partitionSubject, streamInfo, type JetStreamConnectionOptions, type JetStreamLink } from './common.ts'
import { PartitionState } from './jetstream-partition.ts'
import { JetStreamReader } from './jetstream-reader.ts'

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
 * ```ts
 * pipeline.source('orders', jetstreamSource({ servers: '127.0.0.1:4222', stream: 'orders', bounded: true }))
 * ```
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
    if (!PAYLOAD_FORMATS.includes(this.format)) throw new SluiceError('CONNECTOR_OPTION_INVALID', `jetstreamSource option format must be one of ${PAYLOAD_FORMATS.join(', ')}, got ${JSON.stringify(options.format)}`)
    const p = options.partitions
    if (p !== undefined && (!Number.isSafeInteger(p) || p < 1)) throw new SluiceError('CONNECTOR_OPTION_INVALID', `jetstreamSource option partitions must be a whole number >= 1, got ${String(p)}`)
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
        throw new SluiceError('CONNECTOR_OPTION_INVALID', `${what}: no subject ${stream}.<n> holds messages yet, so the partitions cannot be discovered; give the partitions option (or ?partitions= in the URI)`)
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
