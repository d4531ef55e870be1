/**
 * The hand-over between an HTTP source's buffer on the main thread (where the monitoring server
 * runs) and its reader on a worker thread, over the MessagePort the runtime gives both instances
 * (`Source.attachFeed`). The worker pulls: one request for at most one batch in flight, answered
 * as soon as the buffer has records. So outside the bounded buffer there is at most one batch on
 * the wire and one in the reader, and the buffer's bound is the whole job's.
 */
import type { MessagePort } from 'node:worker_threads'
import type { IngestBuffer } from './ingest-buffer.ts'
import type { PartitionProgress, SourceReader } from './spi.ts'

/** How long a read with nothing to take waits before returning 0, so the task stays responsive. */
const IDLE_WAKE_MS = 100

/** Waits until `subscribe`'s callback fires or IDLE_WAKE_MS pass, whichever is first. */
export function idleWait(subscribe: (wake: () => void) => () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let off = (): void => {}
    const done = (): void => {
      clearTimeout(timer)
      off()
      resolve()
    }
    const timer = setTimeout(done, IDLE_WAKE_MS)
    off = subscribe(done)
  })
}

/** What the two ends of a feed say: the worker asks for up to `max` records, the main thread sends them. */
type FeedMessage<T> =
  | { readonly type: 'pull'; readonly max: number }
  | { readonly type: 'records'; readonly records: T[]; readonly buffered: number }

/** Main thread: answers the reading worker's pull as soon as the buffer has records. */
export class FeedServer<T> {
  /** The records the worker waits for (0: none asked). */
  private wanted = 0
  private readonly off: () => void

  constructor(private readonly port: MessagePort, private readonly buffer: IngestBuffer<T>) {
    port.on('message', (m: FeedMessage<T>) => {
      if (m.type === 'pull') {
        this.wanted = m.max
        this.serve()
      }
    })
    // The job's other work keeps the process alive; the port must not once it has ended.
    port.unref()
    this.off = buffer.onAvailable(() => this.serve())
    port.on('close', () => this.off())
  }

  close(): void {
    this.off()
    this.port.close()
  }

  private serve(): void {
    if (this.wanted === 0 || this.buffer.length === 0) return
    const records: T[] = []
    this.buffer.take(records, this.wanted)
    this.wanted = 0
    this.port.postMessage({ type: 'records', records, buffered: this.buffer.length } satisfies FeedMessage<T>)
  }
}

/** A worker: pulls batches from the main thread's buffer, one request in flight at a time. */
export class FedReader<T> implements SourceReader<T> {
  private local: T[] = []
  private head = 0
  private requested = false
  private read_ = 0
  /** The main thread's buffer as its last answer said. */
  private behind = 0
  private readonly listeners = new Set<() => void>()

  constructor(private readonly port: MessagePort, private readonly where: string) {
    port.on('message', (m: FeedMessage<T>) => {
      if (m.type !== 'records') return
      this.local = m.records
      this.head = 0
      this.behind = m.buffered
      this.requested = false
      for (const l of this.listeners) l()
    })
    port.unref()
  }

  read(out: T[], max: number): number | Promise<number> {
    const n = this.drain(out, max)
    this.request(max)
    if (n > 0) return n
    return idleWait((wake) => {
      this.listeners.add(wake)
      return () => this.listeners.delete(wake)
    }).then(() => {
      const k = this.drain(out, max)
      this.request(max)
      return k
    })
  }

  position(): string {
    return `${this.where}: ${this.read_} records read`
  }

  progress(): readonly PartitionProgress[] {
    return [{ partition: 'buffer', position: `${this.read_} records read`, lag: this.behind + this.local.length - this.head }]
  }

  close(): void {
    this.port.close()
  }

  private drain(out: T[], max: number): number {
    const k = Math.min(max, this.local.length - this.head)
    for (let i = 0; i < k; i++) out.push(this.local[this.head + i])
    this.head += k
    this.read_ += k
    return k
  }

  /** Asks for the next batch once this one is used up, so one is on its way while the job works. */
  private request(max: number): void {
    if (this.requested || this.head < this.local.length) return
    this.requested = true
    this.port.postMessage({ type: 'pull', max } satisfies FeedMessage<T>)
  }
}
