/**
 * JetStream → Sluice → JetStream exactly-once under kill -9: the whole process is killed at random
 * moments (after checkpoints, and during start-up or restore), rerun until it finishes, and the
 * output stream then holds every input record exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jetstreamSink } from '../src/connectors/nats/jetstream-sink.ts'
import { SeededRandom } from '../src/testing/random.ts'
import { runAndKill } from './support/kill.ts'
import { requireService } from './support/services.ts'
import { cleanupStreams, createStream, NATS_SERVERS, readStream } from './support/nats.ts'
import { testSinkContext, writeAll } from '../src/connectors/sink-contract.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'sluice-nats-crash-'))
const N = 60_000

beforeAll(async () => requireService('nats'))
afterAll(async () => {
  await cleanupStreams()
  rmSync(dir, { recursive: true, force: true })
})

const job = (args: string[]): string[] => [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/nats-crash-job.ts', '--no-server', '--workers', '0', ...args]

describe('JetStream exactly-once under kill -9', () => {
  it('killed at 10 random moments and rerun until done, the output holds each record once', async () => {
    const input = await createStream('crash_in')
    // A duplicate window far shorter than a restart: the output is right only if the recovered
    // writers read back what they had published (the ids alone would not catch the repeats).
    const output = await createStream('crash_out', { duplicate_window: 100_000_000 })
    const seed = await jetstreamSink<{ i: number }>({ servers: NATS_SERVERS, stream: input, partitions: 2, guarantee: 'at-least-once' }).open(testSinkContext)
    await writeAll(seed, Array.from({ length: N }, (_, i) => ({ i })), [5000])
    const chk = join(dir, 'checkpoints')
    const env = { NATS_IN: input, NATS_OUT: output, NATS_SERVERS, CRASH_WORK_US: '40' }
    const args = ['--parallelism', '2', '--checkpoint-dir', chk, '--checkpoint-interval', '50ms']
    const rnd = new SeededRandom(11)
    let kills = 0
    let finished = false
    for (let k = 0; k < 10 && !finished; k++) {
      // The first kill lands after a checkpoint (a plain start before any is at-least-once); then
      // every fourth at a random moment of start-up or restore.
      const end = await runAndKill(job(args), { cwd: root, env, chk, rnd, early: k % 4 === 3, maxDelayMs: 300 })
      if (end.killed) kills++
      else {
        expect(end.code, end.stderr).toBe(0)
        finished = true
      }
    }
    if (!finished) {
      const last = spawnSync(process.execPath, job(args), { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 })
      expect(last.status, last.stderr).toBe(0)
    }
    expect(kills, 'the job was killed often before it could finish').toBeGreaterThanOrEqual(5)
    const out = (await readStream(output)).map((m) => JSON.parse(m.text) as { i: number; out: number })
    const seen = new Map<number, number>()
    for (const r of out) seen.set(r.i, (seen.get(r.i) ?? 0) + 1)
    const missing = Array.from({ length: N }, (_, i) => i).filter((i) => !seen.has(i))
    const twice = [...seen].filter(([, c]) => c > 1).map(([i]) => i)
    expect({ missing: missing.slice(0, 10), twice: twice.slice(0, 10), total: out.length }).toEqual({ missing: [], twice: [], total: N })
    expect(out.every((r) => r.out === r.i * 3)).toBe(true)
    // Up to eleven process starts: 320 s were seen at load 30 on 2 cores. A deadline, not a wait.
  }, 900_000)
})
