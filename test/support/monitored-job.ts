/** A small checkpointed job served by a real monitoring server, for the server's security tests. */
import { join } from 'node:path'
import { Pipeline } from '../../src/index.ts'
import { blackholeSink, generatorSource } from '../../src/connectors/index.ts'
import type { JobHandle } from '../../src/api/pipeline.ts'
import { JobMonitor } from '../../src/monitoring/job-monitor.ts'
import { MonitoringServer } from '../../src/server/server.ts'

export interface MonitoredJob {
  readonly job: JobHandle
  readonly monitor: JobMonitor
  readonly server: MonitoringServer
  /** Stops the job, the monitor and the server. */
  close(): Promise<void>
}

/**
 * Job `name` (a keyed running sum over `ratePerSecond` generated records, checkpoints every 100 ms
 * into `<dir>/chk`) with its monitor added to a server on a free loopback port.
 */
export async function startMonitoredJob(name: string, dir: string, ratePerSecond: number): Promise<MonitoredJob> {
  const p = new Pipeline(name)
  p.source('numbers', generatorSource((n) => ({ k: n % 20, n }), { ratePerSecond }))
    .keyBy((r) => r.k)
    .reduce('sum', (a, b) => ({ k: a.k, n: a.n + b.n }))
    .to('out', blackholeSink())
  const job = p.run({ checkpoints: { dir: join(dir, 'chk'), intervalMs: 100 } })
  const monitor = new JobMonitor(name, p, job, { intervalMs: 200, log: () => {} }).start()
  const server = await MonitoringServer.start({ port: 0 })
  server.add(monitor)
  return {
    job, monitor, server,
    close: async () => {
      await job.stop()
      monitor.stop()
      await server.close()
    },
  }
}
