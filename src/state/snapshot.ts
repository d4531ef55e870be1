/**
 * Operator state snapshots, partitioned by key group, and their byte format.
 *
 * A snapshot is what one operator instance (one subtask) holds: operator-wide state (watermark
 * marks and the like) plus a list of *entries*. An entry is one fact about one key — a state
 * value, a timer, a window's accumulator, a buffered record — written as `tag, key, ...fields`:
 * `tag` tells the operator what the fact is. Each entry carries its key's key group. Restoring
 * replays the entries whose key groups a subtask now owns, each old subtask's in the order
 * written, so:
 * - at the same parallelism the restored operator is the same as the snapshotted one, down to the
 *   iteration order of its maps and of timers sharing a timestamp (its output order is the same);
 * - at another parallelism each new subtask takes the key groups of its range from every old
 *   subtask's snapshot (the old subtasks' entries one after another).
 *
 * Entries are encoded as they are added (value-codec.ts), so a snapshot is a copy: the live
 * operator may change right after `snapshotState` returns. Only the operator-wide state is a live
 * value until encodeSnapshot (called at once by the task).
 *
 * Entries come in two layouts. A state backend's snapshot (table-registry.ts) names its tables in
 * the header, and an entry's tag is the position of its table there. An operator that writes its
 * own entries (every operator in format 2, before the state backend; a user's custom operator)
 * gives no tables (null) and reads its entries itself.
 *
 * Byte format, version 3 (version 2 is read too: its header has no tables):
 * ```
 * byte 0        SNAPSHOT_FORMAT_VERSION
 * bytes 1..4    uint32 LE: length H of the header
 * next H bytes  value-codec: [kind, maxParallelism, operatorState, entryCount, tables]
 *               (tables: [type, name, kind, ttl] per table, or null)
 * the rest      the entries, in the order written; each is
 *                 uint16 LE key group · uint32 LE: bit 31 set when the entry defines an object
 *                 shape, bits 0..30 the length L of what follows · L bytes: varuint tag, key
 *                 (value-codec), varuint field count, the fields (value-codec)
 * ```
 * A restoring subtask steps over the entries of key groups it does not own by their length.
 * Object shapes (value-codec) are numbered over the whole entry list, so an entry of a skipped key
 * group that defines a shape is still decoded (and dropped).
 * Values that value-codec does not take itself (Map, Set, Date, bigint, …) are MessagePack from
 * msgpackr's no-eval build: decoding a snapshot never turns data into code.
 */
import { SluiceError, describeCause } from '../errors.ts'
import type { TableDescriptor } from './backend.ts'
import { keyGroupOf } from './key-groups.ts'
import { SNAPSHOT_CHUNK_BYTES, snapshotBuffers, ValueReader, ValueWriter } from './value-codec.ts'

export const SNAPSHOT_FORMAT_VERSION = 3
/** Operators' own entry layouts, before the state backend; still read. */
const FORMAT_2 = 2

/**
 * One fact about one key as a restoring operator sees it: `[sequence, tag, key, ...fields]`
 * (`sequence`: its position in its part). The tuple is reused for the next entry: take what you
 * need from it before asking for the next.
 */
export type KeyedEntry = readonly unknown[]

/** The state of one operator instance. */
export interface OperatorSnapshot {
  /** What wrote it ('pane-window', 'keyed-process', …); a restore into another kind is refused. */
  readonly kind: string
  /** The number of key groups keys were hashed into; every part of a restore must agree. */
  readonly maxParallelism: number
  /** Operator-wide state; null when the operator has none. */
  readonly operatorState: unknown
  /** The entries, encoded (see the byte format) in one or more chunks, and how many there are. */
  readonly entries: readonly Uint8Array[]
  readonly entryCount: number
  /** The state backend's tables the entries belong to, by tag; null when the operator wrote its own layout. */
  readonly tables: readonly TableDescriptor[] | null
}

/** What an operator needs to know to take a snapshot. */
export interface SnapshotContext {
  /** The job's number of key groups (`keyGroupOf(key, maxParallelism)`). */
  readonly maxParallelism: number
}

/** Which key groups a restoring subtask owns. */
export type KeyGroupFilter = (keyGroup: number) => boolean

/** Key groups are written in 16 bits. */
const MAX_KEY_GROUPS = 0x10000

/**
 * Encodes an operator's entries as they are added.
 *
 * @example
 * const w = new SnapshotWriter('rolling-aggregate', ctx.maxParallelism)
 * for (const [k, acc] of accs) w.add(0, k, acc)
 * return w.finish(null)
 */
export class SnapshotWriter {
  private readonly out = new ValueWriter(SNAPSHOT_CHUNK_BYTES, snapshotBuffers)
  private count = 0

  constructor(
    private readonly kind: string,
    private readonly maxParallelism: number,
  ) {
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_KEY_GROUPS) {
      throw new SluiceError('INTERNAL', `snapshot of "${kind}": maxParallelism must be a whole number in 1..${MAX_KEY_GROUPS}, got ${maxParallelism}`)
    }
  }

  add(tag: number, key: unknown, ...fields: unknown[]): void {
    const o = this.out
    o.u16(keyGroupOf(key, this.maxParallelism))
    const slot = o.reserveU32()
    const shapes = o.shapesDefined
    try {
      o.varuint(tag)
      o.value(key)
      o.varuint(fields.length)
      for (let i = 0; i < fields.length; i++) o.value(fields[i])
    } catch (e) {
      throw new SluiceError('STATE_NOT_PLAIN_DATA', `cannot encode the state of a ${this.kind} operator (key ${describeKey(key)}): ${reasonOf(e)}; keep state to plain data (no functions or symbols)`, { cause: e })
    }
    o.patchU32(slot, o.shapesDefined !== shapes)
    this.count++
  }

  /** The snapshot; `tables` names the tables of a state backend's entries (null: the operator's own layout). */
  finish(operatorState: unknown, tables: readonly TableDescriptor[] | null = null): OperatorSnapshot {
    return { kind: this.kind, maxParallelism: this.maxParallelism, operatorState, entries: this.out.chunks(), entryCount: this.count, tables }
  }
}

/** The cause's message without its code (value-codec's errors are wrapped with the operator and key). */
function reasonOf(e: unknown): string {
  return e instanceof SluiceError ? e.message.slice(e.code.length + 2) : describeCause(e)
}

function describeKey(key: unknown): string {
  try {
    return typeof key === 'string' ? JSON.stringify(key) : String(key)
  } catch {
    return typeof key
  }
}

/** What a restoring operator replays. */
export interface RestoredState {
  /** Operator-wide state of every part, in part order (nulls included). */
  readonly operatorStates: readonly unknown[]
  /** The entries of the owned key groups: part by part, each part's in the order written. The tuple is reused (see KeyedEntry). */
  readonly entries: Iterable<KeyedEntry>
}

/**
 * Checks that every part was written by a `kind` operator with one maxParallelism and gives the
 * entries of the key groups `owns` accepts.
 */
export function readOwned(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, kind: string): RestoredState {
  const operatorStates: unknown[] = []
  for (const part of parts) {
    if (part.kind !== kind) {
      throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `cannot restore a ${kind} operator from the snapshot of a ${part.kind} operator: the job changed; give the new operator a new id`)
    }
    if (part.maxParallelism !== parts[0].maxParallelism) {
      throw new SluiceError('INTERNAL', `snapshots of one ${kind} operator disagree on maxParallelism (${parts[0].maxParallelism} and ${part.maxParallelism})`)
    }
    operatorStates.push(part.operatorState)
  }
  return { operatorStates, entries: { [Symbol.iterator]: () => new OwnedEntries(parts, owns) } }
}

/**
 * Walks the parts' entries of owned key groups. An iterator object rather than a generator, with
 * one tuple and one result object reused throughout: restoring millions of entries allocates
 * nothing here but the decoded values.
 */
class OwnedEntries implements Iterator<KeyedEntry> {
  private readonly e: unknown[] = []
  private readonly result: IteratorResult<KeyedEntry> = { done: false, value: this.e }
  private part = -1
  private r: ValueReader | null = null
  private owned = new Uint8Array(0)
  private seq = 0

  constructor(
    private readonly parts: readonly OperatorSnapshot[],
    private readonly owns: KeyGroupFilter,
  ) {}

  next(): IteratorResult<KeyedEntry> {
    for (;;) {
      const r = this.r
      if (r === null || r.pos >= r.end) {
        if (!this.nextPart()) return { done: true, value: undefined }
        continue
      }
      const part = this.parts[this.part]
      try {
        if (this.entry(r, part)) return this.result
      } catch (err) {
        if (err instanceof SluiceError) throw err
        throw corrupt(`entries of a ${part.kind} operator: ${describeCause(err)}`, err)
      }
    }
  }

  /** Reads one entry; true when it is of an owned key group (then it is in the tuple). */
  private entry(r: ValueReader, part: OperatorSnapshot): boolean {
    const g = r.u16()
    const word = r.u32()
    const next = r.pos + (word & 0x7fffffff)
    if (g >= part.maxParallelism) throw new RangeError(`key group ${g} outside 0..${part.maxParallelism - 1}`)
    if (next > r.end) throw new RangeError(`entry ${this.seq} is cut short`)
    const seq = this.seq++
    // An entry of another subtask's key group is stepped over, unless it defines an object shape
    // that later entries refer to (bit 31 of its length word).
    if (this.owned[g] === 0 && word < 0x80000000) {
      r.pos = next
      return false
    }
    const e = this.e
    e[0] = seq
    e[1] = r.varuint()
    e[2] = r.value()
    const n = r.varuint()
    if (e.length !== 3 + n) e.length = 3 + n
    for (let i = 0; i < n; i++) e[3 + i] = r.value()
    if (r.pos !== next) throw new RangeError(`entry ${seq} has ${r.pos - next} bytes more than its length`)
    return this.owned[g] === 1
  }

  /** Moves to the next part (checking the one done); false when there is none. */
  private nextPart(): boolean {
    if (this.r !== null) {
      const done = this.parts[this.part]
      if (this.seq !== done.entryCount) throw corrupt(`${done.kind} operator: ${this.seq} entries, the header says ${done.entryCount}`)
    }
    if (++this.part >= this.parts.length) {
      this.r = null
      this.part = this.parts.length
      return false
    }
    const part = this.parts[this.part]
    this.r = new ValueReader(part.entries.length === 1 ? part.entries[0] : Buffer.concat(part.entries))
    this.owned = new Uint8Array(part.maxParallelism)
    for (let g = 0; g < part.maxParallelism; g++) this.owned[g] = this.owns(g) ? 1 : 0
    this.seq = 0
    return true
  }
}

/**
 * The smallest of a numeric field over the parts' operator states (+∞ for none). Old subtasks
 * snapshotted at one aligned barrier have seen the same watermarks, so their marks agree; where
 * they do not (processing time), the earliest is the one that loses no record.
 */
export function minOfParts<S>(states: readonly unknown[], field: (s: S) => number): number {
  let m = Number.POSITIVE_INFINITY
  for (const s of states) if (s !== null && s !== undefined) m = Math.min(m, field(s as S))
  return m
}

// ---- bytes --------------------------------------------------------------------------------------

function corrupt(why: string, cause?: unknown): SluiceError {
  return new SluiceError('CHECKPOINT_CORRUPT', `operator snapshot is corrupt: ${why}`, cause === undefined ? undefined : { cause })
}

/**
 * Encodes a snapshot (see the module comment for the format) as chunks to write one after another:
 * the header, then the entries' own buffers (not copied).
 */
export function encodeSnapshot(s: OperatorSnapshot): Uint8Array[] {
  const head = new ValueWriter(256)
  try {
    const tables = s.tables === null ? null : s.tables.map((t) => [t.type, t.name, t.kind, t.ttl])
    head.value([s.kind, s.maxParallelism, s.operatorState, s.entryCount, tables])
  } catch (e) {
    throw new SluiceError('STATE_NOT_PLAIN_DATA', `cannot encode the state of a ${s.kind} operator (operator state): ${reasonOf(e)}; keep state to plain data (no functions or symbols)`, { cause: e })
  }
  const first = new Uint8Array(5 + head.byteLength)
  first[0] = SNAPSHOT_FORMAT_VERSION
  new DataView(first.buffer, first.byteOffset, first.byteLength).setUint32(1, head.byteLength, true)
  head.copyTo(first, 5)
  return [first, ...s.entries]
}

/**
 * The snapshot without its entries (its operator-wide state kept): what a restoring subtask that
 * owns none of its key groups needs of it.
 */
export function withoutEntries(bytes: Uint8Array): Uint8Array {
  return encodeSnapshotBytes({ ...decodeSnapshot(bytes), entries: [], entryCount: 0 })
}

/** Encodes a snapshot into one array (tests, tools). */
export function encodeSnapshotBytes(s: OperatorSnapshot): Uint8Array {
  return Buffer.concat(encodeSnapshot(s))
}

/**
 * Decodes a snapshot's header; its entries stay encoded (a view of `bytes`) until readOwned
 * walks them.
 */
export function decodeSnapshot(bytes: Uint8Array): OperatorSnapshot {
  if (bytes.length < 6) throw corrupt(`${bytes.length} bytes`)
  const version = bytes[0]
  if (version !== SNAPSHOT_FORMAT_VERSION && version !== FORMAT_2) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `operator snapshot has format version ${version}; this Sluice reads versions ${FORMAT_2} and ${SNAPSHOT_FORMAT_VERSION}`)
  }
  const headLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1, true)
  if (5 + headLength > bytes.length) throw corrupt(`header of ${headLength} bytes in ${bytes.length}`)
  let top: unknown
  try {
    const r = new ValueReader(bytes, 5, 5 + headLength)
    top = r.value()
    if (r.pos !== r.end) throw new RangeError(`${r.end - r.pos} bytes after the header`)
  } catch (e) {
    throw corrupt(`header: ${describeCause(e)}`, e)
  }
  if (!Array.isArray(top) || top.length !== (version === FORMAT_2 ? 4 : 5)) throw corrupt('unexpected header')
  const [kind, maxParallelism, operatorState, entryCount, tables] = top as [unknown, unknown, unknown, unknown, unknown]
  if (typeof kind !== 'string' || typeof maxParallelism !== 'number' || !Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_KEY_GROUPS || typeof entryCount !== 'number') {
    throw corrupt('unexpected header fields')
  }
  return { kind, maxParallelism, operatorState, entries: [bytes.subarray(5 + headLength)], entryCount, tables: tables === undefined || tables === null ? null : decodeTables(tables) }
}

function decodeTables(v: unknown): TableDescriptor[] {
  if (!Array.isArray(v)) throw corrupt('unexpected table list')
  return v.map((t: unknown) => {
    if (!Array.isArray(t) || t.length !== 4) throw corrupt('unexpected table')
    const [type, name, kind, ttl] = t as [unknown, unknown, unknown, unknown]
    if ((type !== 'keyed' && type !== 'namespaced' && type !== 'timers') || typeof name !== 'string' || typeof kind !== 'string' || typeof ttl !== 'boolean') throw corrupt('unexpected table fields')
    return { type, name, kind, ttl }
  })
}
