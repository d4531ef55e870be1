/**
 * Checkpoints of an asynchronous operator fed across worker threads while its service is stalled
 * (issue 14, item 3: "a checkpoint does not wait for a slow service longer than needed to snapshot
 * what is in flight"). The keyed mapAsync's input comes through ring channels from the other
 * worker; with every slot in use the task takes no more records, so a barrier queued behind
 * records in the ring is looked for in the ring and taken past them (RingInChannel.overtakeBarrier):
 * checkpoints keep completing, and they hold the records in calls and the ones queued before the
 * barrier. A second run from the last one, with a service that answers, writes each record once.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_MAX_PARALLELISM, keyGroupOf, subtaskOfKeyGroup } from '../src/state/key-groups.ts'
import { until } from '../src/testing/until.ts'
import { checkpointedKeyedPipeline } from './fixtures/async-stall-job.ts'

// More than the stalled run can read into its queues: its source must not end (a job whose sources
// have ended takes no periodic checkpoint, only the final one).
const RECORDS = 200_000
let dir: string | undefined

afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

/** A key whose key group subtask 1 of 2 owns: with every record under it, all go through the ring. */
function keyOfSubtask1(): number {
  let k = 0
  while (subtaskOfKeyGroup(keyGroupOf(k, DEFAULT_MAX_PARALLELISM), DEFAULT_MAX_PARALLELISM, 2) !== 1) k++
  return k
}

const CASES = [
  { name: '100 keys over both subtasks (one through a ring)', shape: {}, inFlight: 8 },
  // The source's batches of 1 000 do not fill the ring's 16 384 records evenly: the last one waits
  // in the producer's channel, and the barrier behind it would wait for the consumer to take
  // records, which a full operator does not (no checkpoint completed before the fix): that data
  // goes into the ring over its records budget, then the barrier.
  { name: 'every record through the ring, the barrier behind data the full ring had no room for', shape: { oneKey: keyOfSubtask1(), batchSize: 1000 }, inFlight: 4 },
]

describe('an async operator fed across worker threads, its service stalled', () => {
  it.each(CASES)('$name: checkpoints keep completing (the barrier is taken past the records queued in the ring), and a run from the last one writes each record once', async ({ shape, inFlight: slots }) => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-async-threads-'))
    const out = join(dir, 'out.jsonl')
    const chk = join(dir, 'chk')
    const run = (stall: boolean) => checkpointedKeyedPipeline({ records: RECORDS, out, stall, ...shape }).run({ parallelism: 2, workers: 2, checkpoints: { dir: chk, intervalMs: 50, timeoutMs: 600_000 }, restart: false })
    const first = run(true)
    try {
      const inFlight = (): number => first.metrics().operators.filter((o) => o.operator === 'call').reduce((n, o) => n + (o.calls?.inFlight ?? 0), 0)
      const queued = (): number => first.metrics().tasks.filter((t) => t.operators.includes('call')).reduce((n, t) => n + (t.inputQueueUsage ?? 0), 0)
      // Every slot in use and records queued in the rings behind them: without the look-through,
      // no barrier could reach the operator until a call answered, which none does.
      await until(() => inFlight() === slots && queued() > 0, 60_000)
      const before = first.checkpoints()?.completed ?? 0
      await until(() => (first.checkpoints()?.completed ?? 0) >= before + 3, 120_000)
    } finally {
      await first.stop()
    }
    const second = run(false)
    expect((await second.done).status).toBe('finished')
    expect(second.checkpoints()?.restoredFrom).not.toBeNull()
    const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map(Number)
    expect(lines.length).toBe(RECORDS)
    expect(new Set(lines).size).toBe(RECORDS)
    expect(lines.every((x) => x % 10 === 0 && x / 10 < RECORDS)).toBe(true)
  }, 300_000)
})
