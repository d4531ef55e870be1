/**
 * Redis Streams: Sluice's source reader and sink writer against the same node-redis client used
 * by hand (XREAD loop; pipelined XADD), same ~100-byte JSON messages, same run, alternating
 * rounds, medians. Needs Redis on 127.0.0.1:6379.
 *   node bin/run-ts.js bench/connectors/redis.ts [--count N] [--rounds R] [--batch B]
 * Prints a table, then one JSON line with every figure.
 */
import { createClient } from 'redis'
import { redisStreamSink } from '../../src/connectors/redis/redis-sink.ts'
import { redisStreamSource } from '../../src/connectors/redis/redis-source.ts'
import type { SinkContext, SourceContext } from '../../src/connectors/spi.ts'

const args = process.argv.slice(2)
const opt = (f: string, d: number): number => {
  const i = args.indexOf(f)
  return i >= 0 ? Number(args[i + 1]) : d
}
const COUNT = opt('--count', 200_000)
const ROUNDS = opt('--rounds', 3)
const BATCH = opt('--batch', 1000)
const URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

interface Message { id: number; kind: string; auction: number; bidder: number; price: number; channel: string; extra: string }
const messages: Message[] = Array.from({ length: COUNT }, (_, i) => ({ id: i, kind: 'bid', auction: 1000 + (i % 977), bidder: 50_000 + (i % 4099), price: 100 + (i % 9000), channel: 'web', extra: 'abcdefghij' }))
const bytes = JSON.stringify(messages[0]).length

const clock = { now: () => Date.now() }
const sourceCtx: SourceContext = { sourceId: 'bench', subtaskIndex: 0, parallelism: 1, clock, reportBadRecord: (_r, reason, at) => { throw new Error(`${at}: ${reason}`) } }
const sinkCtx: SinkContext = { sinkId: 'bench', subtaskIndex: 0, parallelism: 1, clock }

const admin = createClient({ url: URL })
await admin.connect()
const prefix = `sluice_bench_${Date.now().toString(36)}`
let serial = 0
const newKey = (): string => `${prefix}_${serial++}`
const used: string[] = []

async function timed(f: () => Promise<number>): Promise<number> {
  const t = performance.now()
  const n = await f()
  const s = (performance.now() - t) / 1000
  if (n !== COUNT) throw new Error(`moved ${n} records, expected ${COUNT}`)
  return n / s
}

/** By hand, idiomatic: client.xAdd per message, one batch's replies awaited before the next. */
async function handXAdd(key: string): Promise<number> {
  const client = createClient({ url: URL })
  await client.connect()
  const n = await timedCount(async () => {
    for (let at = 0; at < COUNT; at += BATCH) {
      const replies: Promise<unknown>[] = []
      for (let i = at; i < Math.min(COUNT, at + BATCH); i++) replies.push(client.xAdd(key, '*', { value: JSON.stringify(messages[i]) }))
      await Promise.all(replies)
    }
    return COUNT
  })
  client.destroy()
  return n
}

/**
 * By hand, raw: sendCommand(XADD) per message, up to 4 batches unanswered (as the sink); with
 * `idField`, each entry also carries the id the sink writes, for an equal comparison.
 */
async function handSendCommand(key: string, idField: string | null = null): Promise<number> {
  const client = createClient({ url: URL })
  await client.connect()
  const n = await timedCount(async () => {
    const inFlight: Promise<unknown>[] = []
    for (let at = 0; at < COUNT; at += BATCH) {
      const replies: Promise<unknown>[] = []
      for (let i = at; i < Math.min(COUNT, at + BATCH); i++) {
        const args = ['XADD', key, '*', 'value', JSON.stringify(messages[i])]
        if (idField !== null) args.push(idField, `bench-0-${i}`)
        replies.push(client.sendCommand(args))
      }
      inFlight.push(Promise.all(replies))
      if (inFlight.length > 4) await inFlight.shift()
    }
    await Promise.all(inFlight)
    return COUNT
  })
  client.destroy()
  return n
}

async function sluiceSink(key: string, idField: string | null): Promise<number> {
  const writer = await redisStreamSink<Message>({ url: URL, key, idField }).open(sinkCtx)
  const n = await timedCount(async () => {
    const batch: Message[] = []
    for (let at = 0; at < COUNT; at += BATCH) {
      for (let i = at; i < Math.min(COUNT, at + BATCH); i++) batch.push(messages[i])
      await writer.write(batch)
      batch.length = 0
    }
    await writer.preCommit!(1)
    return COUNT
  })
  await writer.close!()
  return n
}

/** By hand, idiomatic: client.xRead from the last id, COUNT = batch, JSON.parse each value. */
async function handXRead(key: string): Promise<number> {
  const client = createClient({ url: URL })
  await client.connect()
  const n = await timedCount(async () => {
    let id = '0-0'
    let read = 0
    const out: unknown[] = []
    for (;;) {
      const reply = await client.xRead({ key, id }, { COUNT: BATCH }) as { name: string; messages: { id: string; message: Record<string, string> }[] }[] | null
      if (reply === null || reply[0].messages.length === 0) break
      out.length = 0
      for (const m of reply[0].messages) out.push(JSON.parse(m.message.value))
      read += out.length
      id = reply[0].messages[reply[0].messages.length - 1].id
    }
    return read
  })
  client.destroy()
  return n
}

/** By hand, raw: sendCommand(XREAD) and the reply arrays as they come. */
async function handRawXRead(key: string): Promise<number> {
  const client = createClient({ url: URL })
  await client.connect()
  const n = await timedCount(async () => {
    let id = '0-0'
    let read = 0
    const out: unknown[] = []
    for (;;) {
      const reply = await client.sendCommand<[string, [string, string[]][]][] | null>(['XREAD', 'COUNT', String(BATCH), 'STREAMS', key, id])
      if (reply === null) break
      const entries = reply[0][1]
      out.length = 0
      for (let i = 0; i < entries.length; i++) out.push(JSON.parse(entries[i][1][1]))
      read += out.length
      id = entries[entries.length - 1][0]
    }
    return read
  })
  client.destroy()
  return n
}

async function sluiceSource(key: string): Promise<number> {
  const reader = await redisStreamSource<Message>({ url: URL, key, bounded: true }).open(sourceCtx)
  const n = await timedCount(async () => {
    const out: Message[] = []
    let read = 0
    for (;;) {
      out.length = 0
      const got = await reader.read(out, BATCH)
      if (got === -1) return read
      read += got
    }
  })
  await reader.close!()
  return n
}

async function timedCount(f: () => Promise<number>): Promise<number> {
  return timed(f)
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results: Record<string, number[]> = {}
const record = (name: string, v: number): void => {
  (results[name] ??= []).push(v)
}

// A stream for the readers, written once; every writer round gets a fresh key (then deleted).
const readKey = newKey()
used.push(readKey)
await handSendCommand(readKey)

for (let r = 0; r < ROUNDS; r++) {
  const sinks = [
    ['sink: hand xAdd, batch awaited', (k: string) => handXAdd(k)],
    ['sink: hand sendCommand XADD, 4 batches in flight', (k: string) => handSendCommand(k)],
    ['sink: hand sendCommand XADD + the same id field', (k: string) => handSendCommand(k, 'sluice-id')],
    ['sink: Sluice redisStreamSink (sluice-id field)', (k: string) => sluiceSink(k, 'sluice-id')],
    ['sink: Sluice redisStreamSink (idField: null)', (k: string) => sluiceSink(k, null)],
  ] as const
  const sources = [
    ['source: hand xRead loop', handXRead],
    ['source: hand raw XREAD loop', handRawXRead],
    ['source: Sluice redisStreamSource', sluiceSource],
  ] as const
  // Each round starts at another case, so no case always runs first or after the same one.
  for (let i = 0; i < sinks.length; i++) {
    const [name, run] = sinks[(i + r) % sinks.length]
    const key = newKey()
    record(name, await run(key))
    await admin.sendCommand(['DEL', key])
  }
  for (let i = 0; i < sources.length; i++) {
    const [name, run] = sources[(i + r) % sources.length]
    record(name, await run(readKey))
  }
}
await admin.sendCommand(['DEL', ...used])
admin.destroy()

const figures = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(median(v))]))
const best = (prefixName: string): number => Math.max(...Object.entries(figures).filter(([k]) => k.startsWith(prefixName)).map(([, v]) => v))
const sinkRatio = figures['sink: Sluice redisStreamSink (sluice-id field)'] / figures['sink: hand sendCommand XADD + the same id field']
const sinkRatioNoId = figures['sink: Sluice redisStreamSink (idField: null)'] / Math.max(figures['sink: hand xAdd, batch awaited'], figures['sink: hand sendCommand XADD, 4 batches in flight'])
const sourceRatio = figures['source: Sluice redisStreamSource'] / best('source: hand')

console.log(`Redis Streams, ${COUNT} messages of ${bytes} bytes, batches of ${BATCH}, median of ${ROUNDS} rounds, Node ${process.version}`)
console.log('| case | records/s |')
console.log('|---|---|')
for (const [k, v] of Object.entries(figures)) console.log(`| ${k} | ${(v / 1000).toFixed(1)} K |`)
console.log(`| source: Sluice / best hand-written | ${sourceRatio.toFixed(2)}× (target ≥ 0.8) |`)
console.log(`| sink: Sluice / hand-written, both with the id field | ${sinkRatio.toFixed(2)}× (target ≥ 0.8) |`)
console.log(`| sink: Sluice / best hand-written, neither with it | ${sinkRatioNoId.toFixed(2)}× (target ≥ 0.8) |`)
console.log(JSON.stringify({ bench: 'connectors-redis', count: COUNT, messageBytes: bytes, batch: BATCH, rounds: ROUNDS, perSecond: figures, sourceRatio, sinkRatio, sinkRatioNoId }))
