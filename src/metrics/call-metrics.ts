/**
 * Counters of an asynchronous operator's calls to a service (mapAsync, mapAsyncBatch, lookupJoin):
 * updated per call, never per record of a batch. `fullMs` is the time every slot was in use, the
 * signal that the service (or the concurrency) limits the job.
 */
import { Histogram } from './histogram.ts'

export class CallMetrics {
  /** Attempts started, retries included (a batch is one call). */
  calls = 0
  /** Records those attempts carried. */
  callRecords = 0
  /** Attempts that succeeded. */
  succeeded = 0
  /** Records whose call failed for good (after its retries): handed to the error policy. */
  failures = 0
  /** Attempts that timed out (each may have been retried). */
  timeouts = 0
  /** Attempts started again after a failure or timeout. */
  retries = 0
  /** Calls in flight now. */
  inFlight = 0
  /** Records taken in and not yet emitted or rejected (in calls, waiting for a slot, a batch, or their turn). */
  held = 0
  /** Cumulative ms during which all `capacity` slots were in use. */
  fullMs = 0
  /** Since when all slots are in use (performance.now()); -1 while not full. */
  fullSince = -1
  /** Lookup cache (lookupJoin): hits, misses and entries; hits + misses = 0 without a cache. */
  cacheHits = 0
  cacheMisses = 0
  cacheEntries = 0
  /** Latency of successful and failed attempts alike, ms (a timed-out attempt counts its timeout). */
  readonly latency = new Histogram()

  constructor(
    /** Calls allowed in flight per subtask (the `concurrency` option). */
    readonly capacity: number,
    /** Records per call at most (1 unless batched). */
    readonly maxBatch: number,
  ) {}

  /** In flight changed to `n`: keeps fullMs. */
  setInFlight(n: number, now: number): void {
    this.inFlight = n
    if (n >= this.capacity) {
      if (this.fullSince < 0) this.fullSince = now
    } else if (this.fullSince >= 0) {
      this.fullMs += now - this.fullSince
      this.fullSince = -1
    }
  }

  snapshot(now: number): CallMetricsSnapshot {
    const full = this.fullSince >= 0 ? this.fullMs + (now - this.fullSince) : this.fullMs
    return {
      calls: this.calls, callRecords: this.callRecords, succeeded: this.succeeded, failures: this.failures,
      timeouts: this.timeouts, retries: this.retries, inFlight: this.inFlight, held: this.held,
      capacity: this.capacity, maxBatch: this.maxBatch, fullMs: full,
      cacheHits: this.cacheHits, cacheMisses: this.cacheMisses, cacheEntries: this.cacheEntries,
      latency: this.latency.sparse(), latencySumMs: this.latency.sumMs, latencyMaxMs: this.latency.maxMs,
    }
  }
}

/** An asynchronous operator subtask's calls, in its OperatorMetricsSnapshot (`calls`). Counters are cumulative since the run began. */
export interface CallMetricsSnapshot {
  calls: number
  callRecords: number
  succeeded: number
  failures: number
  timeouts: number
  retries: number
  /** Gauges: calls in flight now, and records held (see CallMetrics.held). */
  inFlight: number
  held: number
  /** The `concurrency` option, and records per call at most. */
  capacity: number
  maxBatch: number
  /** Cumulative ms with every slot in use. */
  fullMs: number
  cacheHits: number
  cacheMisses: number
  cacheEntries: number
  /** Attempt latency: cumulative histogram (sparse [bucket, count, …], metrics/histogram.ts), sum and largest, ms. */
  latency: number[]
  latencySumMs: number
  latencyMaxMs: number
}
