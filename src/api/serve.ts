/**
 * The monitoring server started from code: what `sluice run` serves (the dashboard, /metrics, the
 * JSON API, the event stream; docs/API.md) for a job a program runs itself.
 */
import type { JobHandle } from '../runtime/coordinator/run-options.ts'
import type { Pipeline } from './pipeline.ts'

export interface ServeOptions {
  /** The address to listen on. Default 127.0.0.1; any other needs a token. */
  readonly host?: string
  /** Default 8420, or the next free port (up to 20 tries); 0: any free port. */
  readonly port?: number
  /**
   * The bearer token every request for data must carry. Default: env SLUICE_TOKEN. Required when
   * `host` is not loopback (SERVER_TOKEN_REQUIRED); never empty.
   */
  readonly token?: string
  /** Host names the server answers to besides loopback and its address, e.g. a reverse proxy's. */
  readonly allowedHosts?: readonly string[]
  /** The job's id in the API and in metric labels. Default: the pipeline's name. */
  readonly id?: string
}

/** A running monitoring server. */
export interface JobServer {
  /** `http://HOST:PORT/`: the dashboard; `${url}metrics` and `${url}api/v1/jobs` beside it. */
  readonly url: string
  readonly host: string
  /** The port it listens on (the one chosen, with port 0). */
  readonly port: number
  /** Resolves once the server has closed: when the job has ended, or after `close()`. */
  readonly closed: Promise<void>
  /** Stops serving (the job runs on). Idempotent. */
  close(): Promise<void>
}

/**
 * Serves a running job's dashboard, Prometheus metrics and API, as `sluice run` does, with the
 * same security defaults: 127.0.0.1 unless `host` says otherwise, a bearer token required on any
 * other address, Host headers checked against DNS rebinding. Resolves once the server listens; it
 * closes by itself when the job ends, or on `close()`. Rejects with SERVER_TOKEN_REQUIRED,
 * SERVER_PORT_INVALID or SERVER_LISTEN_FAILED when it cannot listen (the job runs on).
 *
 * @example
 * ```ts
 * const clicks = new Pipeline('clicks')
 * // 200 clicks over about 2 s; the server closes when the job has finished.
 * clicks.source('clicks', generatorSource((n) => ({ page: n % 10 }), { count: 200, ratePerSecond: 100 })).to('out', blackholeSink())
 * const job = clicks.run()
 * const server = await serve(clicks, job, { port: 0 })
 * console.log(`dashboard: ${server.url}, metrics: ${server.url}metrics`)
 * await job.done
 * await server.closed
 * ```
 */
export async function serve(pipeline: Pipeline, job: JobHandle, options: ServeOptions = {}): Promise<JobServer> {
  // Loaded on use: a program that never serves does not load the server or the monitor.
  const [{ MonitoringServer }, { JobMonitor }] = await Promise.all([import('../server/server.ts'), import('../monitoring/job-monitor.ts')])
  const server = await MonitoringServer.start({
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.allowedHosts === undefined ? {} : { allowedHosts: options.allowedHosts }),
  })
  const monitor = new JobMonitor(options.id ?? pipeline.name, pipeline, job).start()
  server.add(monitor)
  let markClosed: () => void = () => {}
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve
  })
  let closing: Promise<void> | null = null
  const close = (): Promise<void> => {
    closing ??= (async () => {
      monitor.stop()
      await server.close()
      markClosed()
    })()
    return closing
  }
  // Serves until the job ends (the monitor has its final view by then), unless closed before.
  void job.done.then(close, close)
  return { url: server.url, host: server.host, port: server.port, closed, close }
}
