/**
 * The task at the head of a chain that starts with a source. Each step reads one batch, stamps
 * event times with the watermark strategy, runs the chain and emits the new watermark. An
 * asynchronous read parks the task; a read of nothing counts towards the idleness timeout.
 */
import type { ConnectionStatus, DeadLetter, ErrorPolicy, PartitionProgress, Sink, SourceContext, SourcePosition, SourceReader } from '../../connectors/spi.ts'
import { SluiceError, describeCause, isSluiceError } from '../../errors.ts'
import { MAX_WATERMARK, NO_TIMESTAMP, type Batch } from '../../operators/types.ts'
import type { SourceNode } from '../../graph/logical.ts'
import type { Clock } from '../../time/clock.ts'
import type { WatermarkStrategy } from '../../time/watermarks.ts'
import type { DeadLetterRouter } from './dead-letters.ts'
import { OperatorMetrics } from '../../metrics/task-metrics.ts'
import { rejectRecord, type DeadLetterTarget, type RecordPolicy } from '../../operators/record-errors.ts'
import { timestampProblem } from './timestamp-problem.ts'
import { LatencyMarkerItem } from '../exchange/channel.ts'
import { Task, wallClockMs, type CompletedPart, type Scheduler } from './task.ts'

class SourceContextImpl implements SourceContext {
  readonly errorPolicy: RecordPolicy

  constructor(
    readonly sourceId: string,
    readonly subtaskIndex: number,
    readonly parallelism: number,
    readonly clock: Clock,
    policy: ErrorPolicy,
    deadLetter: Sink<DeadLetter> | undefined,
    letters: DeadLetterTarget,
    metrics: OperatorMetrics,
  ) {
    this.errorPolicy = { policy, deadLetter, letters, metrics }
  }

  reportBadRecord(raw: unknown, reason: string, position: string): void {
    rejectRecord(this.errorPolicy, 'SOURCE_MALFORMED_RECORD', `source "${this.sourceId}" rejected the record at ${position}: ${reason}`, { operator: this.sourceId, position, reason, record: raw })
  }
}

/**
 * A source's part of a checkpoint: its reader's position (null: not replayable), the largest event
 * time seen, and per partition (readers with per-partition watermarks) the largest seen in each.
 */
interface SavedSource {
  readonly position: SourcePosition | null
  readonly maxTimestamp: number | null
  readonly partitionMax?: (number | null)[]
}

/*
 * One read per step: a source reads one batch per scheduler step. In a thread shared with its
 * consumers, a source that reads ahead fills the channels, and records held in full channels
 * outlive V8's young generation — measured on q9 with 8 reads a step, GC rose from 12 % to 38 % of
 * the time and throughput halved. Shallow queues keep records short-lived. (Backpressure still
 * shows where a consumer cannot keep up; a thread saturated by one operator is the diagnosis'
 * thread rule.)
 */

export class SourceTask extends Task {
  readonly sourceMetrics: OperatorMetrics
  private reader: SourceReader<unknown> | null = null
  private readonly context: SourceContextImpl
  private readonly strategy: WatermarkStrategy<unknown> | undefined
  private readonly batchSize: number
  /** A batch read asynchronously, waiting to be processed. */
  private ready: { buf: unknown[]; n: number } | null = null
  private maxTimestamp = Number.NEGATIVE_INFINITY
  /** Highest event time in the last batch stamped. */
  private batchMax = Number.NEGATIVE_INFINITY
  /** Per partition of a reader with per-partition watermarks: highest event time and last activity; null otherwise. */
  private partitionMax: number[] | null = null
  private partitionActivity: number[] = []
  private lastActivity = 0
  private idle = false
  private untimed: number[] = []
  /**
   * Of the batch being run, the reader's index of each record when records without a valid
   * timestamp were taken out of it; null when the batch is as read.
   */
  private readIndex: number[] | null = null
  /** A checkpoint to take at the next step, or -1. */
  private checkpointDue = -1
  /** Latency markers: one every this many ms after a batch (0: none). */
  markerIntervalMs = 0
  private nextMarkerAt = 0
  /** The last read found nothing; the scheduler polls again soon. */
  polledEmpty = false

  constructor(
    readonly node: SourceNode,
    subtask: number,
    parallelism: number,
    clock: Clock,
    deadLetters: DeadLetterRouter,
    scheduler: Scheduler,
  ) {
    super(node.id, subtask, parallelism, clock, deadLetters, scheduler)
    this.sourceMetrics = new OperatorMetrics(node.id)
    this.context = new SourceContextImpl(node.id, subtask, parallelism, clock, node.onError, node.deadLetter, this, this.sourceMetrics)
    this.strategy = node.watermarks
    this.batchSize = node.batchSize
  }

  override async open(): Promise<void> {
    const saved = this.restore?.sources.get(this.id) as SavedSource | undefined
    try {
      this.reader = await (saved?.position === undefined || saved.position === null ? this.node.source.open(this.context) : this.node.source.open(this.context, saved.position))
      if (saved !== undefined && saved.maxTimestamp !== null) this.maxTimestamp = saved.maxTimestamp
      const partitions = this.reader.lastPartition === undefined ? undefined : this.reader.partitionCount?.()
      if (partitions !== undefined) {
        const was = saved?.partitionMax
        this.partitionMax = Array.from({ length: partitions }, (_, i) => (was !== undefined && was.length === partitions && was[i] !== null ? (was[i] as number) : Number.NEGATIVE_INFINITY))
        this.partitionActivity = new Array<number>(partitions).fill(this.clock.now())
      }
    } catch (e) {
      throw isSluiceError(e) ? e : new SluiceError('SOURCE_IO', `source "${this.id}" could not open: ${describeCause(e)}`, { cause: e })
    }
    this.lastActivity = this.clock.now()
    await super.open()
  }

  protected override countedMetrics(): OperatorMetrics[] {
    return [this.sourceMetrics, ...super.countedMetrics()]
  }

  position(): string {
    return this.reader?.position() ?? 'not opened'
  }

  /** Where the source's bad records go (also those that cannot cross threads). */
  get errorPolicy(): RecordPolicy {
    return this.context.errorPolicy
  }

  /** The reader's partitions (position and lag), for monitoring; null when it reports none. */
  progress(): readonly PartitionProgress[] | null {
    return this.reader?.progress?.() ?? null
  }

  /** The reader's link to its server, for monitoring; null for sources without one. */
  connection(): ConnectionStatus | null {
    return this.reader?.connection?.() ?? null
  }

  /** The reader's position (at a barrier, or at the end of input for the final checkpoint). */
  protected override sourcePositions(): Record<string, unknown> {
    const pm = this.partitionMax
    const saved: SavedSource = {
      position: this.reader?.snapshotPosition?.() ?? null,
      maxTimestamp: Number.isFinite(this.maxTimestamp) ? this.maxTimestamp : null,
      ...(pm === null ? {} : { partitionMax: pm.map((t) => (Number.isFinite(t) ? t : null)) }),
    }
    return { [this.id]: saved }
  }

  /** Asks for checkpoint `id`: taken at the next step, between two reads. */
  triggerCheckpoint(id: number): void {
    this.checkpointDue = id
    this.scheduler.wake()
  }

  /** Takes a due checkpoint, or reads one batch (see "One read per step" above) unless the outputs are full. */
  override step(): boolean {
    if (this.state !== 'running' || this.pending !== null) return false
    if (this.checkpointDue >= 0 && this.ready === null) {
      const id = this.checkpointDue
      this.checkpointDue = -1
      this.checkpoint(id, this.sourcePositions(), Date.now(), 0)
      return true
    }
    if (this.outputsFull()) {
      this.blockedOnOutput = true
      return false
    }
    this.blockedOnOutput = false
    if (this.ready !== null) {
      const { buf, n } = this.ready
      this.ready = null
      return this.handleRead(buf, n)
    }
    const buf: unknown[] = []
    let r: number | Promise<number>
    try {
      r = (this.reader as SourceReader<unknown>).read(buf, this.batchSize)
    } catch (e) {
      throw this.ioError(e)
    }
    if (typeof r === 'number') return this.handleRead(buf, r)
    this.park(
      r.then(
        (n) => {
          this.ready = { buf, n }
        },
        (e: unknown) => {
          throw this.ioError(e)
        },
      ),
    )
    // A read in flight is progress: the scheduler must not sleep past its settling.
    return true
  }

  private ioError(e: unknown): SluiceError {
    if (isSluiceError(e)) return e as SluiceError
    return new SluiceError('SOURCE_IO', `source "${this.id}" failed to read at ${this.position()}: ${describeCause(e)}`, { cause: e })
  }

  private handleRead(buf: unknown[], n: number): boolean {
    if (n < 0) {
      this.polledEmpty = false
      this.finish()
      return true
    }
    if (n === 0 || buf.length === 0) {
      this.polledEmpty = true
      this.checkIdle()
      return false
    }
    this.polledEmpty = false
    this.lastActivity = this.clock.now()
    if (this.idle) {
      this.idle = false
      this.setIdle(false)
    }
    const batch: Batch<unknown> = { records: buf, times: this.stamp(buf) }
    const count = batch.records.length
    this.sourceMetrics.recordsOut += count
    let markAt = -1
    if (this.markerIntervalMs > 0) {
      const t = wallClockMs()
      if (t >= this.nextMarkerAt) {
        markAt = t
        this.nextMarkerAt = t + this.markerIntervalMs
      }
    }
    if (count > 0) {
      if (this.links.length > 0) {
        // Until the next read the reader can say where each record of this batch was read.
        this.alignedLinks = (this.reader as SourceReader<unknown>).positionOf === undefined ? 0 : 1
        try {
          this.runFrom(0, batch, 0)
        } finally {
          this.alignedLinks = 0
          this.readIndex = null
        }
      } else {
        this.emitMain(batch)
      }
    }
    // Sent after the batch it was stamped before: its age on arrival includes that batch's trip.
    if (markAt >= 0) this.onLatencyMarker(new LatencyMarkerItem(markAt))
    if (this.strategy !== undefined) {
      const wm = this.watermarkBase(this.strategy) - this.strategy.maxOutOfOrdernessMs - 1
      if (wm > this.watermark() && wm < MAX_WATERMARK) this.advanceWatermark(wm)
    }
    this.afterWork()
    return true
  }

  /**
   * The event time the watermark trails: the highest seen, or with per-partition watermarks the
   * lowest of the partitions' highest, over partitions neither ended nor idle (by the strategy's
   * idle timeout); the highest seen when every partition is.
   */
  private watermarkBase(s: WatermarkStrategy<unknown>): number {
    const pm = this.partitionMax
    if (pm === null) return this.maxTimestamp
    const r = this.reader as SourceReader<unknown>
    const p = r.lastPartition?.() ?? -1
    const now = this.clock.now()
    if (p >= 0 && p < pm.length) {
      if (this.batchMax > pm[p]) pm[p] = this.batchMax
      this.partitionActivity[p] = now
    }
    const idleAfter = s.idleTimeoutMs
    let min = Number.POSITIVE_INFINITY
    for (let i = 0; i < pm.length; i++) {
      if (r.partitionEnded?.(i) === true) continue
      if (idleAfter !== undefined && now - this.partitionActivity[i] >= idleAfter) continue
      if (pm[i] < min) min = pm[i]
    }
    return min === Number.POSITIVE_INFINITY ? this.maxTimestamp : min
  }

  /** Event times of a batch; records with an invalid timestamp are removed and reported. */
  private stamp(records: unknown[]): number[] {
    this.readIndex = null
    const n = records.length
    const s = this.strategy
    if (s === undefined) {
      // Untimed records share one read-only array of NO_TIMESTAMP (operators only read times).
      if (this.untimed.length < n) this.untimed = new Array<number>(n).fill(NO_TIMESTAMP)
      return this.untimed
    }
    const times = new Array<number>(n)
    const ts = s.timestamp
    let max = Number.NEGATIVE_INFINITY
    let bad = 0
    for (let i = 0; i < n; i++) {
      let t: number
      try {
        t = ts(records[i])
      } catch (e) {
        t = Number.NaN
        this.reportUntimed(records, i, `timestamp function threw: ${describeCause(e)}`)
        bad++
        continue
      }
      if (typeof t !== 'number' || !Number.isFinite(t)) {
        this.reportUntimed(records, i, `TIMESTAMP_INVALID: ${timestampProblem(t)}`)
        times[i] = Number.NaN
        bad++
        continue
      }
      times[i] = t
      if (t > max) max = t
    }
    this.batchMax = max
    if (max > this.maxTimestamp) this.maxTimestamp = max
    if (bad > 0) {
      let w = 0
      const readIndex: number[] = []
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(times[i]) || times[i] === undefined) continue
        records[w] = records[i]
        times[w] = times[i]
        readIndex.push(i)
        w++
      }
      this.readIndex = readIndex
      records.length = w
      times.length = w
    }
    return times
  }

  /**
   * Record `i` of the batch just read has no valid timestamp: reported at its own position, with
   * the input it came from (the line as read) when the reader still has it.
   */
  private reportUntimed(records: unknown[], i: number, reason: string): void {
    const r = this.reader as SourceReader<unknown>
    const position = r.positionOf === undefined ? `the batch read up to ${this.position()}` : r.positionOf(i)
    this.context.reportBadRecord(r.rawOf?.(i) ?? records[i], reason, position)
  }

  sourcePositionOf(link: number, i: number): string | null {
    if (link >= this.alignedLinks) return null
    const r = this.reader as SourceReader<unknown>
    return r.positionOf?.(this.readIndex === null ? i : this.readIndex[i]) ?? null
  }

  private checkIdle(): void {
    const timeout = this.strategy?.idleTimeoutMs
    if (timeout === undefined || this.idle) return
    if (this.clock.now() - this.lastActivity >= timeout) {
      this.idle = true
      this.setIdle(true)
    }
  }

  /** When the source could next become idle, for the scheduler's wake-up. */
  idleDeadline(): number {
    const timeout = this.strategy?.idleTimeoutMs
    if (timeout === undefined || this.idle || !this.polledEmpty) return Number.POSITIVE_INFINITY
    return this.lastActivity + timeout
  }

  /** Also tells the reader the position saved in the completed checkpoint (a Kafka source commits its group's offsets). */
  protected override async commitParts(part: CompletedPart): Promise<void> {
    await super.commitParts(part)
    const saved = part.sources[this.id] as SavedSource | undefined
    const r = this.reader
    if (saved?.position == null || r === null || r.checkpointComplete === undefined) return
    try {
      await r.checkpointComplete(saved.position)
    } catch (e) {
      // Only progress reporting for tools outside the job: the checkpoint itself holds the position.
      process.stderr.write(`sluice: source "${this.id}" subtask ${this.subtask} could not report checkpoint progress to its broker: ${describeCause(e)}\n`)
    }
  }

  override async abort(flushSinks: boolean): Promise<void> {
    await super.abort(flushSinks)
    await this.closeReader()
  }

  async closeReader(): Promise<void> {
    const r = this.reader
    this.reader = null
    await r?.close?.()
  }
}
