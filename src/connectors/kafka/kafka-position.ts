/**
 * The checkpoint position of a Kafka source reader and its checks: a position names its topic,
 * the partition count it was taken with and each partition it covers, so a restore into another
 * topic or split fails instead of reading wrong data.
 */
import { badPosition } from '../position.ts'
import type { SourcePosition } from '../spi.ts'

/**
 * `offsets`: the next offset to read per partition this reader covers (keys are partition
 * numbers). `ends`: where a bounded reader stops per partition, as seen when the job first
 * opened it (kept so a resumed bounded read ends at the same place); null when unbounded.
 */
export type KafkaPosition = {
  readonly topic: string
  readonly partitionCount: number
  readonly offsets: { readonly [partition: string]: number }
  readonly ends: { readonly [partition: string]: number } | null
}

/** The partitions subtask `subtask` of `parallelism` reads: p with p % parallelism === subtask. */
export function assignedPartitions(partitionCount: number, subtask: number, parallelism: number): number[] {
  const out: number[] = []
  for (let p = subtask; p < partitionCount; p += parallelism) out.push(p)
  return out
}

function offsetMap(from: SourcePosition, field: string, value: unknown): Map<number, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badPosition('kafka', from, `${field} must be an object of partition: offset`)
  const out = new Map<number, number>()
  for (const [k, v] of Object.entries(value)) {
    if (!/^\d+$/.test(k) || typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badPosition('kafka', from, `${field}["${k}"] must be a partition number with a whole offset >= 0`)
    out.set(Number(k), v)
  }
  return out
}

export interface CheckedPosition {
  readonly offsets: Map<number, number>
  readonly ends: Map<number, number> | null
  /** Partitions added to the topic since the position was taken: read from their start. */
  readonly added: number[]
}

/**
 * Checks a position against this reader's topic and partitions. Partitions added to the topic
 * since (numbered at or above the position's partitionCount) are allowed and listed in `added`;
 * any other difference (another topic, another parallelism, a partition missing) fails.
 */
export function checkKafkaPosition(from: SourcePosition, topic: string, partitionCount: number, assigned: readonly number[]): CheckedPosition {
  if (from.topic !== topic) throw badPosition('kafka', from, `it is for topic ${JSON.stringify(from.topic)}, not ${JSON.stringify(topic)}`)
  const count = from.partitionCount
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) throw badPosition('kafka', from, 'partitionCount must be a whole number >= 1')
  if (count > partitionCount) throw badPosition('kafka', from, `it covers ${count} partitions but topic ${topic} now has ${partitionCount} (a topic's partitions cannot shrink: was it deleted and created again?)`)
  const offsets = offsetMap(from, 'offsets', from.offsets)
  const ends = from.ends === null ? null : offsetMap(from, 'ends', from.ends)
  const expected = assigned.filter((p) => p < count)
  const got = [...offsets.keys()].sort((a, b) => a - b)
  if (got.length !== expected.length || got.some((p, i) => p !== expected[i])) {
    throw badPosition('kafka', from, `it covers partitions [${got.join(', ')}] but this subtask reads [${expected.join(', ')}] of ${topic}: restore with the parallelism the checkpoint was taken with`)
  }
  if (ends !== null && expected.some((p) => !ends.has(p))) throw badPosition('kafka', from, 'ends must name every partition in offsets')
  return { offsets, ends, added: assigned.filter((p) => p >= count) }
}
