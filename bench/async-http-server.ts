/**
 * The loopback HTTP variant of the async benchmark's service, in its own process (so its work
 * does not run on the measured thread): `GET /<v>` answers `v + 1` after SERVICE_MS, keep-alive.
 * Prints `{"port":N}` once listening; ends with its parent's stdin.
 */
import { createServer } from 'node:http'
import { SERVICE_MS } from './async-service.ts'

const server = createServer((req, res) => {
  const v = Number((req.url ?? '/0').slice(1))
  setTimeout(() => res.end(String(v + 1)), SERVICE_MS)
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const a = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof a === 'object' && a !== null ? a.port : 0 })}\n`)
})
process.stdin.on('end', () => process.exit(0)).resume()
