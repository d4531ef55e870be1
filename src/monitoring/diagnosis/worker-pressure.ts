/** Rule 6: event-loop and GC pressure (current values only: samples carry no worker metrics). */
import type { Context, Scored } from './context.ts'
import { names, onWorkers } from './text.ts'

export function workerPressure(ctx: Context): Scored[] {
  return ctx.view.workers.flatMap((w): Scored[] => {
    const where = w.worker === -1 ? 'the main thread' : `worker ${w.worker}`
    const running = ctx.view.operators.filter((op) => op.subtasks.some((s) => s.worker === w.worker)).map((op) => op.id)
    const runs = running.length === 0 ? '' : ` (runs ${names(running)})`
    const out: Scored[] = []
    const delay = w.eventLoopDelayP99Ms
    if (delay !== null && delay > ctx.o.eventLoopDelayP99Ms) {
      out.push({
        score: delay / ctx.o.eventLoopDelayP99Ms,
        finding: {
          kind: 'event-loop', severity: 'warning', operator: null, action: null,
          title: `the event loop of ${where}${runs} is delayed ${Math.round(delay)} ms at p99`,
          evidence: { worker: w.worker, eventLoopDelayP99Ms: Math.round(delay), ...(w.eventLoopDelayMaxMs === null ? {} : { eventLoopDelayMaxMs: Math.round(w.eventLoopDelayMaxMs) }) },
          recommendation: `a long synchronous step blocks ${where}: use smaller batches (\`batchSize\` in a source's options), split heavy per-record work, or spread its operators over more threads ${onWorkers(Math.max(2, ctx.view.workerCount * 2))}`,
        },
      })
    }
    if (w.gcPauseMsPerSecond > ctx.o.gcPauseMsPerSecond) {
      const heapPercent = w.heapLimitBytes > 0 ? Math.round((w.heapUsedBytes / w.heapLimitBytes) * 100) : null
      out.push({
        score: w.gcPauseMsPerSecond / ctx.o.gcPauseMsPerSecond,
        finding: {
          kind: 'gc', severity: 'warning', operator: null, action: null,
          title: `${where}${runs} spends ${Math.round(w.gcPauseMsPerSecond)} ms/s in garbage collection`,
          evidence: { worker: w.worker, gcPauseMsPerSecond: Math.round(w.gcPauseMsPerSecond), heapUsedBytes: w.heapUsedBytes, heapLimitBytes: w.heapLimitBytes, ...(heapPercent === null ? {} : { heapUsedPercent: heapPercent }) },
          recommendation: `hold less state in objects, keep fewer records buffered (a smaller \`run({ channelCapacity })\`), use smaller batches (\`batchSize\` in a source's options), or give it more heap (\`NODE_OPTIONS=--max-old-space-size=${Math.max(1024, Math.ceil((w.heapLimitBytes * 2) / 2 ** 30) * 1024)}\`)`,
        },
      })
    }
    return out
  })
}
