import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort, requireService, SERVICES } from '../../../test/support/services.ts'
import { CancellableConnection, type CancelTarget } from './cancellable-connection.ts'

const config: pg.ClientConfig = { connectionString: SERVICES.postgres.uri }
const target: CancelTarget = { Client: pg.Client, config, timeoutMs: 10_000 }
let db: pg.Client
const pools: pg.Pool[] = []

beforeAll(async () => {
  await requireService('postgres')
  db = new pg.Client(config)
  await db.connect()
})

afterAll(async () => {
  for (const pool of pools) await pool.end()
  await db?.end()
})

function pool(): pg.Pool {
  const p = new pg.Pool({ ...config, max: 1 })
  pools.push(p)
  return p
}

async function backendOf(c: CancellableConnection): Promise<number> {
  return (await c.query({ text: 'SELECT pg_backend_pid()', rowMode: 'array' })).rows[0][0] as number
}

/** Resolves once backend `pid` runs a query (or, with `active` false, no longer does); a 20 s deadline. */
async function untilActive(pid: number, active: boolean): Promise<void> {
  for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 10))) {
    const res = await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid])
    if ((res.rows[0].n === '1') === active) return
    if (Date.now() > deadline) throw new Error(`backend ${pid} did not become ${active ? 'active' : 'idle'} within 20 s`)
  }
}

describe('CancellableConnection', () => {
  it("cancels the running query when the signal aborts, then goes back to the pool sound (after the cancel is delivered)", async () => {
    const p = pool()
    const controller = new AbortController()
    const c = await CancellableConnection.take(p, controller.signal, target)
    const pid = await backendOf(c)
    const sleeping = c.query({ text: 'SELECT pg_sleep(30)', rowMode: 'array' })
    await untilActive(pid, true)
    controller.abort(new Error('timed out'))
    await expect(sleeping).rejects.toMatchObject({ code: '57014' })
    await expect(c.query({ text: 'SELECT 1', rowMode: 'array' })).rejects.toThrow('timed out')
    await c.release(true)
    expect({ total: p.totalCount, idle: p.idleCount }).toEqual({ total: 1, idle: 1 })
    const next = await CancellableConnection.take(p, null, target)
    expect(await backendOf(next)).toBe(pid)
    await next.release(true)
  })

  it('closes the connection when the cancel cannot be delivered: the query ends for the caller, the pool drops the connection', async () => {
    const p = pool()
    const controller = new AbortController()
    const unreachable: CancelTarget = { ...target, config: { host: '127.0.0.1', port: await closedPort() } }
    const c = await CancellableConnection.take(p, controller.signal, unreachable)
    const pid = await backendOf(c)
    const sleeping = c.query({ text: 'SELECT pg_sleep(30)', rowMode: 'array' })
    await untilActive(pid, true)
    controller.abort(new Error('timed out'))
    await expect(sleeping).rejects.toThrow(/Connection terminated/)
    await c.release(true)
    expect(p.totalCount).toBe(0)
    // Nothing reached the server: its backend sleeps on until it is ended.
    await db.query('SELECT pg_terminate_backend($1)', [pid])
  })

  it('release(false) closes the connection; release(true) without an abort keeps it', async () => {
    const p = pool()
    const c = await CancellableConnection.take(p, null, target)
    const pid = await backendOf(c)
    await c.release(true)
    const again = await CancellableConnection.take(p, null, target)
    expect(await backendOf(again)).toBe(pid)
    await again.release(false)
    expect(p.totalCount).toBe(0)
  })
})
