/**
 * Kafka source throughput: Sluice's reader (kafkaSource, bounded, one subtask reading every
 * partition) against a hand-written consumer loop with the same client (@platformatic/kafka's
 * consume() stream from the earliest offsets), over the same ~100-byte JSON messages, decoded
 * to objects by both, alternating runs in one process. Needs the broker of
 * `bash scripts/services.sh up`.
 *
 *   node bin/run-ts.js bench/connectors/kafka-source.ts [--messages 500000] [--partitions 4] [--rounds 3]
 *
 * Prints a table and, last, one JSON line: {"sourcePerSec":…,"handPerSec":…,…}.
 */
import { Admin, Consumer, Producer } from '@platformatic/kafka'
import { kafkaSource } from '../../src/connectors/kafka/kafka-source.ts'
import { TestSourceContext } from '../../src/connectors/source-contract.ts'

const args = process.argv.slice(2)
const opt = (name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const MESSAGES = opt('--messages', 500_000)
const PARTITIONS = opt('--partitions', 4)
const ROUNDS = opt('--rounds', 3)
const BROKERS = process.env.SLUICE_KAFKA_BROKERS ?? '127.0.0.1:9092'
const topic = `bench_kafka_source_${Date.now().toString(36)}`

/** ~100 bytes of JSON, like a small event. */
function payload(i: number): Buffer {
  return Buffer.from(JSON.stringify({ id: i, user: `user-${i % 9973}`, kind: 'click', amount: (i % 1000) / 10, at: 1_700_000_000_000 + i, pad: 'xxxxxxxx' }))
}

async function seed(admin: Admin): Promise<void> {
  // One send at a time: the idempotent producer with several sends in flight lost batches here
  // (out-of-order sequence errors), and the bench must read exactly what it seeded.
  const producer = new Producer({ clientId: 'sluice-bench', bootstrapBrokers: [BROKERS], idempotent: true })
  const BATCH = 4000
  for (let i = 0; i < MESSAGES; i += BATCH) {
    await producer.send({ messages: Array.from({ length: Math.min(BATCH, MESSAGES - i) }, (_, k) => ({ topic, partition: (i + k) % PARTITIONS, value: payload(i + k) })) })
  }
  await producer.close()
  const [listed] = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partitionIndex: p, timestamp: -1n })) }] })
  const total = listed.partitions.reduce((a, p) => a + Number(p.offset), 0)
  if (total !== MESSAGES) throw new Error(`seeding wrote ${total} messages, not ${MESSAGES}`)
}

/** Sluice's reader, as a source task drives it: read batches of 1024 until -1. Times first record to last. */
async function sluiceRun(): Promise<{ perSec: number; checksum: number }> {
  const reader = await kafkaSource<{ id: number }>({ brokers: BROKERS, topic, bounded: true }).open(new TestSourceContext('fail'))
  const out: { id: number }[] = []
  let count = 0
  let checksum = 0
  let t0 = 0
  for (;;) {
    out.length = 0
    const r = reader.read(out, 1024)
    const n = typeof r === 'number' ? r : await r
    if (n === -1) break
    if (n > 0 && t0 === 0) t0 = performance.now()
    for (let i = 0; i < n; i++) checksum += out[i].id
    count += n
  }
  const ms = performance.now() - t0
  await reader.close()
  if (count !== MESSAGES) throw new Error(`sluice read ${count} of ${MESSAGES}`)
  return { perSec: (count / ms) * 1000, checksum }
}

/** The same client by hand: a consume() stream from the earliest offsets, JSON values, no commits, 'data' events. */
async function handRun(): Promise<{ perSec: number; checksum: number }> {
  const consumer = new Consumer<Buffer, { id: number }, Buffer, Buffer>({
    clientId: 'sluice-bench-hand',
    groupId: `bench-hand-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    bootstrapBrokers: [BROKERS],
    deserializers: { value: (b) => JSON.parse((b as Buffer).toString('utf8')) as { id: number } },
  })
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false })
  let count = 0
  let checksum = 0
  let t0 = 0
  // 'data' events, the stream's fastest mode (for await costs a promise per message).
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (message) => {
      if (t0 === 0) t0 = performance.now()
      checksum += message.value.id
      if (++count === MESSAGES) resolve()
    })
    stream.once('error', reject)
  })
  const ms = performance.now() - t0
  await stream.close()
  await consumer.close(true)
  return { perSec: (count / ms) * 1000, checksum }
}

const admin = new Admin({ clientId: 'sluice-bench', bootstrapBrokers: [BROKERS] })
await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 })
try {
  const t = performance.now()
  await seed(admin)
  process.stdout.write(`seeded ${MESSAGES} messages of ~${payload(MESSAGES).length} bytes over ${PARTITIONS} partitions in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  const expected = (MESSAGES * (MESSAGES - 1)) / 2
  const sluice: number[] = []
  const hand: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const s = await sluiceRun()
    const h = await handRun()
    if (s.checksum !== expected || h.checksum !== expected) throw new Error('a run read other messages than were seeded')
    sluice.push(s.perSec)
    hand.push(h.perSec)
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const k = (n: number): string => `${(n / 1000).toFixed(0)} K/s`
  process.stdout.write('\n| reader | runs (msg/s) | median |\n|---|---|---|\n')
  process.stdout.write(`| Sluice kafkaSource | ${sluice.map(k).join(', ')} | ${k(median(sluice))} |\n`)
  process.stdout.write(`| hand-written consume() loop | ${hand.map(k).join(', ')} | ${k(median(hand))} |\n`)
  process.stdout.write(`\nratio ${(median(sluice) / median(hand)).toFixed(2)}× (target ≥ 0.8×)\n`)
  process.stdout.write(`${JSON.stringify({ sourcePerSec: Math.round(median(sluice)), handPerSec: Math.round(median(hand)), ratio: Number((median(sluice) / median(hand)).toFixed(3)), messages: MESSAGES, partitions: PARTITIONS, rounds: ROUNDS })}\n`)
} finally {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {})
  await admin.close()
}
