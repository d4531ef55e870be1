/**
 * NATS JetStream connector throughput: `node bin/run-ts.js bench/connectors/nats.ts [--messages N] [--rounds N]`.
 *
 * Same ~100-byte JSON messages, same server (127.0.0.1:4222), same process, interleaved rounds:
 *   sink   Sluice's jetstreamSink writer (exactly-once: a Nats-Msg-Id per message, every publish
 *          acknowledged before the final preCommit returns), 8 partitions, batches of 1024
 *   hand   the same client by hand: plain publish with a reply subject under one inbox, the same
 *          Nats-Msg-Id header, up to 8192 unacknowledged, waiting for every acknowledgement
 *   source Sluice's jetstreamSource reader (bounded, 8 partitions on one reader, JSON decoded),
 *          read(out, 1024) until -1
 *   hand   one ordered consumer per partition by hand (consume(), JSON decoded), until all read
 * Prints a table of msg/s (best of the rounds) and a final JSON line.
 */
import { createInbox, connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { jetstreamSink } from '../../src/connectors/nats/jetstream-sink.ts'
import { jetstreamSource } from '../../src/connectors/nats/jetstream-source.ts'
import type { SinkContext, SourceContext } from '../../src/connectors/spi.ts'

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const N = arg('--messages', 200_000)
const ROUNDS = arg('--rounds', 2)
const PARTITIONS = 8
const BATCH = 1024
const WINDOW = 8192
const SERVERS = '127.0.0.1:4222'

type Event = { id: number; user: string; kind: string; amount: number; pad: string }
const records: Event[] = Array.from({ length: N }, (_, i) => ({ id: i, user: `user-${i % 977}`, kind: i % 3 === 0 ? 'bid' : 'view', amount: (i * 37) % 10_000, pad: 'x'.repeat(32) }))
const bytes = JSON.stringify(records[N - 1]).length

const sinkCtx: SinkContext = { sinkId: 'bench', clock: { now: () => Date.now() }, subtaskIndex: 0, parallelism: 1 }
const sourceCtx: SourceContext = {
  sourceId: 'bench',
  subtaskIndex: 0,
  parallelism: 1,
  clock: { now: () => Date.now() },
  reportBadRecord: (_raw, reason, position) => {
    throw new Error(`bad record at ${position}: ${reason}`)
  },
}

async function fresh(jsm: JetStreamManager, name: string): Promise<string> {
  const stream = `${name}_${Date.now().toString(36)}`
  await jsm.streams.add({ name: stream, subjects: [`${stream}.*`] })
  return stream
}

async function sluiceSink(stream: string): Promise<number> {
  const writer = await jetstreamSink<Event>({ servers: SERVERS, stream, partitions: PARTITIONS }).open(sinkCtx)
  const t0 = performance.now()
  for (let at = 0; at < N; at += BATCH) await writer.write(records.slice(at, at + BATCH))
  await writer.preCommit(1)
  const s = (performance.now() - t0) / 1000
  await writer.close()
  return N / s
}

async function handSink(nc: NatsConnection, stream: string): Promise<number> {
  const enc = new TextEncoder()
  const inbox = `${createInbox()}.`
  let acked = 0
  let errors = 0
  let wake: (() => void) | null = null
  let want = 0
  const sub = nc.subscribe(`${inbox}*`, {
    callback: (_err, m) => {
      acked++
      if (m.data.length === 0 || m.string().includes('"error"')) errors++
      if (wake !== null && acked >= want) {
        const w = wake
        wake = null
        w()
      }
    },
  })
  const until = (n: number): Promise<void> | undefined => (acked >= n ? undefined : new Promise<void>((r) => ((want = n), (wake = r))))
  const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    const e = records[i]
    const h = natsHeaders()
    h.set('Nats-Msg-Id', `hand-0-r-${i}`)
    nc.publish(`${stream}.${i % PARTITIONS}`, enc.encode(JSON.stringify(e)), { reply: inbox + i, headers: h })
    if (i + 1 - acked >= WINDOW) await until(i + 1 - WINDOW / 2)
  }
  await until(N)
  const s = (performance.now() - t0) / 1000
  sub.unsubscribe()
  if (errors > 0) throw new Error(`${errors} publishes failed`)
  return N / s
}

async function sluiceSource(stream: string): Promise<number> {
  const t0 = performance.now()
  const reader = await jetstreamSource<Event>({ servers: SERVERS, stream, bounded: true }).open(sourceCtx)
  const out: Event[] = []
  let total = 0
  for (;;) {
    out.length = 0
    const n = await reader.read(out, BATCH)
    if (n === -1) break
    total += n
  }
  const s = (performance.now() - t0) / 1000
  await reader.close()
  if (total !== N) throw new Error(`the source read ${total} of ${N}`)
  return N / s
}

async function handSource(nc: NatsConnection, stream: string): Promise<number> {
  const js = jetstream(nc)
  const t0 = performance.now()
  let total = 0
  let check = 0
  await Promise.all(Array.from({ length: PARTITIONS }, async (_, p) => {
    const c = await js.consumers.get(stream, { filter_subjects: `${stream}.${p}` })
    const target = (await c.info(true)).num_pending
    if (target === 0) return
    const it = await c.consume({ max_messages: 1000 })
    let n = 0
    for await (const m of it) {
      check += m.json<Event>().id & 1
      if (++n === target) break
    }
    total += n
    await c.delete().catch(() => false)
  }))
  const s = (performance.now() - t0) / 1000
  if (total !== N || check < 0) throw new Error(`the hand consumer read ${total} of ${N}`)
  return N / s
}

const nc = await connect({ servers: SERVERS })
const jsm = await jetstreamManager(nc)
console.log(`NATS ${nc.info?.version}, ${N} messages of ~${bytes} bytes, ${PARTITIONS} partitions, ${ROUNDS} rounds`)
const best = { sinkPerSec: 0, handSinkPerSec: 0, sourcePerSec: 0, handSourcePerSec: 0 }
const made: string[] = []
try {
  for (let r = 0; r < ROUNDS; r++) {
    const a = await fresh(jsm, 'bench_sluice_sink')
    const b = await fresh(jsm, 'bench_hand_sink')
    made.push(a, b)
    const order = r % 2 === 0
    const sink = order ? await sluiceSink(a) : 0
    const hand = await handSink(nc, b)
    const sink2 = order ? sink : await sluiceSink(a)
    const src = order ? await sluiceSource(b) : 0
    const handSrc = await handSource(nc, b)
    const src2 = order ? src : await sluiceSource(b)
    console.log(`round ${r + 1}: sink ${Math.round(sink2)} hand sink ${Math.round(hand)} source ${Math.round(src2)} hand source ${Math.round(handSrc)}`)
    best.sinkPerSec = Math.max(best.sinkPerSec, Math.round(sink2))
    best.handSinkPerSec = Math.max(best.handSinkPerSec, Math.round(hand))
    best.sourcePerSec = Math.max(best.sourcePerSec, Math.round(src2))
    best.handSourcePerSec = Math.max(best.handSourcePerSec, Math.round(handSrc))
    for (const s of [a, b]) await jsm.streams.delete(s)
    made.length = 0
  }
} finally {
  for (const s of made) await jsm.streams.delete(s).catch(() => false)
  await nc.close()
}
const row = (name: string, sluice: number, hand: number): string => `| ${name.padEnd(6)} | ${String(sluice).padStart(8)} | ${String(hand).padStart(8)} | ${(sluice / hand).toFixed(2).padStart(5)} |`
console.log('\n| side   |   Sluice |     hand | ratio |\n|--------|----------|----------|-------|')
console.log(row('sink', best.sinkPerSec, best.handSinkPerSec))
console.log(row('source', best.sourcePerSec, best.handSourcePerSec))
console.log(JSON.stringify(best))
