/**
 * The service-level objectives a job declares (`new Pipeline(name, { objectives })`); the monitor
 * evaluates them (monitoring/objectives.ts).
 */
import { SluiceError } from '../errors.ts'

/**
 * A job's service-level objectives (`new Pipeline(name, { objectives })`), evaluated once a second
 * by the monitor; see docs/METRICS.md.
 *
 * @example
 * ```ts
 * new Pipeline('orders', { objectives: { latencyP99Ms: 500, watermarkLagMs: 10_000, minRecordsPerSecond: 1000 } })
 * ```
 */
export interface ObjectivesSpec {
  /** End-to-end p99 latency (source → sinks) must stay at or below this. */
  latencyP99Ms?: number
  /** Every operator's watermark lag (wall clock − watermark) must stay at or below this. */
  watermarkLagMs?: number
  /** Records per second out of the sources must stay at or above this. */
  minRecordsPerSecond?: number
  /** Seconds a breach (or a recovery) must last before an alert fires (or resolves). Default 5. */
  forSeconds?: number
  /** POSTed a JSON Alert when one fires or resolves. */
  webhook?: string
}

const KEYS = ['latencyP99Ms', 'watermarkLagMs', 'minRecordsPerSecond', 'forSeconds', 'webhook']

export function validateObjectives(spec: ObjectivesSpec): ObjectivesSpec {
  if (typeof spec !== 'object' || spec === null) throw invalid(`objectives must be an object, got ${typeof spec}`)
  for (const k of Object.keys(spec)) {
    if (!KEYS.includes(k)) throw invalid(`unknown objective "${k}"; known: ${KEYS.join(', ')}`)
  }
  for (const k of ['latencyP99Ms', 'watermarkLagMs', 'minRecordsPerSecond', 'forSeconds'] as const) {
    const v = spec[k]
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw invalid(`objective ${k} must be a positive number, got ${String(v)}`)
  }
  if (spec.webhook !== undefined) {
    let url: URL
    try {
      url = new URL(spec.webhook)
    } catch {
      throw invalid(`objective webhook must be an http(s) URL, got ${JSON.stringify(spec.webhook)}`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`objective webhook must be an http(s) URL, got ${JSON.stringify(spec.webhook)}`)
  }
  return spec
}

function invalid(message: string): SluiceError {
  return new SluiceError('PIPELINE_OPTION_INVALID', message)
}
