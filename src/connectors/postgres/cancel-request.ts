/**
 * PostgreSQL's CancelRequest: a connection of its own that names a busy backend (by the process id
 * and secret key the server gave that backend's client at login) and asks the server to stop the
 * query the backend runs. The server reads the request, signals the backend and closes the
 * connection; a backend that is idle by then ignores the signal.
 *
 * node-postgres 8 has `Client.prototype.cancel(busy, query)`, which sends the same message, but it
 * reads the deprecated `Client.activeQuery`, and that prints a DeprecationWarning on the user's
 * stderr; so this sends it through a new client's connection itself, as `cancel` does.
 */
import type { EventEmitter } from 'node:events'
import type pg from 'pg'

/** What node-postgres keeps of a connected client's backend, not declared in its types. */
interface BackendKey {
  readonly processID: number | null
  readonly secretKey: number | null
}

/** The part of node-postgres's Connection that sends a CancelRequest, not declared in its types. */
interface CancelConnection extends EventEmitter {
  connect(portOrPath: number | string, host?: string): void
  cancel(processID: number, secretKey: number): void
  readonly stream: { destroy(): void }
}

/**
 * Asks the server to cancel the query `busy` is running, over a new connection made from `config`
 * (the busy client's). Resolves true once the request went out and the server closed the
 * connection (it has signalled the backend), false when it could not be delivered within
 * `timeoutMs` or the connection failed; never rejects, and no 'error' event escapes. A caller that
 * gets false cannot know the query stopped, and should close the busy connection.
 */
export function sendCancelRequest(Client: typeof pg.Client, config: pg.ClientConfig, busy: pg.Client, timeoutMs: number): Promise<boolean> {
  const { processID, secretKey } = busy as unknown as BackendKey
  if (processID === null || secretKey === null) return Promise.resolve(false)
  return new Promise((resolve) => {
    const canceller = new Client(config)
    const con = canceller.connection as unknown as CancelConnection
    let sent = false
    let failed = false
    const timer = setTimeout(() => {
      failed = true
      con.stream.destroy()
    }, timeoutMs)
    // The socket's 'close' (after an error too) is the connection's 'end'.
    con.on('error', () => {
      failed = true
    })
    con.once('end', () => {
      clearTimeout(timer)
      resolve(sent && !failed)
    })
    con.once('connect', () => {
      con.cancel(processID, secretKey)
      sent = true
    })
    // As node-postgres connects: a host that starts with / is the directory of a Unix socket.
    if (canceller.host.startsWith('/')) con.connect(`${canceller.host}/.s.PGSQL.${canceller.port}`)
    else con.connect(canceller.port, canceller.host)
  })
}
