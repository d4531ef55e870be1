/**
 * The real servers the connector tests use. A test that needs one calls `requireService` in its
 * `beforeAll`: when the server is not listening the test fails (never skips) with the command that
 * starts it.
 */
import { createServer, connect, type AddressInfo } from 'node:net'

export const SERVICES = {
  kafka: { host: '127.0.0.1', port: 9092, uri: 'kafka://127.0.0.1:9092' },
  nats: { host: '127.0.0.1', port: 4222, uri: 'nats://127.0.0.1:4222' },
  postgres: { host: '127.0.0.1', port: 5432, uri: 'postgres://root@127.0.0.1:5432/test' },
  redis: { host: '127.0.0.1', port: 6379, uri: 'redis://127.0.0.1:6379' },
} as const

export type ServiceName = keyof typeof SERVICES

/** Resolves when the service accepts a TCP connection; throws a message naming the fix otherwise. */
export async function requireService(name: ServiceName): Promise<void> {
  const { host, port } = SERVICES[name]
  const ok = await new Promise<boolean>((resolve) => {
    const s = connect({ host, port })
    const done = (v: boolean): void => {
      s.destroy()
      resolve(v)
    }
    s.setTimeout(3000, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
  if (!ok) throw new Error(`${name} is not listening on ${host}:${port}: start the test services with \`bash scripts/services.sh up\` (see README, "Tests")`)
}

/** A name no other test or run uses: `prefix-<time>-<random>`, safe for topics, streams, keys and tables. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
}

/** A loopback port nothing listens on (one the system just gave out and freed): for "unreachable" tests. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
