/**
 * A connection of a `pg` pool held for one call, its queries run one after another, and the
 * running one cancelled on the server when the call's signal aborts.
 *
 * Concurrency rule: a CancelRequest names the backend, not the query. The connection goes back to
 * the pool only after the cancel sent for it has been delivered (the server has signalled the
 * backend), so a late cancel cannot stop the next user's query; a cancel that cannot be delivered
 * closes the connection at once instead.
 */
import type pg from 'pg'
import { sendCancelRequest } from './cancel-request.ts'

/** How to reach the server for a CancelRequest: the pool's client class and config. */
export interface CancelTarget {
  readonly Client: typeof pg.Client
  readonly config: pg.ClientConfig
  /** A cancel not delivered within this many ms closes the connection. */
  readonly timeoutMs: number
}

export class CancellableConnection {
  /** The query on the wire, until it settles. */
  private running: Promise<unknown> | null = null
  /** The CancelRequest sent for this connection, until delivered or given up. */
  private cancelling: Promise<void> | null = null
  private released = false
  /** Set when the connection reports an error: it must not go back to the pool. */
  private lost = false
  private readonly onAbort = (): void => this.cancel()
  private readonly onError = (): void => {
    this.lost = true
  }

  private constructor(
    private readonly client: pg.PoolClient,
    private readonly signal: AbortSignal | null,
    private readonly target: CancelTarget,
  ) {
    // The pool listens for a connection's errors only while it is idle: without this listener a
    // connection lost during a call would be an uncaught 'error' event.
    client.on('error', this.onError)
    signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  /** A connection from `pool` (the pool's own error when it cannot connect). */
  static async take(pool: pg.Pool, signal: AbortSignal | null, target: CancelTarget): Promise<CancellableConnection> {
    return new CancellableConnection(await pool.connect(), signal, target)
  }

  /** Runs one query; rejects with the signal's reason, without a query, once the signal has aborted. */
  async query(config: pg.QueryArrayConfig): Promise<pg.QueryArrayResult> {
    this.signal?.throwIfAborted()
    const running = this.client.query(config)
    this.running = running
    try {
      return await running
    } finally {
      this.running = null
    }
  }

  /**
   * Gives the connection back to the pool once a cancel sent for it is delivered; `reuse` false
   * (the call failed in a way that may have left it unsound) or a lost connection closes it.
   */
  async release(reuse: boolean): Promise<void> {
    this.signal?.removeEventListener('abort', this.onAbort)
    if (this.cancelling !== null) await this.cancelling
    this.giveBack(!reuse || this.lost)
  }

  private cancel(): void {
    if (this.running === null || this.cancelling !== null || this.released) return
    const { Client, config, timeoutMs } = this.target
    this.cancelling = sendCancelRequest(Client, config, this.client, timeoutMs).then((delivered) => {
      // Undelivered, the query may run on: closing the connection ends the call's share of it.
      if (!delivered) this.giveBack(true)
    })
  }

  private giveBack(close: boolean): void {
    if (this.released) return
    this.released = true
    this.client.removeListener('error', this.onError)
    this.client.release(close)
  }
}
