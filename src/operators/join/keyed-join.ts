/**
 * Unbounded keyed inner join: every record is joined with all buffered records of the other side
 * that share its key, whichever arrives first, then buffered itself. With a TTL, a buffered
 * record is forgotten `ttlMs` after its own time (event time: once the watermark passes
 * time + ttl; processing time: by the clock), which bounds state for streams whose matches
 * arrive close together. Without a TTL state grows with the input; the caller must know that.
 */
import { firstOf } from '../../state/state-size.ts'
import { SluiceError } from '../../errors.ts'
import type { Batch, Operator, OperatorContext, Output } from '../types.ts'
import { minOfParts, readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { JoinBuffer, restoreSides, snapshotSides } from './buffered-side.ts'

const KIND = 'keyed-join'
/** Snapshot entry tags: [ordinal, tag, key, time stamp (event or processing time), record]. */

interface OperatorState {
  lastEviction: number
}

export interface KeyedJoinOptions {
  ttlMs?: number
  /** Which time the TTL counts in. Default 'event'. */
  ttlTime?: 'event' | 'processing'
}

export class KeyedJoinOperator<K, L, R, O> implements Operator<unknown, O> {
  private readonly left = new JoinBuffer<K, L>()
  private readonly right = new JoinBuffer<K, R>()
  private readonly ttlMs: number
  private readonly processingTtl: boolean
  private lastEviction = Number.NEGATIVE_INFINITY

  constructor(
    private readonly keyOf: readonly [(v: L) => K, (v: R) => K],
    private readonly fn: (left: L, right: R) => O,
    options: KeyedJoinOptions,
  ) {
    const ttl = options.ttlMs ?? Number.POSITIVE_INFINITY
    if (!(ttl > 0)) throw new SluiceError('JOB_INVALID_OPTION', `join ttlMs must be a positive number, got ${ttl}`)
    this.ttlMs = ttl
    this.processingTtl = options.ttlTime === 'processing'
  }

  processBatch(batch: Batch<unknown>, ctx: OperatorContext, out: Output<O>, input: number): void {
    const { records, times } = batch
    const n = records.length
    const fn = this.fn
    const now = this.processingTtl ? ctx.clock.now() : 0
    let i = 0
    while (i < n) {
      try {
        for (; i < n; i++) {
          const t = times[i]
          const stamp = this.processingTtl ? now : t
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
      } catch (e) {
        ctx.recordFailed(records[i], e)
        i++
      }
    }
    if (this.processingTtl) this.maybeEvict(now)
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
    const w = new SnapshotWriter(KIND, ctx.maxParallelism)
    snapshotSides(w, this.left as JoinBuffer<K, unknown>, this.right as JoinBuffer<K, unknown>)
    const state: OperatorState = { lastEviction: this.lastEviction }
    return w.finish(state)
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    const { operatorStates, entries } = readOwned(parts, owns, KIND)
    if (operatorStates.length === 0) return
    // Eviction runs on a cadence (every ttl/2 of progress), so which expired records still join
    // depends on when it last ran.
    this.lastEviction = minOfParts<OperatorState>(operatorStates, (s) => s.lastEviction)
    restoreSides(entries, this.left as JoinBuffer<K, unknown>, this.right as JoinBuffer<K, unknown>)
  }

  stateSample(max: number): unknown[] {
    return [...firstOf(this.left.byKey, max >> 1), ...firstOf(this.right.byKey, max >> 1)]
  }

  stateEntries(): number {
    return this.left.size + this.right.size
  }
}
