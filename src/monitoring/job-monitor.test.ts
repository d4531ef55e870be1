import { describe, expect, it } from 'vitest'
import { Pipeline } from '../api/pipeline.ts'
import { ManualClock } from '../time/clock.ts'
import { manualSource, memorySink, until, type ManualSource, type MemorySink } from '../testing/index.ts'
import type { JobHandle } from '../runtime/coordinator/run-options.ts'
import { CallMetrics } from '../metrics/call-metrics.ts'
import { JobMonitor } from './job-monitor.ts'

/** A job fed by hand, and a monitor on a clock the test moves: samples come when the test says. */
function monitored(): { clock: ManualClock; input: ManualSource<number>; out: MemorySink<number>; monitor: JobMonitor; stop: () => Promise<void> } {
  const input = manualSource<number>()
  const out = memorySink<number>()
  const p = new Pipeline('stepped')
  p.source('in', input).map('double', (n) => n * 2).to('out', out)
  const job = p.run()
  const clock = new ManualClock(job.startedAt)
  const monitor = new JobMonitor('stepped', p, job, { intervalMs: 1000, clock, log: () => {} }).start()
  return {
    clock, input, out, monitor,
    stop: async () => {
      input.end()
      await job.done
      monitor.stop()
    },
  }
}

describe('the monitor on an injected clock', () => {
  it('samples when a ManualClock reaches the next sample time, once per advance', async () => {
    const m = monitored()
    try {
      expect(m.monitor.history(600)).toHaveLength(1)
      m.clock.advance(999)
      expect(m.monitor.history(600)).toHaveLength(1)
      m.clock.advance(1)
      expect(m.monitor.history(600)).toHaveLength(2)
      // A jump over several intervals is one sample, its rates over the whole jump.
      m.clock.advance(5000)
      expect(m.monitor.history(600)).toHaveLength(3)
      m.clock.advance(999)
      expect(m.monitor.history(600)).toHaveLength(3)
    } finally {
      await m.stop()
    }
  })

  it('rates and uptime are measured on that clock', async () => {
    const m = monitored()
    try {
      m.clock.advance(1000)
      m.input.push(...Array.from({ length: 300 }, (_, i) => i))
      await until(() => m.out.records.length === 300)
      m.clock.advance(2000)
      const v = m.monitor.view()
      expect(v.uptimeMs).toBe(3000)
      expect(v.t).toBe(m.clock.now())
      expect(v.recordsPerSecond).toBe(150)
      expect(v.operators.find((o) => o.id === 'double')?.recordsInPerSecond).toBe(150)
    } finally {
      await m.stop()
    }
  })

  it('stop() unsubscribes from the clock', async () => {
    const m = monitored()
    m.monitor.stop()
    m.clock.advance(10_000)
    expect(m.monitor.history(600)).toHaveLength(1)
    await m.stop()
  })
})

describe('task numbers', () => {
  it('are those of explain(): from 0, in plan order, on every operator of the view and its graph', async () => {
    const p = new Pipeline('numbered')
    const input = manualSource<number>()
    p.source('in', input).map('a', (n) => n + 1).disableChaining().map('b', (n) => n * 2).rebalance().map('c', (n) => n).to('out', memorySink<number>())
    const explained = new Map<string, number>()
    for (const m of p.explain().matchAll(/^task (\d+) \(parallelism \d+\): (.*)$/gm)) {
      for (const id of m[2].matchAll(/(?:^| -> )([\w+-]+) \[/g)) for (const part of id[1].split('+')) explained.set(part, Number(m[1]))
    }
    expect(Math.min(...explained.values())).toBe(0)
    const job = p.run()
    const monitor = new JobMonitor('numbered', p, job, { intervalMs: 1000, clock: new ManualClock(job.startedAt), log: () => {} }).start()
    try {
      const v = monitor.view()
      expect(Object.fromEntries(v.operators.map((o) => [o.id, o.task]))).toEqual(Object.fromEntries(explained))
      expect(v.graph.nodes.map((n) => [n.id, n.task])).toEqual(v.operators.map((o) => [o.id, o.task]))
    } finally {
      input.end()
      await job.done
      monitor.stop()
    }
  })
})

describe('an asynchronous operator\'s calls', () => {
  it('reach the view, the samples and the diagnosis: rates per second of the clock, full ratio, latency', async () => {
    const input = manualSource<number>()
    const p = new Pipeline('calls')
    p.source('in', input).map('translate', (n) => n).to('out', memorySink<number>())
    const job = p.run()
    // The runtime's metrics, with the calls of a slow service on `translate` and its task waiting
    // 900 ms of every second: what an async operator with every slot taken reports.
    const calls = new CallMetrics(64, 1)
    let waitingMs = 0
    const handle: JobHandle = Object.create(job)
    handle.metrics = () => {
      const m = job.metrics()
      return {
        ...m,
        operators: m.operators.map((o) => (o.operator === 'translate' ? { ...o, calls: calls.snapshot(calls.fullMs) } : o)),
        tasks: m.tasks.map((t) => (t.operators.includes('translate') ? { ...t, waitingMs } : t)),
      }
    }
    const clock = new ManualClock(job.startedAt)
    const monitor = new JobMonitor('calls', p, handle, { intervalMs: 1000, clock, log: () => {} }).start()
    try {
      for (let s = 1; s <= 10; s++) {
        for (let i = 0; i < 80; i++) calls.latency.record(800)
        Object.assign(calls, { calls: calls.calls + 80, callRecords: calls.callRecords + 80, inFlight: 64, fullMs: calls.fullMs + 950 })
        waitingMs += 900
        clock.advance(1000)
      }
      const v = monitor.view().operators.find((o) => o.id === 'translate')
      expect(v?.calls).toMatchObject({ callsPerSecond: 80, recordsPerSecond: 80, inFlight: 64, capacity: 64, concurrency: 64, fullRatio: 0.95 })
      expect(v?.calls?.latency?.p99).toBeGreaterThan(700)
      expect(monitor.view().operators.find((o) => o.id === 'out')?.calls).toBeNull()
      expect(monitor.history(1)[0].operators.translate.calls).toMatchObject({ fullRatio: 0.95, inFlight: 64, capacity: 64 })
      const [f] = monitor.diagnosis()
      expect(f.kind).toBe('slow-service')
      expect(f.title).toMatch(/^`translate` waits on its calls: p99 \d+ ms, 64 of 64 in flight: raise concurrency \(now 64\) or batch size$/)
    } finally {
      input.end()
      await job.done
      monitor.stop()
    }
  })
})
