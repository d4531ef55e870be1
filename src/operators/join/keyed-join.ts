/**
 * Unbounded keyed inner join: every record is joined with all buffered records of the other side
 * that share its key, whichever arrives first, then buffered itself. With a TTL, a buffered
 * record is forgotten `ttlMs` after its own time (event time: once the watermark passes
 * time + ttl; processing time: by the clock), which bounds state for streams whose matches
 * arrive close together. Without a TTL state grows with the input; the caller must know that.
 */
import { SluiceError } from '../../errors.ts'
import type { StateBackend } from '../../state/backend.ts'
import { minOfParts, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { openState } from '../operator-state.ts'
import { forEachRecord, type RecordLoop } from '../record-loop.ts'
import type { Batch, Operator, OperatorContext, Output } from '../types.ts'
import { JoinBuffer, restoreFormat2, type Entry } from './buffered-side.ts'

const KIND = 'keyed-join'

interface OperatorState {
  lastEviction: number
}

export interface KeyedJoinOptions {
  ttlMs?: number
  /** Which time the TTL counts in. Default 'event'. */
  ttlTime?: 'event' | 'processing'
}

/** The join's TTL (infinite when not given); JOIN_INVALID unless it is a positive number. */
export function checkJoinTtl(ttlMs: number | undefined): number {
  const ttl = ttlMs ?? Number.POSITIVE_INFINITY
  if (!(ttl > 0)) throw new SluiceError('JOIN_INVALID', `join ttlMs must be a positive number, got ${ttl}`)
  return ttl
}

/**
 * Buffered records carry a time stamp, their event time or (processing-time TTL) the processing
 * time they arrived at.
 */
export class KeyedJoinOperator<K, L, R, O> implements Operator<unknown, O>, RecordLoop<unknown, O> {
  at = 0
  private state!: StateBackend
  private left!: JoinBuffer<K, L>
  private right!: JoinBuffer<K, R>
  /** Processing time of the batch being processed. */
  private batchNow = 0
  private readonly ttlMs: number
  private readonly processingTtl: boolean
  private lastEviction = Number.NEGATIVE_INFINITY

  constructor(
    private readonly keyOf: readonly [(v: L) => K, (v: R) => K],
    private readonly fn: (left: L, right: R) => O,
    options: KeyedJoinOptions,
  ) {
    this.ttlMs = checkJoinTtl(options.ttlMs)
    this.processingTtl = options.ttlTime === 'processing'
  }

  open(ctx: OperatorContext): void {
    this.state = openState(ctx)
    this.left = new JoinBuffer(this.state.keyed<K, Entry<L>[]>('left'))
    this.right = new JoinBuffer(this.state.keyed<K, Entry<R>[]>('right'))
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, out: Output<O>, input: number): void {
    if (this.processingTtl) this.batchNow = ctx.clock.now()
    forEachRecord(this, batch, ctx, out, input)
    if (this.processingTtl) this.maybeEvict(this.batchNow)
  }

  records(batch: Batch<unknown>, from: number, _ctx: OperatorContext, out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    const fn = this.fn
    const processing = this.processingTtl
    const now = this.batchNow
    for (let i = from; i < n; i++) {
      this.at = i
      const t = times[i]
      const stamp = processing ? now : t
      if (input === 0) {
        const l = records[i] as L
        const k = this.keyOf[0](l)
        const others = this.right.get(k)
        if (others !== undefined) for (const r of others) out.emit(fn(l, r.value), Math.max(t, r.time))
        this.left.add(k, l, stamp)
      } else {
        const r = records[i] as R
        const k = this.keyOf[1](r)
        const others = this.left.get(k)
        if (others !== undefined) for (const l of others) out.emit(fn(l.value, r), Math.max(t, l.time))
        this.right.add(k, r, stamp)
      }
    }
  }

  private maybeEvict(now: number): void {
    if (this.ttlMs === Number.POSITIVE_INFINITY || now - this.lastEviction < this.ttlMs / 2) return
    this.lastEviction = now
    const cutoff = now - this.ttlMs
    this.left.evict((t) => t <= cutoff)
    this.right.evict((t) => t <= cutoff)
  }

  onWatermark(watermark: number): void {
    if (!this.processingTtl && watermark !== Number.POSITIVE_INFINITY) this.maybeEvict(watermark)
  }

  snapshotState(ctx: SnapshotContext): OperatorSnapshot {
    const marks: OperatorState = { lastEviction: this.lastEviction }
    return this.state.snapshot(KIND, ctx.maxParallelism, marks)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    const marks = this.state.restore(parts, owns, KIND, (e) => restoreFormat2(e, this.left as JoinBuffer<K, unknown>, this.right as JoinBuffer<K, unknown>))
    if (marks.length === 0) return
    // Eviction runs on a cadence (every ttl/2 of progress), so which expired records still join
    // depends on when it last ran.
    this.lastEviction = minOfParts<OperatorState>(marks, (s) => s.lastEviction)
  }

  stateSample(max: number): unknown[] {
    return this.state?.sample(max) ?? []
  }

  stateEntries(): number {
    return this.state?.entryCount() ?? 0
  }
}
