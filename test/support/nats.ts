/**
 * Test helpers for the JetStream connectors: one shared connection to the real server, streams
 * created with unique names and deleted in afterAll, seeding and reading back whole streams.
 */
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream'
import { SERVICES, uniqueName } from './services.ts'

export const NATS_SERVERS = `${SERVICES.nats.host}:${SERVICES.nats.port}`

let shared: { nc: NatsConnection; jsm: JetStreamManager } | null = null
const created = new Set<string>()

export async function natsAdmin(): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  if (shared === null) {
    const nc = await connect({ servers: NATS_SERVERS })
    shared = { nc, jsm: await jetstreamManager(nc) }
  }
  return shared
}

/** Creates a stream `<name>` over the subjects `<name>.*` (or given config) and remembers it for cleanup. */
export async function createStream(prefix: string, config: Partial<StreamConfig> = {}): Promise<string> {
  const name = uniqueName(prefix)
  const { jsm } = await natsAdmin()
  await jsm.streams.add({ name, subjects: [`${name}.*`], ...config })
  created.add(name)
  return name
}

/** Remembers a stream a connector created, for cleanup. */
export function forgetStreamLater(name: string): void {
  created.add(name)
}

/** Publishes `payloads[i]` to `<stream>.<i % partitions>` in order, each acknowledged. */
export async function seedStream(stream: string, payloads: readonly (string | Uint8Array)[], partitions = 1, header?: (i: number) => Record<string, string>): Promise<void> {
  const { nc } = await natsAdmin()
  const js = jetstream(nc)
  for (let at = 0; at < payloads.length; at += 256) {
    const acks = []
    for (let i = at; i < Math.min(at + 256, payloads.length); i++) {
      const h = header === undefined ? undefined : natsHeaders()
      if (h !== undefined) for (const [k, v] of Object.entries(header!(i))) h.set(k, v)
      acks.push(js.publish(`${stream}.${i % partitions}`, payloads[i], h === undefined ? undefined : { headers: h }))
    }
    await Promise.all(acks)
  }
}

/** Every message of the stream on subjects matching `filter`, in stream order, as [subject, payload text, msg id]. */
export async function readStream(stream: string, filter = `${stream}.*`): Promise<{ subject: string; text: string; id: string | null; seq: number }[]> {
  const { nc, jsm } = await natsAdmin()
  const info = await jsm.streams.info(stream)
  const out: { subject: string; text: string; id: string | null; seq: number }[] = []
  if (info.state.messages === 0) return out
  const c = await jetstream(nc).consumers.get(stream, { filter_subjects: filter })
  let pending = (await c.info(true)).num_pending
  while (pending > 0) {
    const it = await c.fetch({ max_messages: Math.min(pending, 1000), expires: 10_000 })
    for await (const m of it) {
      out.push({ subject: m.subject, text: m.string(), id: m.headers?.get('Nats-Msg-Id') ?? null, seq: m.seq })
      pending = m.info.pending
    }
  }
  await c.delete().catch(() => false)
  return out
}

/** Deletes every stream made through these helpers and closes the connection. */
export async function cleanupStreams(): Promise<void> {
  if (shared === null) return
  for (const name of created) await shared.jsm.streams.delete(name).catch(() => false)
  created.clear()
  await shared.nc.close()
  shared = null
}
