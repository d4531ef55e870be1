/**
 * The asynchronous operator under mapAsync, flatMapAsync, mapAsyncBatch and lookupJoin: it calls
 * a function that returns a promise for each record (or each batch of records), with at most
 * `concurrency` calls in flight, and emits the results in input order or as they complete
 * (held-records.ts). It is the head of its task (AsyncStage): the task takes input only while it
 * has room, and drains it at each step. Promise callbacks only record the outcome and wake the
 * scheduler; results, retries, timeouts and errors are all handled on the task's turn.
 *
 * Time: deadlines (timeouts, retry backoff, a batch's maxWaitMs) are on the operator's clock and
 * come due through processing-time callbacks, so a ManualClock drives them in tests; call
 * latency is measured with performance.now() on the system clock.
 *
 * Checkpoints: the records held (in calls, waiting, completed but not yet emitted) are the
 * operator's state; a restore calls them again. Calls are at-least-once; output is exactly-once.
 */
import { SluiceError, describeCause, isSluiceError } from '../../errors.ts'
import { CallMetrics } from '../../metrics/call-metrics.ts'
import { isManualClock, type Clock } from '../../time/clock.ts'
import { minOfParts, readOwned, SnapshotWriter, type KeyGroupFilter, type OperatorSnapshot, type SnapshotContext } from '../../state/snapshot.ts'
import { keyGroupOf, subtaskOfKeyGroup } from '../../state/key-groups.ts'
import type { AsyncStage, Batch, Operator, OperatorContext, Output } from '../types.ts'
import { Attempt, AttemptContext, checkResult, safeRetryOn } from './attempt.ts'
import { HeldRecord, HeldRecords } from './held-records.ts'
import { NO_OUTPUT } from './no-output.ts'
import { RecordFailure } from './record-failure.ts'
import { backoffDelay, capacityOf, type CallContext, type ResolvedAsyncOptions } from './options.ts'

const KIND = 'async'

/** What the operator calls: one record at a time, or a batch. */
export type AsyncCall =
  | { readonly kind: 'map' | 'flatMap'; readonly fn: (value: unknown, call: CallContext) => unknown }
  | { readonly kind: 'batch'; readonly fn: (values: unknown[], call: CallContext) => unknown }

export interface AsyncOperatorParts {
  /** The name users gave the method (for messages): "mapAsync", "lookupJoin", … */
  readonly method: string
  readonly call: AsyncCall
  readonly options: ResolvedAsyncOptions
  /** The key of a record (keyed streams): keyOrder and the snapshot's key groups. */
  readonly keyOf: ((v: unknown) => unknown) | null
  /** Per subtask, at open: a lookup join's cache reports its counters into `metrics` and expires entries on `clock`. */
  readonly open?: (metrics: CallMetrics, clock: Clock) => void
  /** At the end (or a stop): a lookup join closes its table. */
  readonly close?: () => Promise<void> | void
}

export class AsyncOperator implements Operator<unknown, unknown>, AsyncStage {
  readonly asyncStage: AsyncStage = this
  wake: () => void = () => {}
  ready = false
  overtaken: readonly Batch<unknown>[] | null = null
  private readonly o: ResolvedAsyncOptions
  private readonly held: HeldRecords
  /** Records waiting for a slot (or for their batch to fill), oldest first. */
  private waiting: HeldRecord[] = []
  private waitingHead = 0
  /** Attempts in flight, oldest first: their deadlines increase, so the head times out first. */
  private oldest: Attempt | null = null
  private newest: Attempt | null = null
  /** Attempts that failed and wait for their backoff. */
  private retrying: Attempt[] = []
  /** Slots in use: attempts in flight plus those waiting to retry. */
  private slots = 0
  /** Attempts settled by their promise since the last drain. */
  private settledQueue: Attempt[] = []
  /** Keys with a record in progress (keyOrder): key → the last record of that key held. */
  private readonly keyTails = new Map<unknown, HeldRecord>()
  private readonly capacity: number
  private ordinal = 0
  private lastWatermark = Number.NEGATIVE_INFINITY
  private requested = Number.POSITIVE_INFINITY
  private ending = false
  private ctx: OperatorContext | null = null
  private metrics: CallMetrics
  private ownKey: number | null = null
  private hrNow: () => number = () => performance.now()

  constructor(private readonly parts: AsyncOperatorParts) {
    const o = (this.o = parts.options)
    this.held = new HeldRecords(o.ordered)
    this.capacity = capacityOf(o)
    this.metrics = new CallMetrics(o.concurrency, o.maxBatch)
  }

  open(ctx: OperatorContext): void {
    this.ctx = ctx
    // The runtime's context carries the operator's metrics (OperatorContextImpl): the calls join them.
    const m = (ctx as { metrics?: { calls: CallMetrics | null } }).metrics
    if (m !== undefined) m.calls = this.metrics
    if (isManualClock(ctx.clock)) this.hrNow = () => ctx.clock.now()
    this.parts.open?.(this.metrics, ctx.clock)
  }

  // ---- AsyncStage --------------------------------------------------------------------------

  full(): boolean {
    return this.held.size >= this.capacity
  }

  room(): number {
    return this.capacity - this.held.size
  }

  isEmpty(): boolean {
    return this.held.isEmpty()
  }

  // ---- input --------------------------------------------------------------------------------

  processBatch(batch: Batch<unknown>, ctx: OperatorContext): void {
    const { records, times } = batch
    const n = records.length
    const now = this.o.maxBatch > 1 ? ctx.clock.now() : 0
    for (let i = 0; i < n; i++) this.admit(records[i], times[i], ++this.ordinal, now)
    this.dispatch(ctx)
  }

  private admit(record: unknown, time: number, ordinal: number, now: number): void {
    // Only keyOrder needs a record's key as it comes in; a snapshot computes the others' keys.
    const key = this.o.keyOrder ? (this.parts.keyOf as (v: unknown) => unknown)(record) : undefined
    const h = this.held.add(record, time, ordinal, key)
    h.arrivedAt = now
    this.metrics.held = this.held.size
    if (this.o.keyOrder) {
      const tail = this.keyTails.get(key)
      this.keyTails.set(key, h)
      if (tail !== undefined) {
        tail.keyNext = h
        return
      }
    }
    this.waiting.push(h)
  }

  onWatermark(wm: number): void {
    this.lastWatermark = wm
    this.held.addWatermark(wm)
    this.ready = true
  }

  finish(ctx: OperatorContext): void {
    this.ending = true
    this.dispatch(ctx)
    this.ready = true
  }

  // ---- calls --------------------------------------------------------------------------------

  private waitingCount(): number {
    return this.waiting.length - this.waitingHead
  }

  /** Starts calls while slots are free; a batch that is not full waits for maxWaitMs unless the input ended. */
  private dispatch(ctx: OperatorContext): void {
    const { concurrency, maxBatch, maxWaitMs } = this.o
    while (this.slots < concurrency) {
      const n = this.waitingCount()
      if (n === 0) break
      if (n < maxBatch && !this.ending && maxWaitMs > 0) {
        const due = this.waiting[this.waitingHead].arrivedAt + maxWaitMs
        if (ctx.clock.now() < due) {
          this.requestAt(ctx, due)
          break
        }
      }
      const take = Math.min(n, maxBatch)
      const recs = this.waiting.slice(this.waitingHead, this.waitingHead + take)
      this.waitingHead += take
      this.slots++
      this.start(new Attempt(recs, 1), ctx)
    }
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead)
      this.waitingHead = 0
    }
    this.metrics.setInFlight(this.slots, this.hrNow())
  }

  private start(a: Attempt, ctx: OperatorContext): void {
    const m = this.metrics
    m.calls++
    m.callRecords += a.records.length
    a.startedAt = this.hrNow()
    if (this.o.timeoutMs > 0) {
      a.deadline = ctx.clock.now() + this.o.timeoutMs
      this.requestAt(ctx, a.deadline)
    }
    const t = this.newest
    if (t === null) this.oldest = a
    else {
      t.next = a
      a.prev = t
    }
    this.newest = a
    const callCtx: CallContext = new AttemptContext(a)
    let p: unknown
    try {
      const c = this.parts.call
      p = c.kind === 'batch' ? c.fn(a.records.map((h) => h.record), callCtx) : c.fn(a.records[0].record, callCtx)
    } catch (e) {
      p = Promise.reject(e)
    }
    Promise.resolve(p).then(
      (v) => this.settle(a, true, v),
      (e: unknown) => this.settle(a, false, e),
    )
  }

  /** A promise callback: record the outcome and ask for a step. */
  private settle(a: Attempt, ok: boolean, value: unknown): void {
    if (a.settled) return
    a.settled = true
    a.ok = ok
    a.value = value
    this.settledQueue.push(a)
    this.ready = true
    this.wake()
  }

  private unlinkAttempt(a: Attempt): void {
    if (a.prev === null) this.oldest = a.next
    else a.prev.next = a.next
    if (a.next === null) this.newest = a.prev
    else a.next.prev = a.prev
    a.prev = a.next = null
  }

  private requestAt(ctx: OperatorContext, t: number): void {
    if (t >= this.requested && this.requested > ctx.clock.now()) return
    this.requested = t
    ctx.requestProcessingTimeCallback(t)
  }

  /** Timeouts, retries whose backoff ended, and batches whose wait ended. */
  onProcessingTime(now: number, ctx: OperatorContext): void {
    this.requested = Number.POSITIVE_INFINITY
    for (let a = this.oldest; a !== null && a.deadline <= now; a = this.oldest) {
      this.unlinkAttempt(a)
      if (a.settled) continue
      a.settled = true
      this.metrics.timeouts++
      const err = new SluiceError('ASYNC_TIMEOUT', `${this.parts.method} "${ctx.operatorId}": no answer within timeoutMs ${this.o.timeoutMs} ms (attempt ${a.attempt})`)
      a.abort(err)
      a.ok = false
      a.value = err
      this.settledQueue.push(a)
      this.ready = true
    }
    if (this.oldest !== null) this.requestAt(ctx, this.oldest.deadline)
    if (this.retrying.length > 0) {
      const still: Attempt[] = []
      for (const a of this.retrying) {
        if (a.retryAt <= now) this.start(new Attempt(a.records, a.attempt + 1), ctx)
        else {
          still.push(a)
          this.requestAt(ctx, a.retryAt)
        }
      }
      this.retrying = still
    }
    this.dispatch(ctx)
  }

  // ---- results ------------------------------------------------------------------------------

  drain(ctx: OperatorContext, out: Output<unknown>): number {
    this.ready = false
    const settled = this.settledQueue
    this.settledQueue = []
    const completed: HeldRecord[] = []
    const now = this.hrNow()
    for (const a of settled) this.complete(a, ctx, completed, now)
    this.dispatch(ctx)
    const released = this.held.release(completed, (h) => this.leave(h, ctx, out))
    this.metrics.held = this.held.size
    return released
  }

  private complete(a: Attempt, ctx: OperatorContext, completed: HeldRecord[], now: number): void {
    if (a.prev !== null || this.oldest === a) this.unlinkAttempt(a)
    const m = this.metrics
    m.latency.record(now - a.startedAt)
    const recs = a.records
    if (a.ok) {
      const bad = checkResult(this.parts.call.kind, this.parts.method, this.ctx?.operatorId ?? '', a.value, recs.length)
      if (bad === null) {
        m.succeeded++
        this.slots--
        const batch = this.parts.call.kind === 'batch'
        for (let i = 0; i < recs.length; i++) {
          const v = batch ? (a.value as unknown[])[i] : a.value
          if (v instanceof RecordFailure) {
            m.failures++
            this.done(recs[i], undefined, { err: v.cause, attempts: 0 }, completed)
          } else this.done(recs[i], v, null, completed)
        }
        return
      }
      a.ok = false
      a.value = bad
    }
    const err = a.value
    const r = this.o.retry
    if (!(isSluiceError(err) && err.code === 'ASYNC_RESULT_INVALID') && a.attempt < r.attempts && (r.retryOn === null || safeRetryOn(r.retryOn, err))) {
      m.retries++
      a.retryAt = ctx.clock.now() + backoffDelay(r, a.attempt, Math.random())
      this.retrying.push(a)
      this.requestAt(ctx, a.retryAt)
      return
    }
    this.slots--
    m.failures += recs.length
    for (const h of recs) this.done(h, undefined, { err, attempts: a.attempt }, completed)
  }

  private done(h: HeldRecord, result: unknown, error: { err: unknown; attempts: number } | null, completed: HeldRecord[]): void {
    h.done = true
    h.result = result
    h.error = error
    completed.push(h)
    if (this.o.keyOrder) {
      const next = h.keyNext
      if (next !== null) this.waiting.push(next)
      else if (this.keyTails.get(h.key) === h) this.keyTails.delete(h.key)
    }
  }

  private leave(h: HeldRecord, ctx: OperatorContext, out: Output<unknown>): void {
    const e = h.error as { err: unknown; attempts: number } | null
    if (e !== null) {
      const why = describeCause(e.err)
      // attempts 0: the call answered, failing this record alone (failRecord).
      const reason = e.attempts === 0 ? `the call failed this record: ${why}` : e.attempts > 1 ? `call failed after ${e.attempts} attempts: ${why}` : `call failed: ${why}`
      const position = h.ordinal < 0 ? 'a record restored from a checkpoint' : null
      ctx.rejectAt?.(h.record, 'ASYNC_CALL_FAILED', `${this.parts.method} "${ctx.operatorId}"`, reason, h.ordinal, position, e.err)
      return
    }
    const kind = this.parts.call.kind
    const r = h.result
    if (kind === 'flatMap') {
      for (const v of r as Iterable<unknown>) out.emit(v, h.time)
    } else if (r !== NO_OUTPUT) out.emit(r, h.time)
  }

  // ---- checkpoints --------------------------------------------------------------------------

  snapshotState(sctx: SnapshotContext): OperatorSnapshot {
    const w = new SnapshotWriter(KIND, sctx.maxParallelism)
    const keyOf = this.parts.keyOf
    const own = keyOf === null ? this.ownKeyFor(sctx.maxParallelism) : 0
    for (const h of this.held.records()) w.add(0, keyOf === null ? own : keyOf(h.record), h.record, h.time)
    for (const b of this.overtaken ?? []) {
      for (let i = 0; i < b.records.length; i++) w.add(0, keyOf === null ? own : keyOf(b.records[i]), b.records[i], b.times[i])
    }
    return w.finish({ watermark: this.lastWatermark })
  }

  restoreState(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter, ctx: OperatorContext): void {
    const restored = readOwned(parts, owns, KIND)
    for (const e of restored.entries) this.admit(e[3], e[4] as number, -1, ctx.clock.now())
    const wm = minOfParts<{ watermark: number }>(restored.operatorStates, (s) => s.watermark)
    if (this.held.size > 0 && wm > Number.NEGATIVE_INFINITY && wm < Number.POSITIVE_INFINITY) this.held.addWatermark(wm)
    this.ready = this.held.size > 0
  }

  /** A key whose key group this subtask owns: a non-keyed operator's records stay with their subtask. */
  private ownKeyFor(maxParallelism: number): number {
    if (this.ownKey !== null) return this.ownKey
    const ctx = this.ctx as OperatorContext
    let k = 0
    while (subtaskOfKeyGroup(keyGroupOf(k, maxParallelism), maxParallelism, ctx.parallelism) !== ctx.subtaskIndex) k++
    this.ownKey = k
    return k
  }

  stateEntries(): number {
    return this.held.size
  }

  pendingTimers(): number {
    return this.retrying.length
  }

  close(): void {
    const err = new SluiceError('JOB_CANCELLED', `${this.parts.method} "${this.ctx?.operatorId ?? ''}": the job stopped`)
    for (let a = this.oldest; a !== null; a = a.next) {
      a.settled = true
      a.abort(err)
    }
    this.oldest = this.newest = null
    this.retrying = []
    const closed = this.parts.close?.()
    if (closed instanceof Promise) closed.catch(() => {})
  }
}
