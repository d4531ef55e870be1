/**
 * Prometheus text exposition (format 0.0.4) of metrics whose values are read, not accumulated
 * here: the tasks and the monitor keep the counts, this writes them. Each family gets its HELP and
 * TYPE line even without samples, and its samples stay together in the order added.
 */
import { SluiceError } from '../errors.ts'
import { PROMETHEUS_BOUNDS_MS } from './histogram.ts'
import type { MetricDef } from './names.ts'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export type Labels = Readonly<Record<string, string>>

/** One histogram series: counts at or below each bound of PROMETHEUS_BOUNDS_MS, then the total; sum in seconds. */
export interface HistogramSample {
  readonly buckets: readonly number[]
  readonly sumSeconds: number
}

const LE = PROMETHEUS_BOUNDS_MS.map((ms) => formatValue(ms / 1000))

export class Exposition {
  private readonly families = new Map<MetricDef, string[]>()

  /** `metrics`: every family to write, in order (samples for others are refused). */
  constructor(metrics: readonly MetricDef[]) {
    for (const m of metrics) this.families.set(m, [])
  }

  /** A counter or gauge sample; a non-finite value (unknown) is left out. */
  add(m: MetricDef, labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return
    this.lines(m, 'value').push(`${m.name}${labelText(m, labels, null)} ${formatValue(value)}`)
  }

  addHistogram(m: MetricDef, labels: Labels, h: HistogramSample): void {
    const out = this.lines(m, 'histogram')
    if (h.buckets.length !== LE.length + 1) throw new SluiceError('INTERNAL', `histogram ${m.name}: ${h.buckets.length} buckets, expected ${LE.length + 1}`)
    for (let i = 0; i < LE.length; i++) out.push(`${m.name}_bucket${labelText(m, labels, LE[i])} ${formatValue(h.buckets[i])}`)
    const count = h.buckets[LE.length]
    out.push(`${m.name}_bucket${labelText(m, labels, '+Inf')} ${formatValue(count)}`)
    out.push(`${m.name}_sum${labelText(m, labels, null)} ${formatValue(h.sumSeconds)}`)
    out.push(`${m.name}_count${labelText(m, labels, null)} ${formatValue(count)}`)
  }

  text(): string {
    const out: string[] = []
    for (const [m, lines] of this.families) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`, ...lines)
    }
    return `${out.join('\n')}\n`
  }

  private lines(m: MetricDef, kind: 'value' | 'histogram'): string[] {
    const lines = this.families.get(m)
    if (lines === undefined) throw new SluiceError('INTERNAL', `metric ${m.name} is not in this exposition`)
    if ((m.type === 'histogram') !== (kind === 'histogram')) throw new SluiceError('INTERNAL', `metric ${m.name} is a ${m.type}`)
    return lines
  }
}

/** `{a="x",b="y"}` in the metric's label order (every label required), `le` last when given. */
function labelText(m: MetricDef, labels: Labels, le: string | null): string {
  const parts: string[] = []
  for (const k of m.labels) {
    const v = labels[k]
    if (v === undefined) throw new SluiceError('INTERNAL', `metric ${m.name}: label ${k} missing`)
    parts.push(`${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  }
  if (le !== null) parts.push(`le="${le}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Go's ParseFloat reads JavaScript's number text, exponents included. */
function formatValue(x: number): string {
  if (Number.isNaN(x)) return 'NaN'
  if (x === Infinity) return '+Inf'
  if (x === -Infinity) return '-Inf'
  return String(x)
}
