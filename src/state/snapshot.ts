/**
 * Operator state snapshots, partitioned by key group, and their byte format.
 *
 * A snapshot is what one operator instance (one subtask) holds: operator-wide state (watermark
 * marks and the like) plus, per key group, a list of *entries*. An entry is one fact about one
 * key — a state value, a timer, a window's accumulator, a buffered record — written as a tuple
 * `[ordinal, tag, key, ...fields]`: `tag` tells the operator what the fact is, `ordinal` is the
 * position at which the operator wrote it. Restoring replays the entries of the key groups a
 * subtask now owns, each old subtask's in ordinal order, so:
 * - at the same parallelism the restored operator is the same as the snapshotted one, down to the
 *   iteration order of its maps and of timers sharing a timestamp (its output order is the same);
 * - at another parallelism each new subtask takes the key groups of its range from every old
 *   subtask's snapshot (the old subtasks' entries one after another).
 *
 * Snapshots may share user values (accumulators, state values, records) with the live operator.
 * They are a view valid until the operator is next called: encode them (encodeSnapshot) first.
 *
 * Byte format, version 1:
 * ```
 * byte 0      SNAPSHOT_FORMAT_VERSION
 * bytes 1..   MessagePack: [kind, maxParallelism, operatorState, keyGroups: number[], groups: bin[]]
 *             groups[i] is itself MessagePack: the entry tuples of key group keyGroups[i]
 * ```
 * Each key group is encoded on its own, so a restoring subtask decodes only the groups it owns.
 * MessagePack comes from msgpackr in records mode with Maps kept as Maps (`mapsAsObjects: false`):
 * keys may be numbers or strings and values any plain data — objects (property order kept),
 * arrays, Map, Set, Date, RegExp, Error, bigint, typed arrays, undefined, NaN, ±Infinity. -0
 * decodes as 0; class instances decode as plain objects; functions and symbols are refused.
 * msgpackr's default build compiles a reader per object shape with `new Function`; this module
 * loads its no-eval build instead, so decoding a snapshot never turns data into code.
 */
import { createRequire } from 'node:module'
import type * as Msgpackr from 'msgpackr'
import { SluiceError, describeCause } from '../errors.ts'
import { keyGroupOf } from './key-groups.ts'

export const SNAPSHOT_FORMAT_VERSION = 1

/** One fact about one key: `[ordinal, tag, key, ...fields]` (see the module comment). */
export type KeyedEntry = readonly unknown[]

/** The state of one operator instance. */
export interface OperatorSnapshot {
  /** What wrote it ('pane-window', 'keyed-process', …); a restore into another kind is refused. */
  readonly kind: string
  /** The number of key groups keys were hashed into; every part of a restore must agree. */
  readonly maxParallelism: number
  /** Operator-wide state; null when the operator has none. */
  readonly operatorState: unknown
  /** Key group → its entries. Groups without state are absent. */
  readonly keyGroups: ReadonlyMap<number, readonly KeyedEntry[]>
}

/** What an operator needs to know to take a snapshot. */
export interface SnapshotContext {
  /** The job's number of key groups (`keyGroupOf(key, maxParallelism)`). */
  readonly maxParallelism: number
}

/** Which key groups a restoring subtask owns. */
export type KeyGroupFilter = (keyGroup: number) => boolean

/**
 * Collects an operator's entries by key group, numbering them in the order they are added.
 *
 * @example
 * const w = new SnapshotWriter('rolling-aggregate', ctx.maxParallelism)
 * for (const [k, acc] of accs) w.add(0, k, acc)
 * return w.finish(null)
 */
export class SnapshotWriter {
  private readonly groups = new Map<number, KeyedEntry[]>()
  private ordinal = 0

  constructor(
    private readonly kind: string,
    private readonly maxParallelism: number,
  ) {
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new SluiceError('INTERNAL', `snapshot of "${kind}": maxParallelism must be a whole number >= 1, got ${maxParallelism}`)
    }
  }

  add(tag: number, key: unknown, ...fields: unknown[]): void {
    const g = keyGroupOf(key, this.maxParallelism)
    let l = this.groups.get(g)
    if (l === undefined) {
      l = []
      this.groups.set(g, l)
    }
    l.push([this.ordinal++, tag, key, ...fields])
  }

  finish(operatorState: unknown): OperatorSnapshot {
    return { kind: this.kind, maxParallelism: this.maxParallelism, operatorState, keyGroups: this.groups }
  }
}

/** What a restoring operator replays. */
export interface RestoredState {
  /** Operator-wide state of every part, in part order (nulls included). */
  readonly operatorStates: readonly unknown[]
  /** The entries of the owned key groups: part by part, each part's in the order written. */
  readonly entries: readonly KeyedEntry[]
}

/**
 * Checks that every part was written by a `kind` operator with one maxParallelism and gathers
 * the entries of the key groups `owns` accepts.
 */
export function readOwned(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, kind: string): RestoredState {
  const operatorStates: unknown[] = []
  const entries: KeyedEntry[] = []
  for (const part of parts) {
    if (part.kind !== kind) {
      throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `cannot restore a ${kind} operator from the snapshot of a ${part.kind} operator: the job changed; give the new operator a new id`)
    }
    if (part.maxParallelism !== parts[0].maxParallelism) {
      throw new SluiceError('INTERNAL', `snapshots of one ${kind} operator disagree on maxParallelism (${parts[0].maxParallelism} and ${part.maxParallelism})`)
    }
    operatorStates.push(part.operatorState)
    const mine: KeyedEntry[] = []
    for (const [g, l] of part.keyGroups) if (owns(g)) for (const e of l) mine.push(e)
    mine.sort((a, b) => (a[0] as number) - (b[0] as number))
    for (const e of mine) entries.push(e)
  }
  return { operatorStates, entries }
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

const requireCjs = createRequire(import.meta.url)
const { Packr, Unpackr } = requireCjs('msgpackr/index-no-eval') as typeof Msgpackr

const OPTIONS: Msgpackr.Options = {
  useRecords: true,
  mapsAsObjects: false,
  // Set, typed arrays, Error, RegExp and big bigints keep their type.
  moreTypes: true,
  // Decoded binary must not point into the caller's buffer (a file read, a reused block).
  copyBuffers: true,
  writeFunction: () => {
    throw new Error('a function cannot be stored in a snapshot; keep state to plain data')
  },
}

const packr = new Packr(OPTIONS)
const unpackr = new Unpackr(OPTIONS)

function pack(kind: string, what: string, v: unknown): Uint8Array {
  try {
    return packr.pack(v)
  } catch (e) {
    throw new SluiceError('INTERNAL', `cannot encode the state of a ${kind} operator (${what}): ${describeCause(e)}; keep state to plain data (no functions or symbols)`, { cause: e })
  }
}

function corrupt(why: string, cause?: unknown): SluiceError {
  return new SluiceError('INTERNAL', `operator snapshot is corrupt: ${why}`, cause === undefined ? undefined : { cause })
}

function unpack(bytes: Uint8Array, what: string): unknown {
  try {
    return unpackr.unpack(bytes)
  } catch (e) {
    throw corrupt(`${what}: ${describeCause(e)}`, e)
  }
}

/** Encodes a snapshot (see the module comment for the format). */
export function encodeSnapshot(s: OperatorSnapshot): Uint8Array {
  const ids: number[] = []
  const groups: Uint8Array[] = []
  for (const [g, entries] of s.keyGroups) {
    ids.push(g)
    groups.push(pack(s.kind, `key group ${g}`, entries))
  }
  const body = pack(s.kind, 'operator state', [s.kind, s.maxParallelism, s.operatorState, ids, groups])
  const out = new Uint8Array(body.length + 1)
  out[0] = SNAPSHOT_FORMAT_VERSION
  out.set(body, 1)
  return out
}

/**
 * Decodes a snapshot. With `owns`, only the key groups it accepts are decoded (the others are
 * left out), which is what a restoring subtask needs from each old subtask's snapshot.
 */
export function decodeSnapshot(bytes: Uint8Array, owns?: KeyGroupFilter): OperatorSnapshot {
  if (bytes.length < 2) throw corrupt(`${bytes.length} bytes`)
  if (bytes[0] !== SNAPSHOT_FORMAT_VERSION) {
    throw new SluiceError('INTERNAL', `operator snapshot has format version ${bytes[0]}; this Sluice reads version ${SNAPSHOT_FORMAT_VERSION}`)
  }
  const top = unpack(bytes.subarray(1), 'header')
  if (!Array.isArray(top) || top.length !== 5) throw corrupt('unexpected header')
  const [kind, maxParallelism, operatorState, ids, groups] = top as [unknown, unknown, unknown, unknown, unknown]
  if (typeof kind !== 'string' || typeof maxParallelism !== 'number' || !Array.isArray(ids) || !Array.isArray(groups) || ids.length !== groups.length) {
    throw corrupt('unexpected header fields')
  }
  const keyGroups = new Map<number, KeyedEntry[]>()
  for (let i = 0; i < ids.length; i++) {
    const g = ids[i] as number
    if (!Number.isInteger(g) || g < 0 || g >= maxParallelism) throw corrupt(`key group ${String(g)} outside 0..${maxParallelism - 1}`)
    if (owns !== undefined && !owns(g)) continue
    const b = groups[i]
    if (!(b instanceof Uint8Array)) throw corrupt(`key group ${g} is not binary`)
    const entries = unpack(b, `key group ${g}`)
    if (!Array.isArray(entries)) throw corrupt(`key group ${g} is not a list of entries`)
    keyGroups.set(g, entries as KeyedEntry[])
  }
  return { kind, maxParallelism, operatorState, keyGroups }
}
