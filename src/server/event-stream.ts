/**
 * One subscriber of a job's Server-Sent Events, with bounded memory whatever the subscriber does.
 *
 * Rule: a frame is written only while the response's buffer has room. Once `write()` returns
 * false the stream is blocked until 'drain': meanwhile snapshots coalesce to the newest one (each
 * carries the whole job view, including the alerts firing now, so the newest one is all a slow
 * reader needs), alert events are dropped, and the end event waits. On 'drain' the newest
 * snapshot and the end event are written. So a subscriber that never reads holds at most the
 * response's high-water mark plus one frame, and one pending view. Every frame not written is
 * counted (`dropped`), and the server reports the counts as `sluice_monitoring_events_dropped_total`.
 */
import type { ServerResponse } from 'node:http'

export class EventStream {
  /** Frames this subscriber never got: replaced snapshots and alerts skipped while blocked. */
  dropped = 0
  private blocked = false
  private pendingSnapshot: unknown = undefined
  private pendingEnd: unknown = undefined

  constructor(
    readonly res: ServerResponse,
    private readonly onDrop: () => void,
  ) {
    res.on('drain', () => this.drain())
  }

  /** Bytes waiting in the response's buffer (not yet handed to the socket). */
  get queuedBytes(): number {
    return this.res.writableLength
  }

  send(event: 'snapshot' | 'alert' | 'end', data: unknown): void {
    if (this.res.writableEnded || this.res.destroyed) return
    if (this.blocked) {
      if (event === 'snapshot') {
        if (this.pendingSnapshot !== undefined) this.drop()
        this.pendingSnapshot = data
      } else if (event === 'end') {
        this.pendingEnd = data
      } else {
        this.drop()
      }
      return
    }
    this.write(event, data)
  }

  private write(event: string, data: unknown): void {
    if (!this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) this.blocked = true
  }

  private drain(): void {
    this.blocked = false
    const snapshot = this.pendingSnapshot
    const end = this.pendingEnd
    this.pendingSnapshot = undefined
    this.pendingEnd = undefined
    if (snapshot !== undefined) this.send('snapshot', snapshot)
    if (end !== undefined) this.send('end', end)
  }

  private drop(): void {
    this.dropped++
    this.onDrop()
  }
}
