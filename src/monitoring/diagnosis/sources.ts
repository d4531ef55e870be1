/**
 * Diagnosis rules about the job's brokers (../diagnosis.ts runs them with the others): a source whose
 * lag keeps growing (the job falls behind it), and a connector that lost its server. Pure
 * functions of the view, the samples and the other rules' findings.
 */
import type { Evidence } from '../evidence.ts'
import type { RuleFinding } from './context.ts'
import { redactCredentials } from '../redact.ts'
import type { ConnectionView, Finding, JobView, Sample, SourceProgressView } from '../types.ts'

export interface SourceRuleOptions {
  readonly minSamples: number
  readonly persistenceShare: number
  /** A lag growing at least this fast (records/s, over the window)... */
  readonly lagGrowthRecordsPerSecond: number
  /** ...and by at least this many records over it means the job falls behind. */
  readonly lagGrowthRecords: number
}

export interface ScoredFinding { finding: RuleFinding; score: number }

const SEVERITY_RANK: Record<Finding['severity'], number> = { critical: 0, warning: 1, info: 2 }

/**
 * One finding per source whose lag grew over the window: by at least `lagGrowthRecords`, at least
 * `lagGrowthRecordsPerSecond` on average, not shrinking in most steps, and growing in both halves of
 * the window (one jump is not a trend; a reader that learns the end only every few polls grows in steps).
 * The cause comes from `others`, the findings of the other rules: a connector that is not connected,
 * else the bottleneck, else I/O, else the source itself.
 */
export function sourceLagFindings(view: JobView, window: readonly Sample[], o: SourceRuleOptions, others: readonly ScoredFinding[]): ScoredFinding[] {
  if (view.status !== 'running') return []
  const out: ScoredFinding[] = []
  for (const src of view.sources ?? []) {
    const lags = window.flatMap((s) => {
      const lag = s.sources?.[src.source]?.lag
      return typeof lag === 'number' ? [{ t: s.t, lag }] : []
    })
    if (lags.length < Math.max(2, o.minSamples)) continue
    const first = lags[0]
    const last = lags[lags.length - 1]
    const seconds = (last.t - first.t) / 1000
    const growth = last.lag - first.lag
    if (seconds <= 0 || growth < o.lagGrowthRecords) continue
    const rate = growth / seconds
    const steps = lags.slice(1).map((x, i) => x.lag - lags[i].lag)
    const middle = lags[lags.length >> 1].lag
    const rising = middle > first.lag && last.lag > middle
    if (rate < o.lagGrowthRecordsPerSecond || share(steps, (d) => d >= 0) < o.persistenceShare || !rising) continue
    out.push(lagFinding(view, src, { rate, seconds, lag: src.lag ?? last.lag }, o, others))
  }
  return out
}

function lagFinding(view: JobView, src: SourceProgressView, m: { rate: number; seconds: number; lag: number }, o: SourceRuleOptions, others: readonly ScoredFinding[]): ScoredFinding {
  const op = view.operators.find((x) => x.id === src.source)
  const parallelism = op?.parallelism ?? 1
  const evidence: Evidence = {
    lag: Math.round(m.lag),
    lagGrowthRecordsPerSecond: round(m.rate),
    windowSeconds: Math.round(m.seconds),
    partitions: src.partitionCount,
    parallelism,
    recordsOutPerSecond: round(op?.recordsOutPerSecond ?? 0),
  }
  if (src.worst !== null && src.worst.lag !== null) {
    evidence.worstPartition = src.worst.partition
    evidence.worstPartitionLag = src.worst.lag
  }
  const worst = src.worst !== null && src.partitionCount > 1 ? `, most in \`${src.worst.partition}\`` : ''
  const cause = causeOf(view, src, others)
  if (cause.operator !== null) evidence.bottleneck = cause.operator
  const more = Math.min(src.partitionCount, parallelism * 2)
  const recommendation = cause.recommendation ?? (parallelism < src.partitionCount
    ? `read \`${src.source}\` with more subtasks: raise its parallelism from ${parallelism} to ${more} (\`.parallelism(${more})\` on the stream of \`${src.source}\`; at most one per partition, ${src.partitionCount})`
    : `\`${src.source}\` already reads each partition in its own subtask: read bigger batches, add partitions to the topic or stream, or make the records cheaper to process`)
  return {
    score: m.rate / o.lagGrowthRecordsPerSecond,
    finding: {
      kind: 'source-lag', severity: 'warning', operator: src.source, evidence, recommendation, action: null,
      title: `the job is falling behind \`${src.source}\`: lag +${compact(m.rate)} records/s (${compact(m.lag)} records behind${worst}); ${cause.text}`,
    },
  }
}

/** "the bottleneck is `enrich` (busy 980 ms/s while …)", or the next best explanation. */
function causeOf(view: JobView, src: SourceProgressView, others: readonly ScoredFinding[]): { text: string; operator: string | null; recommendation: string | null } {
  const down = (view.connections ?? []).find((c) => c.connector === src.source && c.state !== 'connected')
  if (down !== undefined) {
    return { text: `its reader is ${down.state === 'failed' ? 'disconnected' : 'reconnecting'}${down.lastError === null ? '' : ` (${redactCredentials(down.lastError)})`}`, operator: null, recommendation: null }
  }
  const ranked = [...others].sort((a, b) => SEVERITY_RANK[a.finding.severity] - SEVERITY_RANK[b.finding.severity] || b.score - a.score).map((s) => s.finding)
  const b = ranked.find((f) => f.kind === 'bottleneck') ?? ranked.find((f) => (f.kind === 'io-bound' || f.kind === 'slow-service') && f.severity === 'critical')
  if (b !== undefined) {
    const named = /^`([^`]+)` is the bottleneck: (.+)$/.exec(b.title)
    const text = named !== null ? `the bottleneck is \`${named[1]}\` (${named[2]})` : `the bottleneck: ${b.title}`
    return { text, operator: b.operator, recommendation: b.recommendation }
  }
  if (ranked.some((f) => f.kind === 'source-bound' && f.operator === src.source)) {
    return { text: `\`${src.source}\` reads as fast as it can and nothing downstream is busy or backpressured`, operator: src.source, recommendation: null }
  }
  return { text: `no operator is busy or backpressured, so the records arrive faster than \`${src.source}\` fetches them`, operator: null, recommendation: null }
}

/**
 * One finding per connector with a subtask that is not connected: critical when one gave up
 * (failed), a warning while it reconnects. Names the state, how long, and the last error.
 */
export function connectionFindings(view: JobView): ScoredFinding[] {
  const byConnector = new Map<string, ConnectionView[]>()
  for (const c of view.connections ?? []) byConnector.set(c.connector, [...(byConnector.get(c.connector) ?? []), c])
  const out: ScoredFinding[] = []
  for (const [id, all] of byConnector) {
    const down = all.filter((c) => c.state !== 'connected')
    if (down.length === 0) continue
    const failed = down.filter((c) => c.state === 'failed')
    const shown = (failed.length > 0 ? failed : down).sort((a, b) => a.since - b.since)[0]
    const forMs = Math.max(0, view.t - shown.since)
    const lastError = shown.lastError === null ? null : redactCredentials(shown.lastError)
    const which = all.length > 1 ? ` (subtask${down.length > 1 ? 's' : ''} ${down.map((c) => c.subtask).join(', ')} of ${all.length})` : ''
    const what = failed.length > 0 ? 'has lost its server and stopped retrying' : 'is reconnecting to its server'
    const evidence: Evidence = { state: shown.state, kind: shown.kind, subtasksDown: down.length, subtasks: all.length, forSeconds: Math.round(forMs / 1000) }
    if (lastError !== null) evidence.lastError = lastError
    out.push({
      score: failed.length > 0 ? 2 : 1 + forMs / 60_000,
      finding: {
        kind: 'connection', severity: failed.length > 0 ? 'critical' : 'warning', operator: id, evidence, action: null,
        title: `the ${shown.role} \`${id}\` (${shown.kind}) ${what}${which} for ${duration(forMs)}${lastError === null ? '' : `: ${lastError}`}`,
        recommendation: failed.length > 0
          ? `fix what the last error names (the server down, a wrong address, credentials or permissions), then restart the job: it resumes from its latest checkpoint`
          : `it retries with backoff and resumes where it stopped; check that the server is up and reachable from this machine${lastError === null ? '' : ' (the last error says why it is not)'}`,
      },
    })
  }
  return out
}

/** "850", "12 k", "1.2 M". */
export function compact(n: number): string {
  const a = Math.abs(n)
  if (a >= 1e9) return `${trim(n / 1e9)} G`
  if (a >= 1e6) return `${trim(n / 1e6)} M`
  if (a >= 1e4) return `${Math.round(n / 1e3)} k`
  if (a >= 1e3) return `${trim(n / 1e3)} k`
  return String(Math.round(n))
}

const trim = (x: number): string => String(Math.round(x * 10) / 10)

/** "14 s", "3 min", "2.5 h". */
function duration(ms: number): string {
  const s = ms / 1000
  if (s < 90) return `${Math.round(s)} s`
  if (s < 5400) return `${Math.round(s / 60)} min`
  return `${trim(s / 3600)} h`
}

const share = (xs: readonly number[], pred: (x: number) => boolean): number => (xs.length === 0 ? 0 : xs.filter(pred).length / xs.length)
const round = (n: number): number => (Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 10) / 10)
