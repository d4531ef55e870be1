/** Deletes what a test created on a real server, named by the connector URI it used. */
import { Admin } from '@platformatic/kafka'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect as natsConnect } from '@nats-io/transport-node'
import pg from 'pg'
import { createClient } from 'redis'

/**
 * kafka://H:P/TOPIC deletes the topic; nats://H:P/STREAM the stream; redis://H:P/KEY the key and
 * keys KEY.* (partitioned keys); postgres://U@H:P/DB?table=T the table.
 */
export async function deleteBrokerObject(uri: string): Promise<void> {
  const u = new URL(uri)
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''))
  const hostPort = `${u.hostname}:${u.port}`
  switch (u.protocol) {
    case 'kafka:': {
      const admin = new Admin({ clientId: 'sluice-test-cleanup', bootstrapBrokers: [hostPort] })
      try {
        await admin.deleteTopics({ topics: [name] })
      } finally {
        await admin.close()
      }
      return
    }
    case 'nats:': {
      const nc = await natsConnect({ servers: hostPort })
      try {
        const jsm = await jetstreamManager(nc)
        await jsm.streams.delete(name)
      } finally {
        await nc.close()
      }
      return
    }
    case 'redis:': {
      const client = createClient({ url: `redis://${hostPort}` })
      await client.connect()
      try {
        const keys = [name, ...(await client.keys(`${name}.*`)), ...(await client.keys(`${name}:*`))]
        await client.del(keys)
      } finally {
        await client.quit()
      }
      return
    }
    case 'postgres:':
    case 'postgresql:': {
      const table = u.searchParams.get('table') ?? ''
      const client = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username) || 'root', database: name })
      await client.connect()
      try {
        await client.query(`DROP TABLE IF EXISTS "${table.replace(/"/g, '""')}"`)
      } finally {
        await client.end()
      }
      return
    }
    default:
      throw new Error(`deleteBrokerObject: unknown scheme in ${uri}`)
  }
}
