/**
 * A broker-like source for monitoring tests: `partitions` partitions whose end grows by
 * `appendPerSecond` records each (from the wall clock, like a topic producers write to), read by
 * subtasks that take at most `readPerSecond` records each, so the lag grows when the producers are
 * faster. Partition p goes to subtask p % parallelism. It reports progress() per partition and a
 * connection() that is `connected`, except on subtask `reconnectingSubtask`, which reports being
 * stuck reconnecting with `lastError`. Nothing is sent anywhere: the data are the partition's
 * offsets.
 */
import type { ConnectionStatus, PartitionProgress, Source, SourceContext, SourceReader } from '../../src/connectors/spi.ts'

export interface LaggingSourceOptions {
  readonly partitions: number
  /** Records appended to each partition per second. */
  readonly appendPerSecond: number
  /** Records each subtask reads per second at most. */
  readonly readPerSecond: number
  /** This subtask reports `reconnecting` with `lastError`; the others are connected. */
  readonly reconnectingSubtask?: number
  readonly lastError?: string
}

export interface OffsetRecord { partition: number; offset: number }

const WAIT_MS = 10

export function laggingSource(o: LaggingSourceOptions): Source<OffsetRecord> {
  return {
    kind: 'lagging',
    bounded: false,
    splittable: true,
    open: (ctx: SourceContext) => new LaggingReader(o, ctx),
  }
}

class LaggingReader implements SourceReader<OffsetRecord> {
  private readonly mine: number[] = []
  private readonly offsets: number[] = []
  private readonly openedAt = Date.now()
  private readCount = 0
  private next = 0
  private readonly link: ConnectionStatus

  constructor(private readonly o: LaggingSourceOptions, ctx: SourceContext) {
    for (let p = ctx.subtaskIndex; p < o.partitions; p += ctx.parallelism) {
      this.mine.push(p)
      this.offsets.push(0)
    }
    this.link = ctx.subtaskIndex === o.reconnectingSubtask
      ? { state: 'reconnecting', lastError: o.lastError ?? null, since: this.openedAt }
      : { state: 'connected', lastError: null, since: this.openedAt }
  }

  read(out: OffsetRecord[], max: number): number | Promise<number> {
    const n = this.emit(out, max)
    if (n > 0 || this.mine.length === 0) return n
    return new Promise((resolve) => setTimeout(() => resolve(this.emit(out, max)), WAIT_MS))
  }

  /** Takes from the partitions in turn, within the read budget and what the producers have appended. */
  private emit(out: OffsetRecord[], max: number): number {
    const elapsedMs = Date.now() - this.openedAt
    const end = Math.floor((elapsedMs * this.o.appendPerSecond) / 1000)
    let budget = Math.min(max, Math.floor((elapsedMs * this.o.readPerSecond) / 1000) - this.readCount)
    let pushed = 0
    for (let tried = 0; budget > 0 && tried < this.mine.length; tried++) {
      const i = this.next
      this.next = (this.next + 1) % this.mine.length
      const take = Math.min(budget, end - this.offsets[i])
      for (let k = 0; k < take; k++) out.push({ partition: this.mine[i], offset: this.offsets[i] + k })
      this.offsets[i] += Math.max(0, take)
      budget -= Math.max(0, take)
      pushed += Math.max(0, take)
    }
    this.readCount += pushed
    return pushed
  }

  position(): string {
    return this.mine.map((p, i) => `orders/${p} offset ${this.offsets[i]}`).join(', ')
  }

  progress(): readonly PartitionProgress[] {
    const end = Math.floor(((Date.now() - this.openedAt) * this.o.appendPerSecond) / 1000)
    return this.mine.map((p, i) => ({ partition: `orders/${p}`, position: `offset ${this.offsets[i]}`, lag: end - this.offsets[i] }))
  }

  connection(): ConnectionStatus {
    return this.link
  }
}
