/**
 * Opening a `pg` connection with coded errors: an address that does not answer is
 * CONNECTOR_UNREACHABLE within the connect timeout, a refused login CONNECTOR_AUTH, a missing
 * database CONNECTOR_NOT_FOUND. Messages name the server without its password.
 */
import type pg from 'pg'
import { describeCause, SluiceError } from '../../errors.ts'
import { redactUri } from '../uri.ts'
import { postgresLibrary } from '../client-libraries.ts'

export type Connection = string | pg.ClientConfig

/** The server for messages: the URI without its password, or one built from the config. */
export function describeConnection(c: Connection): string {
  if (typeof c === 'string') return redactUri(c)
  if (c.connectionString !== undefined) return redactUri(c.connectionString)
  return `postgres://${c.user ?? ''}${c.user === undefined ? '' : '@'}${c.host ?? 'localhost'}:${c.port ?? 5432}/${c.database ?? ''}`
}

/** Fails with CONNECTOR_URI_INVALID unless `text` is a postgres:// or postgresql:// URI. */
export function checkConnectionString(text: string): void {
  let u: URL
  try {
    u = new URL(text)
  } catch {
    throw new SluiceError('CONNECTOR_URI_INVALID', `PostgreSQL connection "${redactUri(text)}": it is not a URI`)
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new SluiceError('CONNECTOR_URI_INVALID', `PostgreSQL connection "${redactUri(text)}": expected postgres://USER@HOST:PORT/DB, got ${u.protocol}//`)
  }
  if (u.hostname === '') throw new SluiceError('CONNECTOR_URI_INVALID', `PostgreSQL connection "${redactUri(text)}": it names no host`)
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE'])

/** A connected client, or a coded error. `onError` hears of a connection lost later. */
export async function connect(c: Connection, options: { applicationName: string; connectTimeoutMs: number; onError: (e: Error) => void }): Promise<pg.Client> {
  const base: pg.ClientConfig = typeof c === 'string' ? { connectionString: c } : c
  const { Client } = await postgresLibrary.load()
  const client = new Client({ connectionTimeoutMillis: options.connectTimeoutMs, application_name: options.applicationName, ...base })
  // Without a listener a dropped connection would be an uncaught 'error' event.
  client.on('error', options.onError)
  try {
    await client.connect()
  } catch (e) {
    await client.end().catch(() => undefined)
    throw connectError(describeConnection(c), e, options.connectTimeoutMs)
  }
  return client
}

export function connectError(where: string, e: unknown, timeoutMs: number, why = describeCause(e)): SluiceError {
  const code = (e as { code?: unknown }).code
  if (code === '28P01' || code === '28000') {
    return new SluiceError('CONNECTOR_AUTH', `PostgreSQL at ${where} refused the login: ${why}`, { cause: e })
  }
  if (code === '3D000') {
    return new SluiceError('CONNECTOR_NOT_FOUND', `PostgreSQL at ${where}: ${why}; create it (CREATE DATABASE) or name another in the URI`, { cause: e })
  }
  if ((typeof code === 'string' && UNREACHABLE.has(code)) || /timeout|terminated/i.test(why)) {
    return new SluiceError('CONNECTOR_UNREACHABLE', `cannot reach PostgreSQL at ${where} (waited at most ${timeoutMs} ms): ${why}`, { cause: e })
  }
  return new SluiceError('SINK_IO', `cannot connect to PostgreSQL at ${where}: ${why}`, { cause: e })
}
