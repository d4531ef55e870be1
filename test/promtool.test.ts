// `promtool check metrics` on the /metrics of running jobs, fetched over HTTP from a real
// monitoring server: in one thread and on worker threads (where the latency histograms and their
// sums cross threads). promtool comes with Debian's `prometheus` package; `npm test` installs it
// (scripts/ensure-promtool.sh), and a machine without it fails here saying how to get it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { setTimeout as delay } from 'node:timers/promises'
import { Pipeline, type JobHandle } from '../src/index.ts'
import { blackholeSink, generatorSource } from '../src/connectors/index.ts'
import { JobMonitor } from '../src/monitoring/job-monitor.ts'
import { MonitoringServer } from '../src/server/server.ts'
import { metricsJob } from './fixtures/metrics-job.ts'
import { promtoolCheckMetrics } from './support/promtool.ts'
import { until } from './support/wait.ts'

interface Series { name: string; labels: string; value: number }

function parse(text: string): Series[] {
  const out: Series[] = []
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m !== null) out.push({ name: m[1], labels: m[2] ?? '', value: Number(m[3]) })
  }
  return out
}

/** Checks every histogram series: buckets rise with `le`, +Inf equals _count; returns each family's total count. */
function checkHistograms(text: string): Map<string, number> {
  const families = [...text.matchAll(/^# TYPE (\w+) histogram$/gm)].map((m) => m[1])
  const series = parse(text)
  const totals = new Map<string, number>()
  for (const f of families) {
    const counts = series.filter((s) => s.name === `${f}_count`)
    for (const c of counts) {
      const buckets = series.filter((s) => s.name === `${f}_bucket` && s.labels.replace(/,?le="[^"]*"$/, '') === c.labels)
      const values = buckets.map((b) => b.value)
      expect(values, `${f}{${c.labels}}`).toEqual([...values].sort((a, b) => a - b))
      expect(buckets[buckets.length - 1].labels, f).toMatch(/le="\+Inf"$/)
      expect(values[values.length - 1], `${f}{${c.labels}} +Inf`).toBe(c.value)
      expect(series.find((s) => s.name === `${f}_sum` && s.labels === c.labels)?.value, `${f}_sum`).toBeGreaterThanOrEqual(0)
      totals.set(f, (totals.get(f) ?? 0) + c.value)
    }
  }
  return totals
}

/**
 * Serves `job`'s metrics, scrapes /metrics (every 100 ms, for up to 30 s) until `ready` holds of
 * the text and its series, checks that scrape with promtool, and stops the job; returns its series.
 */
async function scrapeChecked(name: string, p: Pipeline, job: JobHandle, ready: (text: string, series: Series[]) => boolean, what: string): Promise<{ text: string; series: Series[] }> {
  const monitor = new JobMonitor(name, p, job, { intervalMs: 200, log: () => {} }).start()
  const server = await MonitoringServer.start({ port: 0 })
  server.add(monitor)
  try {
    const text = await until(async () => {
      const t = await (await fetch(new URL('/metrics', server.url))).text()
      return ready(t, parse(t)) ? t : undefined
    }, what, 30_000, 100)
    const check = promtoolCheckMetrics(text)
    expect(check.output, 'promtool check metrics output').toBe('')
    expect(check.status).toBe(0)
    return { text, series: parse(text) }
  } finally {
    await job.stop()
    monitor.stop()
    await server.close()
  }
}

async function checkRunningJob(name: string, workers: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-promtool-'))
  const p = metricsJob(name)
  try {
    // Wait for a scrape with every task reported (worker threads report on their own schedule),
    // latency markers at the sinks, a completed checkpoint and a skipped record.
    const { series } = await scrapeChecked(name, p, p.run({ workers, checkpoints: { dir, intervalMs: 100 } }), (t, all) => {
      const totals = checkHistograms(t)
      const skipped = all.filter((s) => s.name === 'sluice_skipped_records_total').reduce((a, s) => a + s.value, 0)
      const tasks = all.filter((s) => s.name === 'sluice_latency_seconds_count').length
      return tasks === 7 && (totals.get('sluice_end_to_end_latency_seconds') ?? 0) > 0 && (totals.get('sluice_checkpoint_duration_seconds') ?? 0) > 0 && skipped > 0
    }, 'a scrape with every task, end-to-end latency, a checkpoint and a skipped record')
    expect(series.find((s) => s.name === 'sluice_end_to_end_latency_seconds_sum' && s.labels === `job="${name}"`)?.value).toBeGreaterThan(0)
    // Every operator subtask (the source has one, the others two) has its latency histogram and time counters.
    for (const [op, subtask] of [['numbers', 0], ['check', 0], ['check', 1], ['sum', 0], ['sum', 1], ['out', 0], ['out', 1]]) {
      const labels = `job="${name}",operator="${op}",subtask="${subtask}"`
      for (const metric of ['sluice_latency_seconds_count', 'sluice_task_busy_seconds_total', 'sluice_task_idle_seconds_total']) {
        expect(series.some((s) => s.name === metric && s.labels === labels), `${metric}{${labels}}`).toBe(true)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('promtool check metrics on a running job\'s /metrics', () => {
  it('passes for a job in one thread', async () => {
    await checkRunningJob('promtool-one-thread', 0)
  }, 60_000)

  it('passes for a job on two worker threads', async () => {
    await checkRunningJob('promtool-workers', 2)
  }, 60_000)
})

describe('promtool check metrics with an asynchronous operator', () => {
  it('passes, with its call counters, gauges and latency histogram per subtask', async () => {
    const name = 'promtool-calls'
    const p = new Pipeline(name)
    p.source('words', generatorSource((n) => n, { ratePerSecond: 2000 }))
      .mapAsync('translate', async (n, call) => {
        await delay(n % 10 === 0 ? 60_000 : 2, undefined, { signal: call.signal })
        return n
      }, { concurrency: 8, timeoutMs: 50, onError: 'skip' })
      .parallelism(2)
      .to('out', blackholeSink())
    // A scrape where both subtasks have ended calls and timed some out.
    const { text, series } = await scrapeChecked(name, p, p.run(), (t, all) => {
      checkHistograms(t)
      const ended = all.filter((s) => s.name === 'sluice_call_latency_seconds_count' && s.value > 0).length
      const timedOut = all.filter((s) => s.name === 'sluice_call_timeouts_total' && s.value > 0).length
      return ended === 2 && timedOut === 2
    }, 'a scrape with calls ended and timed out on both subtasks')
    for (const subtask of [0, 1]) {
      const labels = `job="${name}",operator="translate",subtask="${subtask}"`
      for (const metric of ['sluice_calls_total', 'sluice_call_records_total', 'sluice_call_failures_total', 'sluice_call_retries_total', 'sluice_calls_full_seconds_total', 'sluice_calls_in_flight', 'sluice_call_held_records']) {
        expect(series.some((s) => s.name === metric && s.labels === labels), `${metric}{${labels}}`).toBe(true)
      }
      expect(series.find((s) => s.name === 'sluice_call_capacity' && s.labels === labels)?.value).toBe(8)
    }
    // Only asynchronous operators have call series; no lookup cache, no cache series.
    expect(series.filter((s) => s.name.startsWith('sluice_call')).every((s) => s.labels.includes('operator="translate"'))).toBe(true)
    expect(text).not.toMatch(/^sluice_call_cache/m)
  }, 60_000)
})
