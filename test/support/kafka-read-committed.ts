/**
 * A read_committed reader for tests, written on the raw Fetch API so that it does not share the
 * client's consumer code with what it checks: it reads every partition of a topic up to its last
 * stable offset and drops aborted transactions as the Java consumer does (the broker lists the
 * aborted transactions of the fetched range; a producer's batches are skipped from the aborted
 * transaction's first offset until its ABORT marker).
 */
import { Admin, fetchV17, type Connection } from '@platformatic/kafka'

export interface ReadMessage {
  readonly partition: number
  readonly offset: bigint
  readonly key: string | null
  readonly value: Buffer
  readonly headers: Readonly<Record<string, string>>
}

const IS_TRANSACTIONAL = 1 << 4
const IS_CONTROL = 1 << 5
const READ_COMMITTED = 1

/** Every committed message of `topic`, partition by partition, in offset order. */
export async function readCommitted(admin: Admin, topic: string): Promise<ReadMessage[]> {
  return (await readCommittedState(admin, topic)).messages
}

/**
 * The committed messages and whether any transaction is still open or still being ended (the
 * broker writes a transaction's markers after it answered the commit, so read_committed
 * consumers see a commit a moment after it returned).
 */
export async function readCommittedState(admin: Admin, topic: string): Promise<{ messages: ReadMessage[]; settled: boolean }> {
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
  const t = metadata.topics.get(topic)
  if (t === undefined) throw new Error(`no topic ${topic}`)
  const messages: ReadMessage[] = []
  let settled = true
  for (let p = 0; p < t.partitionsCount; p++) {
    const leader = t.partitions[p].leader
    const connection = (await admin.connectToBrokers([leader])).get(leader) as Connection
    const read = await readPartition(connection, t.id, p)
    messages.push(...read.messages)
    settled &&= read.settled
  }
  return { messages, settled }
}

async function readPartition(connection: Connection, topicId: string, partition: number): Promise<{ messages: ReadMessage[]; settled: boolean }> {
  const out: ReadMessage[] = []
  const aborted: Array<{ producerId: bigint; firstOffset: bigint }> = []
  const abortedProducers = new Set<bigint>()
  let offset = 0n
  for (let round = 0; round < 100_000; round++) {
    const response = await fetchV17.api.async(connection, 0, 0, 16 * 1024 * 1024, READ_COMMITTED, 0, -1, [{ topicId, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, partitionMaxBytes: 16 * 1024 * 1024 }] }], [], '')
    const data = response.responses[0].partitions[0]
    if (data.errorCode !== 0) throw new Error(`fetch of partition ${partition} failed with Kafka error ${data.errorCode}`)
    for (const a of data.abortedTransactions ?? []) if (!aborted.some((x) => x.producerId === a.producerId && x.firstOffset === a.firstOffset) && a.firstOffset >= offset) aborted.push(a)
    aborted.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0))
    for (const batch of data.records ?? []) {
      const last = batch.firstOffset + BigInt(batch.lastOffsetDelta)
      if (last < offset) continue
      while (aborted.length > 0 && aborted[0].firstOffset <= last) abortedProducers.add((aborted.shift() as { producerId: bigint }).producerId)
      if ((batch.attributes & IS_CONTROL) !== 0) {
        // Control record key: version (int16), type (int16): 0 = ABORT, 1 = COMMIT.
        if (batch.records[0]?.key?.readInt16BE(2) === 0) abortedProducers.delete(batch.producerId)
      } else if (!((batch.attributes & IS_TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId))) {
        for (const r of batch.records) {
          const at = batch.firstOffset + BigInt(r.offsetDelta)
          if (at < offset) continue
          const headers: Record<string, string> = {}
          for (const [k, v] of r.headers) headers[k?.toString('utf8') ?? ''] = v?.toString('utf8') ?? ''
          out.push({ partition, offset: at, key: r.key === null ? null : r.key.toString('utf8'), value: r.value ?? Buffer.alloc(0), headers })
        }
      }
      offset = last + 1n
    }
    if (offset >= data.lastStableOffset) return { messages: out, settled: data.lastStableOffset === data.highWatermark }
    if ((data.records ?? []).length === 0) throw new Error(`partition ${partition}: no records below the last stable offset ${data.lastStableOffset} at ${offset}`)
  }
  throw new Error(`partition ${partition}: read did not end`)
}
