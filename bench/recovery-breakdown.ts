/**
 * Where the time of one large checkpoint and of its restore goes, phase by phase, in one thread
 * with the engine's own functions on the state of bench/fixtures/big-state-job.ts (a keyed reduce
 * keeping `{ k, v }`, `v` a VALUE_BYTES-character string, per key):
 *
 *   node bin/run-ts.js bench/recovery-breakdown.ts [keys=1000000] [valueBytes=100]
 *
 * Checkpoint: snapshotState (entries encoded as they are added) → encodeSnapshot (task.ts: header
 * + the entries' buffers) → encodeCheckpoint (storage.ts: manifest + CRC) → write + fsync + rename
 * (asynchronous: in a job, the task's thread goes on meanwhile). Restore: readFileSync → decodeCheckpoint (CRC + unpack) → decodeSnapshot →
 * restoreState. Prints one JSON line; the temp dir is removed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { reduceAggregate } from '../src/operators/aggregate.ts'
import { RollingAggregateOperator } from '../src/operators/rolling-aggregate.ts'
import type { OperatorContext, Output } from '../src/operators/types.ts'
import { CheckpointStorage, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/runtime/checkpoint/storage.ts'
import { ownsKeyGroups } from '../src/state/key-groups.ts'
import { decodeSnapshot, encodeSnapshot } from '../src/state/snapshot.ts'
import { snapshotBuffers } from '../src/state/value-codec.ts'
import { valueMaker, type Entry } from './fixtures/big-state-values.ts'

const KEYS = Number(process.argv[2] ?? '1000000')
const VALUE_BYTES = Number(process.argv[3] ?? '100')
const MAX_PARALLELISM = 128
/** The job's values (as in big-state-job.ts). */
const value = valueMaker(VALUE_BYTES)

const newOp = (): RollingAggregateOperator<number, Entry, unknown, Entry, Entry> => new RollingAggregateOperator<number, Entry, unknown, Entry, Entry>((e) => e.k, reduceAggregate<Entry>((_a, b) => b) as never, (_k, r) => r)
const ctx = { recordFailed: (_r: unknown, e: unknown) => { throw e } } as unknown as OperatorContext
const out: Output<Entry> = { emit: () => {} } as unknown as Output<Entry>

const phases: Record<string, number> = {}
function time<T>(name: string, f: () => T): T {
  const t0 = performance.now()
  const r = f()
  note(name, t0)
  return r
}
async function timeAsync<T>(name: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  const r = await f()
  note(name, t0)
  return r
}
function note(name: string, t0: number): void {
  phases[name] = Math.round(performance.now() - t0)
  process.stderr.write(`${name.padEnd(28)} ${String(phases[name]).padStart(6)} ms   rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB\n`)
}
const total = (chunks: readonly Uint8Array[]): number => chunks.reduce((n, b) => n + b.length, 0)

const op = newOp()
op.open(ctx)
time('build state (processBatch)', () => {
  for (let base = 0; base < KEYS; base += 1024) {
    const records: Entry[] = []
    const times: number[] = []
    for (let n = base; n < Math.min(KEYS, base + 1024); n++) {
      records.push({ k: n, v: value(n) })
      times.push(0)
    }
    op.processBatch({ records, times }, ctx, out)
  }
})

// ---- checkpoint -------------------------------------------------------------------------------
const snap = time('snapshotState', () => op.snapshotState({ maxParallelism: MAX_PARALLELISM }))
const bytes = time('encodeSnapshot', () => encodeSnapshot(snap))
// A job's next checkpoint writes into the buffers the last one released (value-codec's pool):
// measured on a throw-away snapshot whose buffers go back to the pool.
const spare = op.snapshotState({ maxParallelism: MAX_PARALLELISM })
snapshotBuffers.release(spare.entries)
time('snapshotState (reusing buffers)', () => op.snapshotState({ maxParallelism: MAX_PARALLELISM }))
const c: Checkpoint = { id: 1, job: 'breakdown', triggeredAt: Date.now(), parallelism: 1, maxParallelism: MAX_PARALLELISM, savepoint: false, tasks: [{ task: 'latest', subtask: 0, operators: { latest: bytes }, sources: {}, sinks: {}, watermark: null }] }
const file = time('encodeCheckpoint', () => encodeCheckpoint(c))
const dir = mkdtempSync(join(tmpdir(), 'sluice-breakdown-'))
try {
  const storage = new CheckpointStorage(dir, 3, () => {})
  // write() encodes again: the file-system part is write() minus encodeCheckpoint.
  await timeAsync('storage.write (encode+io)', () => storage.write(c))
  phases['write+fsync+rename'] = phases['storage.write (encode+io)'] - phases.encodeCheckpoint

  // ---- restore --------------------------------------------------------------------------------
  const raw = time('readFileSync', () => readFileSync(join(dir, 'checkpoint-1.sluice')))
  const loaded = time('decodeCheckpoint', () => decodeCheckpoint(raw, 'breakdown'))
  const owns = ownsKeyGroups(0, MAX_PARALLELISM, 1)
  const parts = time('decodeSnapshot', () => [decodeSnapshot(loaded.tasks[0].operators.latest[0])])
  const restored = newOp()
  restored.open(ctx)
  time('restoreState', () => restored.restoreState(parts, owns))
  if (restored.stateEntries() !== KEYS) throw new Error(`restored ${restored.stateEntries()} keys, expected ${KEYS}`)
  const checkpointMs = phases.snapshotState + phases.encodeSnapshot + phases['storage.write (encode+io)']
  const restoreMs = phases.readFileSync + phases.decodeCheckpoint + phases.decodeSnapshot + phases.restoreState
  process.stdout.write(`${JSON.stringify({ case: 'recovery-breakdown', keys: KEYS, valueBytes: VALUE_BYTES, stateBytes: total(bytes), fileBytes: total(file), phases, checkpointMs, restoreMs, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
