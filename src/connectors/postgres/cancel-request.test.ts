import { createServer, type AddressInfo, type Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort, requireService, SERVICES } from '../../../test/support/services.ts'
import { sendCancelRequest } from './cancel-request.ts'

const config: pg.ClientConfig = { connectionString: SERVICES.postgres.uri }
let busy: pg.Client

beforeAll(async () => {
  await requireService('postgres')
  busy = new pg.Client(config)
  await busy.connect()
})

afterAll(async () => {
  await busy?.end()
})

describe('sendCancelRequest', () => {
  it('stops the query a connection runs, and resolves true once the server has the request', async () => {
    const sleeping = busy.query('SELECT pg_sleep(30)')
    const outcome = sleeping.then(() => 'finished', (e: unknown) => e)
    // The request names the backend, not the query: send it once the query runs there.
    const pid = (busy as unknown as { processID: number }).processID
    const watcher = new pg.Client(config)
    await watcher.connect()
    try {
      for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 10))) {
        const res = await watcher.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid])
        if (res.rows[0].n === '1') break
        if (Date.now() > deadline) throw new Error('the query did not start within 20 s')
      }
    } finally {
      await watcher.end()
    }
    expect(await sendCancelRequest(pg.Client, config, busy, 10_000)).toBe(true)
    expect(await outcome).toMatchObject({ code: '57014' })
    expect((await busy.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('resolves false, and lets no error out, when the server cannot be reached', async () => {
    const port = await closedPort()
    expect(await sendCancelRequest(pg.Client, { host: '127.0.0.1', port }, busy, 10_000)).toBe(false)
  })

  it('resolves false after timeoutMs when the server takes the connection and never closes it', async () => {
    const held: Socket[] = []
    const server = createServer((socket) => held.push(socket))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      expect(await sendCancelRequest(pg.Client, { host: '127.0.0.1', port }, busy, 200)).toBe(false)
    } finally {
      for (const socket of held) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('resolves false for a client that never connected (the server gave it no key)', async () => {
    expect(await sendCancelRequest(pg.Client, config, new pg.Client(config), 10_000)).toBe(false)
  })
})
