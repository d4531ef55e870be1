/**
 * The reader of the Redis Streams source: XREAD batches over the subtask's keys, decoded into
 * records. With several keys, each read returns entries of one key (per-partition watermarks),
 * the keys taking turns of up to `turnRecords` entries each, so the order of a replay does not
 * depend on read sizes or fetch timing (bounded reads).
 */
import type { RESP_TYPES } from 'redis'
import { describeCause, reasonOf, SluiceError } from '../../errors.ts'
import { decodeTextPayload, type BrokerMessage, type PayloadFormat } from '../broker.ts'
import type { ConnectionStatus, PartitionProgress, SourceContext, SourceReader, SourcePosition } from '../spi.ts'
import { compareIds, destroyQuietly, idTimestamp, isConnectionLoss, redisError, type RedisLink } from './redis-client.ts'

/** Where a reader starts on one key. */
export interface KeyStart {
  readonly key: string
  /** The last entry id read; "0-0" for none. */
  readonly id: string
  /** The stream's entries-added count at `id`; null when unknown. */
  readonly added: number | null
  /** Bounded: the last entry id to read (equal to `id` when there is nothing to read); null when unbounded. */
  readonly end: string | null
  /** entries-added as XINFO STREAM last said; null when unknown. */
  readonly streamAdded: number | null
}

/** Where the turns stand: the key whose turn it is and the entries read in that turn. */
export interface TurnStart {
  readonly turn: number
  readonly taken: number
}

export interface ReaderSettings<T> {
  readonly format: PayloadFormat
  readonly field: string
  readonly record: ((message: BrokerMessage) => T) | undefined
  /** XREAD BLOCK in ms; null for a bounded read, which never waits. */
  readonly blockMs: number | null
  /** Entries read from one key before the next key's turn. */
  readonly turnRecords: number
}

/** XINFO STREAM at most this often, for lag; never per record. */
const LAG_REFRESH_MS = 1_000
/** RESP's bulk-string type ('$'), checked against node-redis's declaration; a constant so that this module does not load the library. */
const BLOB_STRING: typeof RESP_TYPES.BLOB_STRING = 36
const BUFFER_MAPPING = { typeMapping: { [BLOB_STRING]: Buffer } }

type Text = string | Buffer
/** An entry as XREAD returns it: [id, [field, value, field, value…]]. */
type RawEntry = [Text, Text[]]
type XReadReply = [Text, RawEntry[]][] | null

const text = (t: Text): string => (typeof t === 'string' ? t : t.toString('utf8'))

export class RedisStreamReader<T> implements SourceReader<T> {
  private readonly keys: string[]
  private readonly ids: string[]
  private readonly added: (number | null)[]
  private readonly ends: (string | null)[]
  private readonly streamAdded: (number | null)[]
  /** No more fetches for the key: its bounded end is in its buffer or read. */
  private readonly ended: boolean[]
  /** Fetched entries not yet read, per key, from index `at[k]`. */
  private readonly buffers: RawEntry[][]
  private readonly at: number[]
  /** The key whose turn it is, and the entries read from it in this turn. */
  private turn: number
  private taken: number
  private last = 0
  /**
   * Per record pushed by the last read (the first `lastCount`): its key index and entry, for
   * positionOf/rawOf. Written by index and never shrunk, so reads do not reallocate them.
   */
  private readonly lastKeys: number[] = []
  private readonly lastEntries: RawEntry[] = []
  private lastCount = 0
  private lagAt: number
  private lagInFlight = false
  private closed = false

  constructor(
    private readonly ctx: SourceContext,
    private readonly link: RedisLink,
    starts: readonly KeyStart[],
    turn: TurnStart,
    private readonly settings: ReaderSettings<T>,
  ) {
    this.keys = starts.map((s) => s.key)
    this.ids = starts.map((s) => s.id)
    this.added = starts.map((s) => s.added)
    this.ends = starts.map((s) => s.end)
    this.streamAdded = starts.map((s) => s.streamAdded)
    this.ended = starts.map((s) => s.end !== null && compareIds(s.end, s.id) <= 0)
    this.buffers = starts.map(() => [])
    this.at = starts.map(() => 0)
    this.turn = turn.turn
    this.taken = turn.taken
    this.lagAt = ctx.clock.now()
  }

  async read(out: T[], max: number): Promise<number> {
    if (this.closed) throw new SluiceError('SOURCE_IO', `redis source ${this.ctx.sourceId}: read after close`)
    this.lastCount = 0
    if (this.ctx.clock.now() - this.lagAt >= LAG_REFRESH_MS && !this.lagInFlight) this.refreshLag()
    if (!this.toReadableTurn(false)) {
      const fetch: number[] = []
      for (let k = 0; k < this.keys.length; k++) if (!this.ended[k] && this.at[k] >= this.buffers[k].length) fetch.push(k)
      if (fetch.length === 0) return -1
      const reply = await this.xread(fetch, max)
      if (reply === undefined) return 0
      this.take(fetch, reply)
      // Unbounded: a key that had nothing just now gives up its turn rather than hold the others.
      if (!this.toReadableTurn(this.settings.blockMs !== null)) return this.finished() ? -1 : 0
    }
    return this.emit(out, max)
  }

  /**
   * Moves the turn past keys that are finished (and with `skipEmpty`, past keys with nothing
   * buffered) to one with buffered entries: true; false when the turn's key needs a fetch first,
   * or no key has anything buffered.
   */
  private toReadableTurn(skipEmpty: boolean): boolean {
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.turn
      if (this.at[k] < this.buffers[k].length) return true
      if (!this.ended[k] && !skipEmpty) return false
      this.nextTurn()
    }
    return false
  }

  private nextTurn(): void {
    this.turn = this.turn + 1 === this.keys.length ? 0 : this.turn + 1
    this.taken = 0
  }

  private async xread(fetch: readonly number[], max: number): Promise<XReadReply | undefined> {
    const args = ['XREAD', 'COUNT', String(max)]
    // Wait for new entries only when there is nothing else to read.
    if (this.settings.blockMs !== null && this.buffered() === 0) args.push('BLOCK', String(this.settings.blockMs))
    args.push('STREAMS')
    for (const k of fetch) args.push(this.keys[k])
    for (const k of fetch) args.push(this.ids[k])
    try {
      return this.settings.format === 'bytes'
        ? await this.link.client.sendCommand<XReadReply>(args, BUFFER_MAPPING)
        : await this.link.client.sendCommand<XReadReply>(args)
    } catch (e) {
      // A connection lost mid-run: the position is unchanged, so the next read asks again once
      // node-redis has reconnected (or fails when it has given up).
      if (this.closed || (isConnectionLoss(e) && this.link.tracker.state !== 'failed')) return undefined
      if (this.link.tracker.state === 'failed') {
        throw new SluiceError('CONNECTOR_UNREACHABLE', `redis source ${this.ctx.sourceId}: lost ${this.link.text}: ${describeCause(e)}`, { cause: e })
      }
      throw redisError(e, 'SOURCE_IO', `redis source ${this.ctx.sourceId}: XREAD from ${this.keys.join(', ')} at ${this.link.text}`)
    }
  }

  /** Files a fetch's entries into the buffers, cut at the bounded ends. */
  private take(fetch: readonly number[], reply: XReadReply): void {
    const got = new Set<number>()
    for (const [name, entries] of reply ?? []) {
      const k = this.keys.indexOf(text(name))
      if (k < 0 || entries.length === 0) continue
      got.add(k)
      const last = text(entries[entries.length - 1][0])
      const end = this.ends[k]
      let kept = entries
      if (end !== null && compareIds(last, end) >= 0) {
        let cut = entries.length
        while (cut > 0 && compareIds(text(entries[cut - 1][0]), end) > 0) cut--
        kept = cut === entries.length ? entries : entries.slice(0, cut)
        this.ended[k] = true
      }
      this.buffers[k] = kept
      this.at[k] = 0
    }
    // A bounded fetch that found nothing after the position: the key has nothing up to its end.
    if (this.settings.blockMs === null) for (const k of fetch) if (!got.has(k)) this.ended[k] = true
  }

  /** Pushes buffered entries of the turn's key, to the end of its turn at most. */
  private emit(out: T[], max: number): number {
    const k = this.turn
    const buffer = this.buffers[k]
    const limit = Math.min(max, this.settings.turnRecords - this.taken, buffer.length - this.at[k])
    let n = 0
    for (let i = 0; i < limit; i++) n += this.push(out, k, buffer[this.at[k]++])
    this.last = k
    this.taken += limit
    if (this.taken >= this.settings.turnRecords || (this.ended[k] && this.at[k] >= buffer.length)) this.nextTurn()
    return n
  }

  /** Decodes one entry onto `out`: 1, or 0 when it went to the bad-record policy. */
  private push(out: T[], k: number, entry: RawEntry): number {
    const id = text(entry[0])
    this.ids[k] = id
    const added = this.added[k]
    if (added !== null) this.added[k] = added + 1
    const fields = entry[1]
    const field = this.settings.field
    const raw = payloadOf(fields, field)
    if (raw === undefined) {
      this.ctx.reportBadRecord(fields.map(text), `the entry has no field "${field}"`, `key ${this.keys[k]} id ${id}`)
      return 0
    }
    let record: T
    try {
      const value = typeof raw === 'string' ? decodeTextPayload(this.settings.format, raw) : raw
      record = this.settings.record === undefined ? (value as T) : this.settings.record(this.message(k, id, fields, value))
    } catch (e) {
      this.ctx.reportBadRecord(typeof raw === 'string' ? raw : new Uint8Array(raw), reasonOf(e), `key ${this.keys[k]} id ${id}`)
      return 0
    }
    out.push(record)
    this.lastKeys[this.lastCount] = k
    this.lastEntries[this.lastCount++] = entry
    return 1
  }

  private message(k: number, id: string, fields: readonly Text[], value: unknown): BrokerMessage {
    let key: string | null = null
    const headers: Record<string, string> = {}
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = text(fields[i])
      if (name === this.settings.field) continue
      if (name === 'key') key = text(fields[i + 1])
      else headers[name] = text(fields[i + 1])
    }
    return { value, key, headers, partition: this.keys[k], offset: id, timestamp: idTimestamp(id) }
  }

  private buffered(): number {
    let n = 0
    for (let k = 0; k < this.keys.length; k++) n += this.buffers[k].length - this.at[k]
    return n
  }

  private finished(): boolean {
    for (let k = 0; k < this.keys.length; k++) if (!this.ended[k] || this.at[k] < this.buffers[k].length) return false
    return true
  }

  /** Asks XINFO STREAM for every key without waiting: the answers update lag when they come. */
  private refreshLag(): void {
    this.lagInFlight = true
    this.lagAt = this.ctx.clock.now()
    const asks = this.keys.map((key) => this.link.client.sendCommand<unknown[]>(['XINFO', 'STREAM', key]).then(entriesAdded, () => null))
    void Promise.all(asks).then((counts) => {
      for (let k = 0; k < counts.length; k++) if (counts[k] !== null) this.streamAdded[k] = counts[k]
      this.lagInFlight = false
    })
  }

  position(): string {
    return this.keys.map((key, k) => `key ${key} id ${this.ids[k]}`).join(', ')
  }

  positionOf(i: number): string {
    return i < this.lastCount ? `key ${this.keys[this.lastKeys[i]]} id ${text(this.lastEntries[i][0])}` : this.position()
  }

  rawOf(i: number): string | Uint8Array | undefined {
    return i < this.lastCount ? payloadOf(this.lastEntries[i][1], this.settings.field) : undefined
  }

  snapshotPosition(): SourcePosition {
    return { keys: [...this.keys], ids: [...this.ids], added: [...this.added], ends: [...this.ends], turn: this.turn, taken: this.taken }
  }

  partitionCount(): number {
    return this.keys.length
  }

  lastPartition(): number {
    return this.last
  }

  partitionEnded(index: number): boolean {
    return this.ended[index] && this.at[index] >= this.buffers[index].length
  }

  progress(): readonly PartitionProgress[] {
    return this.keys.map((key, k) => {
      const total = this.streamAdded[k]
      const added = this.added[k]
      return { partition: key, position: `id ${this.ids[k]}`, lag: total === null || added === null ? null : Math.max(0, total - added) }
    })
  }

  connection(): ConnectionStatus {
    return this.link.tracker.status()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    destroyQuietly(this.link.client)
  }
}

/** The payload field's value in an entry's field list; undefined when the entry has none. */
function payloadOf(fields: readonly Text[], field: string): Text | undefined {
  if (fields.length >= 2 && text(fields[0]) === field) return fields[1]
  for (let i = 2; i + 1 < fields.length; i += 2) if (text(fields[i]) === field) return fields[i + 1]
  return undefined
}

/** entries-added from an XINFO STREAM reply; null when the server has no such field (before 7.0). */
export function entriesAdded(reply: unknown[]): number | null {
  for (let i = 0; i + 1 < reply.length; i += 2) if (reply[i] === 'entries-added') return Number(reply[i + 1])
  return null
}
