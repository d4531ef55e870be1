/**
 * Health of one thread (the main thread or a worker): event-loop delay (perf_hooks histogram, 20 ms
 * resolution), time spent in GC pauses (PerformanceObserver 'gc' entries) and V8 heap use. One
 * per thread, started with the job and read with every metrics snapshot.
 */
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

export interface ThreadStatsSnapshot {
  /** Worker index; -1 for the main thread. */
  worker: number
  eventLoopDelayP99Ms: number | null
  eventLoopDelayMaxMs: number | null
  /** Cumulative GC pause time, ms. */
  gcPauseMs: number
  heapUsedBytes: number
  heapLimitBytes: number
}

export class ThreadStats {
  private readonly loop: IntervalHistogram
  private readonly gc: PerformanceObserver
  private gcPauseMs = 0

  constructor(readonly worker: number) {
    this.loop = monitorEventLoopDelay({ resolution: 20 })
    this.loop.enable()
    this.gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.gcPauseMs += e.duration
    })
    this.gc.observe({ entryTypes: ['gc'] })
  }

  /** Reads and resets the event-loop histogram (so each snapshot covers the time since the last). */
  snapshot(): ThreadStatsSnapshot {
    const h = this.loop
    const has = h.count > 0
    const s: ThreadStatsSnapshot = {
      worker: this.worker,
      eventLoopDelayP99Ms: has ? h.percentile(99) / 1e6 : null,
      eventLoopDelayMaxMs: has ? h.max / 1e6 : null,
      gcPauseMs: this.gcPauseMs,
      heapUsedBytes: getHeapStatistics().used_heap_size,
      heapLimitBytes: getHeapStatistics().heap_size_limit,
    }
    h.reset()
    return s
  }

  stop(): void {
    this.loop.disable()
    this.gc.disconnect()
  }
}
