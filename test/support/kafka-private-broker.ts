/**
 * A second Kafka broker of the test's own (its own port and data directory, the jars of
 * `scripts/services.sh`), for tests that stop, pause or restart a broker: doing that to the
 * shared broker on 9092 would break every other test running at the time.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SCRIPT = resolve(import.meta.dirname, '../../scripts/services.sh')

export interface PrivateKafka {
  /** "127.0.0.1:PORT" */
  readonly brokers: string
  /** Stops the broker by PID (SIGTERM) and starts it again on the same data; resolves once it answers. */
  restart(): Promise<void>
  /** Freezes the broker process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void
  /** Thaws it (SIGCONT). */
  resume(): void
  /** Stops the broker and removes its data. */
  stop(): Promise<void>
}

/** Starts a private broker on `port` (controller on port + 1); takes tens of seconds on a busy machine. */
export async function startPrivateKafka(port: number): Promise<PrivateKafka> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-private-'))
  const env = { ...process.env, SLUICE_SERVICES_RUN: dir, SLUICE_KAFKA_PORT: String(port), SLUICE_KAFKA_CONTROLLER_PORT: String(port + 1) }
  const services = async (command: string): Promise<void> => {
    try {
      await run('bash', [SCRIPT, command], { env, timeout: 240_000 })
    } catch (e) {
      // `up` also checks the machine's other services; only Kafka matters here.
      if (!/kafka ready/.test(String((e as { stdout?: string }).stdout))) throw e
    }
  }
  const pid = (): number => Number(readFileSync(join(dir, 'kafka.pid'), 'utf8').trim())
  try {
    await services('up')
  } catch (e) {
    await run('bash', [SCRIPT, 'down'], { env }).catch(() => {})
    await rm(dir, { recursive: true, force: true })
    throw e
  }
  return {
    brokers: `127.0.0.1:${port}`,
    restart: () => services('restart'),
    pause: () => process.kill(pid(), 'SIGSTOP'),
    resume: () => process.kill(pid(), 'SIGCONT'),
    async stop() {
      try {
        process.kill(pid(), 'SIGCONT')
      } catch {
        // already gone
      }
      await services('down').catch(() => {})
      await rm(dir, { recursive: true, force: true })
    },
  }
}
