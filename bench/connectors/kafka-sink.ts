/**
 * Kafka sink throughput: Sluice's writer against a hand-written producer with the same client
 * (@platformatic/kafka) and the same guarantee, on the same ~100-byte JSON messages, in the same
 * run, alternating the two so that a busy machine slows both alike.
 *
 *   node bin/run-ts.js bench/connectors/kafka-sink.ts [--messages 500000] [--every 50000] [--rounds 3] [--partitions 4]
 *
 * Cases: at-least-once (idempotent producer, acks=all, everything acknowledged at the end) and
 * exactly-once (transactions, one committed every --every records: Sluice's preCommit + commit
 * per checkpoint against beginTransaction / commit by hand). Needs Kafka on 127.0.0.1:9092
 * (`bash scripts/services.sh up`). Prints a table, then one JSON line.
 */
import { Admin, Producer, type MessageToProduce } from '@platformatic/kafka'
import { kafkaSink } from '../../src/connectors/kafka/kafka-sink.ts'
import type { SinkContext } from '../../src/connectors/spi.ts'

const args = process.argv.slice(2)
const opt = (name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const MESSAGES = opt('--messages', 500_000)
const EVERY = opt('--every', 50_000)
const ROUNDS = opt('--rounds', 3)
const PARTITIONS = opt('--partitions', 4)
const BATCH = 1000 // records per write, as the runtime hands a sink its batches
const HAND_CHUNK = 4000 // messages per send by hand (~450 KB, under the broker's 1 MiB batch limit)
const brokers = ['127.0.0.1:9092']

interface Event {
  readonly id: number
  readonly ts: number
  readonly kind: string
  readonly payload: string
}
// ~100 bytes as JSON.
const events: Event[] = Array.from({ length: MESSAGES }, (_, i) => ({ id: i, ts: 1_700_000_000_000 + i, kind: 'bid', payload: 'x'.repeat(40 + (i % 8)) }))
const bytes = Buffer.byteLength(JSON.stringify(events[0]))

const admin = new Admin({ clientId: 'bench-kafka-sink', bootstrapBrokers: brokers })
const topics: string[] = []
let topicCount = 0
async function freshTopic(): Promise<string> {
  const topic = `bench_kafka_sink_${Date.now().toString(36)}_${topicCount++}`
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 })
  topics.push(topic)
  return topic
}

const ctx: SinkContext = { sinkId: 'bench', clock: { now: () => Date.now() }, subtaskIndex: 0, parallelism: 1 }

interface Run {
  readonly perSecond: number
  /** Client CPU (user + system) per message, µs: what the writer costs, whatever the broker's speed. */
  readonly cpuUsPerMessage: number
}

function finish(t0: number, cpu0: NodeJS.CpuUsage): Run {
  const cpu = process.cpuUsage(cpu0)
  return { perSecond: MESSAGES / ((performance.now() - t0) / 1000), cpuUsPerMessage: (cpu.user + cpu.system) / MESSAGES }
}

async function sluice(guarantee: 'at-least-once' | 'exactly-once'): Promise<Run> {
  const topic = await freshTopic()
  const writer = await kafkaSink<Event>({ brokers, topic, guarantee, transactionalIdPrefix: `bench-${topic}` }).open(ctx)
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  let checkpoint = 0
  for (let at = 0; at < MESSAGES; at += BATCH) {
    await writer.write(events.slice(at, at + BATCH))
    if (guarantee === 'exactly-once' && (at + BATCH) % EVERY === 0) await writer.commit!(await writer.preCommit!(++checkpoint))
  }
  await writer.flush!()
  await writer.close!()
  return finish(t0, cpu0)
}

async function byHand(guarantee: 'at-least-once' | 'exactly-once'): Promise<Run> {
  const topic = await freshTopic()
  const transactional = guarantee === 'exactly-once'
  const producer = new Producer({ clientId: 'bench-hand', bootstrapBrokers: brokers, idempotent: true, ...(transactional && { transactionalId: `bench-hand-${topic}`, producerId: -1n, producerEpoch: -1, timeout: 60_000 }) })
  if (!transactional) await producer.initIdempotentProducer({})
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  let txn = transactional ? await producer.beginTransaction() : null
  let inTxn = 0
  for (let at = 0; at < MESSAGES; at += HAND_CHUNK) {
    const messages: MessageToProduce[] = []
    const end = Math.min(at + HAND_CHUNK, MESSAGES)
    for (let i = at; i < end; i++) messages.push({ topic, value: Buffer.from(JSON.stringify(events[i])) })
    if (txn !== null) {
      await txn.send({ messages })
      inTxn += messages.length
      if (inTxn >= EVERY) {
        await txn.commit()
        txn = await producer.beginTransaction()
        inTxn = 0
      }
    } else {
      await producer.send({ messages })
    }
  }
  if (txn !== null && inTxn > 0) await txn.commit()
  const run = finish(t0, cpu0)
  await producer.close()
  return run
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results: Record<string, { sluice: number; hand: number; ratio: number; sluiceCpuUs: number; handCpuUs: number; samples: { sluice: number[]; hand: number[] } }> = {}
try {
  for (const guarantee of ['at-least-once', 'exactly-once'] as const) {
    // One unmeasured round of each, so neither pays for the JIT or the broker's first topic.
    await sluice(guarantee)
    await byHand(guarantee)
    const s: Run[] = []
    const h: Run[] = []
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first.
      if (r % 2 === 0) {
        s.push(await sluice(guarantee))
        h.push(await byHand(guarantee))
      } else {
        h.push(await byHand(guarantee))
        s.push(await sluice(guarantee))
      }
    }
    const [sp, hp] = [s.map((r) => r.perSecond), h.map((r) => r.perSecond)]
    results[guarantee] = {
      sluice: median(sp),
      hand: median(hp),
      ratio: median(sp) / median(hp),
      sluiceCpuUs: median(s.map((r) => r.cpuUsPerMessage)),
      handCpuUs: median(h.map((r) => r.cpuUsPerMessage)),
      samples: { sluice: sp.map(Math.round), hand: hp.map(Math.round) },
    }
  }
} finally {
  await admin.deleteTopics({ topics }).catch(() => undefined)
  await admin.close()
}

const k = (n: number): string => `${(n / 1000).toFixed(1)} K/s`
console.log(`Kafka sink, ${MESSAGES} messages of ~${bytes} bytes, ${PARTITIONS} partitions, median of ${ROUNDS} rounds`)
console.log('| guarantee | Sluice kafkaSink | hand-written producer | ratio | client CPU µs/msg Sluice / hand |')
console.log('|---|---|---|---|---|')
for (const [g, r] of Object.entries(results)) console.log(`| ${g}${g === 'exactly-once' ? ` (commit every ${EVERY})` : ''} | ${k(r.sluice)} | ${k(r.hand)} | ${r.ratio.toFixed(2)}× | ${r.sluiceCpuUs.toFixed(1)} / ${r.handCpuUs.toFixed(1)} |`)
console.log(JSON.stringify({ bench: 'kafka-sink', messages: MESSAGES, messageBytes: bytes, partitions: PARTITIONS, every: EVERY, rounds: ROUNDS, results }))
