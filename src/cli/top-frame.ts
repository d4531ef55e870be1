/**
 * One frame of `sluice top` as text: a pure function of a JobView (docs/API.md) and the terminal's
 * size, so it is tested without a server or a terminal. Colours are plain ANSI SGR, only when asked.
 */
import type { ConnectionView, Finding, JobView, OperatorView } from '../monitoring/types.ts'
import { cell, fitWidth, painter, wrap, type Paint, type Style } from './ansi.ts'
import { redactCredentials } from '../monitoring/redact.ts'

export interface TopFrameOptions {
  /** Terminal columns; every line fits. */
  width: number
  /** Terminal rows; operators that do not fit are summarised in one line. Default: no limit. */
  height?: number
  color: boolean
}

const BAR_WIDTH = 10
/** Evidence items under the top finding (`sluice doctor` prints them all). */
const TOP_EVIDENCE_ITEMS = 4
const MIN_ID_WIDTH = 8

interface Column {
  title: string
  width: number
  value(o: OperatorView): string
  style?(o: OperatorView): Style | null
}

const COLUMNS: readonly Column[] = [
  { title: 'P', width: 3, value: (o) => String(o.parallelism) },
  { title: 'IN/s', width: 6, value: (o) => (o.kind === 'source' ? '-' : short(o.recordsInPerSecond)) },
  { title: 'OUT/s', width: 6, value: (o) => (o.kind === 'sink' ? '-' : short(o.recordsOutPerSecond)) },
  // Thresholds as in the diagnosis: busy from 800 ms/s, waiting and backpressured from 500 ms/s.
  { title: 'BUSY', width: 5, value: (o) => String(Math.round(o.busyMsPerSecond)), style: (o) => (o.busyMsPerSecond >= 800 ? 'red' : null) },
  { title: 'WAIT', width: 5, value: (o) => String(Math.round(o.waitingMsPerSecond)), style: (o) => (o.waitingMsPerSecond >= 500 ? 'magenta' : null) },
  { title: 'BACKP', width: 5, value: (o) => String(Math.round(o.backpressuredMsPerSecond)), style: (o) => (o.backpressuredMsPerSecond >= 500 ? 'yellow' : null) },
  { title: 'IDLE', width: 5, value: (o) => String(Math.round(o.idleMsPerSecond)) },
]
const TAIL_COLUMNS: readonly Column[] = [
  { title: 'P99', width: 7, value: (o) => durationMs(o.latency?.p99 ?? null) },
  { title: 'WM LAG', width: 7, value: (o) => durationMs(o.watermarkLagMs) },
  { title: 'STATE', width: 6, value: (o) => short(o.stateEntries) },
]

/**
 * One frame of `sluice top`: a header (job, status, uptime, throughput, end-to-end p99), a line
 * per broker source (lag, its growth, the worst partition) and per connector that lost its server,
 * firing alerts, the operator table and the top finding. Every line fits `width` columns: the operator
 * id is cut first, then the load bar is dropped.
 */
export function renderTop(view: JobView, o: TopFrameOptions): string[] {
  const paint = painter(o.color)
  const above = [header(view, paint), ...checkpointLine(view, paint), ...sourceLines(view, paint), ...connectionLines(view, paint), ...callLines(view, paint), ...view.alerts.map((a) => `${paint('red', 'ALERT')}  ${a.objective}: ${a.message}`), '']
  const below = view.topFinding === null ? [] : ['', ...findingLines(view.topFinding, o.width, paint)]
  let rows = view.operators
  let hidden = 0
  if (o.height !== undefined) {
    // The table's header line, the rows, and a "+N more" line when some are hidden.
    const room = Math.max(1, o.height - above.length - below.length - 1)
    if (rows.length > room) {
      hidden = rows.length - (room - 1)
      rows = rows.slice(0, Math.max(0, room - 1))
    }
  }
  const table = operatorTable(rows, view.operators, o.width, paint)
  if (hidden > 0) table.push(paint('dim', `… ${hidden} more operator${hidden === 1 ? '' : 's'} (a taller terminal shows them)`))
  return [...above, ...table, ...below].map((l) => fitWidth(l, o.width))
}

/** A message under the frame (e.g. the server cannot be reached), wrapped to the width. */
export function renderNotice(message: string, width: number, color: boolean): string[] {
  const paint = painter(color)
  return wrap(message, width, '', '  ').map((l) => paint('yellow', l))
}

function header(v: JobView, paint: Paint): string {
  const name = v.name === v.id ? paint('bold', v.id) : `${paint('bold', v.name)} (${v.id})`
  const parts = [
    name,
    paint(statusStyle(v.status), v.status),
    `up ${uptime(v.uptimeMs)}`,
    `${short(v.recordsPerSecond)} records/s`,
    `p99 ${durationMs(v.latency?.p99 ?? null)}`,
    v.workerCount > 0 ? `${v.workerCount} workers` : 'one thread',
  ]
  if (v.alerts.length > 0) parts.push(paint('red', `${v.alerts.length} alert${v.alerts.length === 1 ? '' : 's'} firing`))
  return parts.join('  ')
}

/** "checkpoints  12 done  last 102ms 230KB  sync 6.0ms  start delay 4.0ms" (nothing without checkpoints). */
function checkpointLine(v: JobView, paint: Paint): string[] {
  const c = v.checkpoints
  if (c === null) return []
  const parts = [paint('dim', 'checkpoints'), `${c.completed} done`]
  if (c.failed > 0) parts.push(paint(c.lastFailure === null ? 'yellow' : 'red', `${c.failed} failed`))
  if (c.restarts > 0) parts.push(paint('yellow', `${c.restarts} restart${c.restarts === 1 ? '' : 's'}`))
  if (c.lastDurationMs !== null) parts.push(`last ${durationMs(c.lastDurationMs)} ${short(c.lastSizeBytes ?? 0)}B`)
  if (c.lastSyncMs !== null) parts.push(`sync ${durationMs(c.lastSyncMs)}`)
  if (c.lastStartDelayMs !== null) parts.push(`start delay ${durationMs(c.lastStartDelayMs)}`)
  if (c.restore !== null) parts.push(paint('dim', c.restore.savepoint === null ? `resumed from ${c.restore.checkpointId}` : 'started from a savepoint'))
  return [parts.join('  ')]
}

/**
 * A line per source that reports partitions: "source orders (kafka)  lag 113K  +12K/s  8 partitions
 * worst orders/3 56K". The lag is red while it grows.
 */
function sourceLines(v: JobView, paint: Paint): string[] {
  return (v.sources ?? []).map((s) => {
    const parts = [`${paint('dim', 'source')} ${s.source} (${s.kind})`, `lag ${s.lag === null ? '-' : short(s.lag)}`]
    if (s.lagPerSecond !== null) {
      const rate = `${s.lagPerSecond < 0 ? '-' : '+'}${short(Math.abs(s.lagPerSecond))}/s`
      parts.push(s.lagPerSecond > 0 ? paint('red', rate) : rate)
    }
    parts.push(`${s.partitionCount} partition${s.partitionCount === 1 ? '' : 's'}`)
    if (s.worst !== null && s.partitionCount > 1) parts.push(`worst ${s.worst.partition} ${short(s.worst.lag ?? 0)}`)
    return parts.join('  ')
  })
}

/**
 * A line per asynchronous operator: "calls translate  76/s  64/64 in flight  full 95%  p99 840ms
 * 12 timeouts/s" (full in magenta from 80 %, the diagnosis' threshold; failures in red).
 */
function callLines(v: JobView, paint: Paint): string[] {
  return v.operators.flatMap((o) => {
    const c = o.calls
    if (c === undefined || c === null) return []
    const full = `full ${Math.round(c.fullRatio * 100)}%`
    const parts = [`${paint('dim', 'calls')} ${o.id}`, `${short(c.callsPerSecond)}/s`, `${c.inFlight}/${c.capacity} in flight`, c.fullRatio >= 0.8 ? paint('magenta', full) : full, `p99 ${durationMs(c.latency?.p99 ?? null)}`]
    if (c.maxBatch > 1) parts.push(`batch ≤${c.maxBatch}`)
    if (c.timeoutsPerSecond > 0) parts.push(paint('yellow', `${round1(c.timeoutsPerSecond)} timeouts/s`))
    if (c.failuresPerSecond > 0) parts.push(paint('red', `${round1(c.failuresPerSecond)} failed/s`))
    if (c.cacheHitRatio !== null) parts.push(`cache ${Math.round(c.cacheHitRatio * 100)}% hits`)
    return [parts.join('  ')]
  })
}

const round1 = (n: number): string => (n >= 10 ? String(Math.round(n)) : String(Math.round(n * 10) / 10))

/**
 * A line per connector with a subtask that is not connected: "RECONNECTING  source orders (kafka)
 * subtask 1 of 2 for 14.0s: <last error>" (failed first; the error of the longest-down subtask).
 */
function connectionLines(v: JobView, paint: Paint): string[] {
  const byConnector = new Map<string, ConnectionView[]>()
  for (const c of v.connections ?? []) byConnector.set(c.connector, [...(byConnector.get(c.connector) ?? []), c])
  const lines: string[] = []
  for (const all of byConnector.values()) {
    const down = all.filter((c) => c.state !== 'connected')
    if (down.length === 0) continue
    const failed = down.filter((c) => c.state === 'failed')
    const c = [...(failed.length > 0 ? failed : down)].sort((a, b) => a.since - b.since)[0]
    const label = paint(failed.length > 0 ? 'red' : 'yellow', failed.length > 0 ? 'FAILED' : 'RECONNECTING')
    const which = `subtask${down.length === 1 ? '' : 's'} ${down.map((x) => x.subtask).join(',')} of ${all.length}`
    const error = c.lastError === null ? '' : `: ${redactCredentials(c.lastError)}`
    lines.push(`${label}  ${c.role} ${c.connector} (${c.kind}) ${which} for ${durationMs(Math.max(0, v.t - c.since))}${error}`)
  }
  return lines
}

function operatorTable(rows: readonly OperatorView[], all: readonly OperatorView[], width: number, paint: Paint): string[] {
  const fixed = [...COLUMNS, ...TAIL_COLUMNS].reduce((n, c) => n + c.width + 1, 0)
  const wantedId = Math.max('OPERATOR'.length, ...all.map((o) => [...o.id].length))
  const withBar = width - fixed - (BAR_WIDTH + 1) >= Math.min(wantedId, 16)
  const idWidth = Math.max(MIN_ID_WIDTH, Math.min(wantedId, width - fixed - (withBar ? BAR_WIDTH + 1 : 0)))
  const titles = [cell('OPERATOR', idWidth, 'left'), ...COLUMNS.map((c) => cell(c.title, c.width, 'right'))]
  if (withBar) titles.push(cell('LOAD', BAR_WIDTH, 'left'))
  titles.push(...TAIL_COLUMNS.map((c) => cell(c.title, c.width, 'right')))
  const lines = [paint('dim', titles.join(' '))]
  const value = (c: Column, o: OperatorView): string => {
    const text = cell(c.value(o), c.width, 'right')
    const style = c.style?.(o) ?? null
    return style === null ? text : paint(style, text)
  }
  for (const o of rows) {
    const cells = [cell(o.id, idWidth, 'left'), ...COLUMNS.map((c) => value(c, o))]
    if (withBar) cells.push(loadBar(o, paint))
    cells.push(...TAIL_COLUMNS.map((c) => value(c, o)))
    lines.push(cells.join(' '))
  }
  return lines
}

/** Busy, waiting, backpressured and idle time as a 10-cell bar: █ busy, ░ waiting, ▒ backpressured, · idle. */
function loadBar(o: OperatorView, paint: Paint): string {
  const busy = Math.min(BAR_WIDTH, Math.round((o.busyMsPerSecond / 1000) * BAR_WIDTH))
  const wait = Math.min(BAR_WIDTH - busy, Math.round((o.waitingMsPerSecond / 1000) * BAR_WIDTH))
  const back = Math.min(BAR_WIDTH - busy - wait, Math.round((o.backpressuredMsPerSecond / 1000) * BAR_WIDTH))
  return paint('red', '█'.repeat(busy)) + paint('magenta', '░'.repeat(wait)) + paint('yellow', '▒'.repeat(back)) + paint('dim', '·'.repeat(BAR_WIDTH - busy - wait - back))
}

/** The top finding: a severity label, the title, its first evidence in words, then what to do, wrapped to the width. */
function findingLines(f: Finding, width: number, paint: Paint): string[] {
  const label = severityLabel(f)
  const indent = ' '.repeat(label.length + 2)
  const evidence = (f.evidenceText ?? []).slice(0, TOP_EVIDENCE_ITEMS).map((e) => `${e.label}: ${e.text}`).join(' · ')
  return [
    ...wrap(f.title, width, `${paint(severityStyle(f), label)}  `, indent),
    ...(evidence === '' ? [] : wrap(evidence, width, indent, indent).map((l) => paint('dim', l))),
    ...wrap(f.recommendation, width, `${indent}→ `, `${indent}  `),
  ]
}

export function severityLabel(f: Finding): string {
  return f.kind === 'healthy' ? 'HEALTHY' : f.severity.toUpperCase()
}

export function severityStyle(f: Finding): Style {
  return f.kind === 'healthy' ? 'green' : f.severity === 'critical' ? 'red' : f.severity === 'warning' ? 'yellow' : 'cyan'
}

function statusStyle(s: JobView['status']): Style {
  return s === 'running' ? 'green' : s === 'failed' ? 'red' : s === 'starting' ? 'yellow' : 'cyan'
}

/** "3.4ms", "110ms", "12.3s", "5.0m", "2.5h", "327d"; "-" when unknown. */
export function durationMs(ms: number | null): string {
  if (ms === null) return '-'
  if (ms < 10) return `${ms.toFixed(1)}ms`
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)}h`
  return `${Math.round(ms / 86_400_000)}d`
}

/** "42s", "3m 04s", "2h 05m". */
export function uptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}

/** A count in 4 characters or so: 950, 12K, 3.4M, 1.2G. */
export function short(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}K`
  return String(Math.round(n))
}
