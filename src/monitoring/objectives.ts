/**
 * Service-level objectives and their alerts. A job declares objectives; the monitor evaluates them
 * once a second against the job's live metrics. An objective breached for `forSeconds` in a row
 * fires an alert; met again for `forSeconds` it resolves. Alerts go to the API, the dashboard,
 * the log, `sluice_alert_firing` in /metrics and, optionally, a webhook.
 */
import type { ObjectivesSpec } from '../graph/objectives.ts'
import type { Alert, JobView, Objective } from './types.ts'

/** The objectives of a spec, in the API's shape. */
export function objectivesOf(spec: ObjectivesSpec): Objective[] {
  const forSeconds = spec.forSeconds ?? 5
  const out: Objective[] = []
  if (spec.latencyP99Ms !== undefined) out.push({ name: 'latency-p99', metric: 'latencyP99Ms', op: '<=', threshold: spec.latencyP99Ms, forSeconds })
  if (spec.watermarkLagMs !== undefined) out.push({ name: 'watermark-lag', metric: 'watermarkLagMs', op: '<=', threshold: spec.watermarkLagMs, forSeconds })
  if (spec.minRecordsPerSecond !== undefined) out.push({ name: 'throughput', metric: 'recordsPerSecond', op: '>=', threshold: spec.minRecordsPerSecond, forSeconds })
  return out
}

/** The value an objective watches, from a job view; null when not known (no data is no breach). */
export function valueOf(o: Objective, view: JobView): number | null {
  switch (o.metric) {
    case 'latencyP99Ms':
      return view.latency?.p99 ?? null
    case 'recordsPerSecond':
      return view.status === 'running' ? view.recordsPerSecond : null
    case 'watermarkLagMs': {
      let max: number | null = null
      for (const op of view.operators) if (op.watermarkLagMs !== null && (max === null || op.watermarkLagMs > max)) max = op.watermarkLagMs
      return max
    }
  }
}

interface Track {
  breachedFor: number
  okFor: number
  alert: Alert | null
}

/** Evaluates objectives once a second; returns the alerts that changed state in this step. */
export class ObjectiveEvaluator {
  readonly objectives: Objective[]
  private readonly tracks = new Map<string, Track>()
  /** Every alert that has fired, newest last (resolved ones keep their final state). */
  readonly history: Alert[] = []

  constructor(spec: ObjectivesSpec) {
    this.objectives = objectivesOf(spec)
    for (const o of this.objectives) this.tracks.set(o.name, { breachedFor: 0, okFor: 0, alert: null })
  }

  step(view: JobView, now: number): Alert[] {
    const changed: Alert[] = []
    for (const o of this.objectives) {
      const t = this.tracks.get(o.name) as Track
      const v = valueOf(o, view)
      if (v === null) continue
      const ok = o.op === '<=' ? v <= o.threshold : v >= o.threshold
      if (ok) {
        t.breachedFor = 0
        t.okFor++
        if (t.alert !== null && t.okFor >= o.forSeconds) {
          t.alert.state = 'resolved'
          t.alert.value = v
          t.alert.message = `${describe(o)} is met again: ${fmt(v)} (objective ${o.op} ${fmt(o.threshold)})`
          changed.push({ ...t.alert })
          t.alert = null
        }
      } else {
        t.okFor = 0
        t.breachedFor++
        if (t.alert !== null) t.alert.value = v
        if (t.alert === null && t.breachedFor >= o.forSeconds) {
          t.alert = { objective: o.name, state: 'firing', since: now, value: v, threshold: o.threshold, message: `${describe(o)} breached for ${t.breachedFor} s: ${fmt(v)}, objective ${o.op} ${fmt(o.threshold)}` }
          this.history.push(t.alert)
          changed.push({ ...t.alert })
        }
      }
    }
    return changed
  }

  firing(): Alert[] {
    const out: Alert[] = []
    for (const t of this.tracks.values()) if (t.alert !== null) out.push({ ...t.alert })
    return out
  }
}

function describe(o: Objective): string {
  return o.metric === 'latencyP99Ms' ? 'end-to-end p99 latency (ms)' : o.metric === 'watermarkLagMs' ? 'watermark lag (ms)' : 'throughput (records/s)'
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1)
}

const WEBHOOK_TIMEOUT_MS = 5000

/** POSTs `body` (an alert with its job) to the objectives' webhook; a failure is logged, never thrown. */
export async function postAlert(url: string, body: Alert & { job: string; name: string }, log: (line: string) => void): Promise<void> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    })
    if (!res.ok) log(`sluice: alert webhook ${url} answered ${res.status}; the alert is still in the API and /metrics`)
  } catch (e) {
    log(`sluice: alert webhook ${url} failed: ${e instanceof Error ? e.message : String(e)}; the alert is still in the API and /metrics`)
  }
}
