/**
 * What `sluice run`, `sluice nexmark run` and the demo share around a running job: the monitoring
 * server (unless --no-server), the job's monitor, and the progress display on stderr — a progress
 * bar for bounded input, a status line every few seconds otherwise; quiet when stderr is not a TTY.
 */
import type { JobHandle, Pipeline } from '../api/pipeline.ts'
import { JobMonitor } from '../monitoring/job-monitor.ts'
import type { MonitoringServer } from '../server/server.ts'
import type { ServerFlags } from './flags.ts'
import type { JobView } from '../monitoring/types.ts'
import { parseOption } from './options.ts'
import { short } from './top-frame.ts'

export type { ServerFlags } from './flags.ts'
export { short }

export interface Monitoring {
  readonly monitor: JobMonitor
  readonly server: MonitoringServer | null
  /** Stops the progress display and the server. */
  close(): Promise<void>
}

/**
 * Starts monitoring a job that has just been started. The server's URL is printed on stderr
 * ("Dashboard: http://127.0.0.1:8420/"); `progress` shows a bar or status line when stderr is a TTY.
 */
export async function monitorJob(p: Pipeline, job: JobHandle, flags: ServerFlags, o: { progress?: boolean; id?: string } = {}): Promise<Monitoring> {
  const monitor = new JobMonitor(o.id ?? p.name, p, job).start()
  let server: MonitoringServer | null = null
  if (flags.server !== false) {
    const port = parseOption('--port', flags.port)
    try {
      // Loaded only for a job that serves (with its metrics client): --no-server starts faster.
      const { MonitoringServer } = await import('../server/server.ts')
      server = await MonitoringServer.start({
        ...(port === undefined ? {} : { port }), ...(flags.host === undefined ? {} : { host: flags.host }), ...(flags.token === undefined ? {} : { token: flags.token }),
        ...(flags.allowedHost === undefined ? {} : { allowedHosts: flags.allowedHost }),
      })
    } catch (e) {
      monitor.stop()
      void job.stop()
      throw e
    }
    server.add(monitor)
    process.stderr.write(`Dashboard: ${server.url}  (metrics: ${server.url}metrics, API: ${server.url}api/v1/jobs)\n`)
  }
  const stopProgress = o.progress !== false && process.stderr.isTTY === true ? showProgress(p, monitor) : () => {}
  return {
    monitor,
    server,
    close: async () => {
      stopProgress()
      monitor.stop()
      await server?.close()
    },
  }
}

/** The input size when every source knows it (bounded), else undefined. */
function expectedTotal(p: Pipeline): number | undefined {
  let total = 0
  for (const n of p.graph.nodes.values()) {
    if (n.type !== 'source') continue
    const e = n.source.expectedRecords
    if (e === undefined) return undefined
    total += e
  }
  return total
}

function showProgress(p: Pipeline, monitor: JobMonitor): () => void {
  const total = expectedTotal(p)
  let lastStatus = 0
  const off = monitor.onSnapshot((v) => {
    if (total !== undefined && total > 0) {
      process.stderr.write(`\r${progressLine(v, total)}\x1b[K`)
    } else if (v.uptimeMs - lastStatus >= 5000) {
      lastStatus = v.uptimeMs
      process.stderr.write(`${statusLine(v)}\n`)
    }
  })
  return () => {
    off()
    if (total !== undefined) process.stderr.write('\r\x1b[K')
  }
}

function sourcesRead(v: JobView): number {
  let n = 0
  for (const o of v.operators) if (o.kind === 'source') n += o.recordsOut
  return n
}

/** `[██████░░░░] 61% 6.1M/10M records, 2.3M/s, ETA 2 s` */
export function progressLine(v: JobView, total: number): string {
  const done = Math.min(total, sourcesRead(v))
  const share = done / total
  const width = 24
  const full = Math.round(share * width)
  const rate = v.recordsPerSecond
  const eta = rate > 0 ? `ETA ${Math.ceil((total - done) / rate)} s` : 'ETA -'
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${Math.floor(share * 100)}% ${short(done)}/${short(total)} records, ${short(rate)}/s, ${eta}`
}

/** One line for unbounded jobs: uptime, rate, p99, the top finding. */
export function statusLine(v: JobView): string {
  const p99 = v.latency === null ? '-' : `${v.latency.p99.toFixed(1)} ms`
  const f = v.topFinding === null || v.topFinding.kind === 'healthy' ? '' : `  ${v.topFinding.severity}: ${v.topFinding.title}`
  return `${(v.uptimeMs / 1000).toFixed(0).padStart(5)} s  ${short(v.recordsPerSecond).padStart(7)} records/s  total ${short(sourcesRead(v))}  p99 ${p99}${f}`
}
