/**
 * Health of one thread (the main thread or a worker): event-loop delay (perf_hooks histogram, 20 ms
 * resolution), time spent in GC pauses (PerformanceObserver 'gc' entries), V8 heap use and the
 * thread's own CPU time. One per thread, started with the job and read with every metrics snapshot.
 */
import { readFileSync } from 'node:fs'
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
  /** Cumulative CPU time of this thread (user + system), ms; null where the OS does not tell. */
  cpuMs: number | null
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
      cpuMs: threadCpuMs(),
    }
    h.reset()
    return s
  }

  stop(): void {
    this.loop.disable()
    this.gc.disconnect()
  }
}

/** Linux reports CPU time in clock ticks of 1/USER_HZ s; USER_HZ is 100 on every architecture Node runs on. */
const MS_PER_TICK = 10

/**
 * The calling thread's CPU time so far, ms, or null off Linux. Node 20 has no per-thread
 * `process.threadCpuUsage()` (`process.cpuUsage()` counts every thread of the process), so it reads
 * /proc/thread-self: `schedstat` (ns on the CPU) where the kernel keeps it, else `stat`'s utime and
 * stime (clock ticks). A synchronous read runs on this thread, so it is this thread's file. Called
 * once per snapshot (about twice a second), never on the hot path.
 */
export function threadCpuMs(): number | null {
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0])
    if (Number.isFinite(ns) && ns > 0) return ns / 1e6
  } catch {
    // No schedstat (kernel without CONFIG_SCHED_INFO): try stat.
  }
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1')
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15)
    return Number.isFinite(ticks) ? ticks * MS_PER_TICK : null
  } catch {
    return null
  }
}
