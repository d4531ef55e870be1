/**
 * Savepoints: stop a job with a savepoint, change the job (keeping its stateful operators' ids),
 * and start the new job from the savepoint — the output is exactly a fault-free run's. A removed
 * stateful operator needs allowNonRestoredState; a changed state type is refused clearly.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Pipeline, boundedOutOfOrderness, count, tumbling } from '../src/index.ts'
import { fileSink, fileSource, generatorSource } from '../src/connectors/index.ts'
import type { Sink } from '../src/connectors/spi.ts'
import { readCheckpointFile } from '../src/runtime/checkpoint/storage.ts'
import { until } from '../src/testing/index.ts'
import { SeededRandom } from '../src/testing/random.ts'

interface Click { user: string; ts: number }
let dir: string
let input: string
let reference: string

type Variant = 'v1' | 'v2-extra-map' | 'v3-no-window' | 'v4-other-state'

function job(variant: Variant, out: string): Pipeline {
  const p = new Pipeline('clicks')
  const clicks = p.source('clicks', fileSource<Click>(input), { watermarks: boundedOutOfOrderness({ timestamp: (c: Click) => c.ts, maxOutOfOrdernessMs: 1000 }) })
  if (variant === 'v3-no-window') {
    clicks.map('plain', (c) => ({ user: c.user })).to('out', fileSink(out))
    return p
  }
  const keyed = (variant === 'v2-extra-map' ? clicks.filter('only-valid', (c) => typeof c.user === 'string') : clicks).keyBy((c) => c.user)
  if (variant === 'v4-other-state') {
    keyed.aggregate('per-user', count(), (user, n) => ({ user, n })).to('out', fileSink(out))
    return p
  }
  keyed.window(tumbling(10_000)).aggregate('per-user', count(), (user, w, n) => ({ user, start: w.start, n })).to('out', fileSink(out))
  return p
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-savepoint-'))
  input = join(dir, 'clicks.jsonl')
  const rnd = new SeededRandom(9)
  const lines: string[] = []
  for (let i = 0; i < 400_000; i++) lines.push(JSON.stringify({ user: `u${Math.floor(rnd.float() * 300)}`, ts: i * 10 - Math.floor(rnd.float() * 800) }))
  writeFileSync(input, `${lines.join('\n')}\n`)
  reference = join(dir, 'reference.jsonl')
  await job('v1', reference).run().done
}, 60_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs v1 until it has read `records`, then stops it with a savepoint; returns the savepoint's path. */
async function stopWithSavepoint(out: string, records: number): Promise<string> {
  const h = job('v1', out).run({ checkpoints: { dir: `${out}.checkpoints`, intervalMs: 50 } })
  while (h.status() === 'running' && (h.metrics().operators.find((o) => o.operator === 'clicks')?.recordsOut ?? 0) < records) await new Promise((r) => setTimeout(r, 5))
  const path = await h.savepoint(join(dir, 'savepoints'), { stop: true })
  const r = await h.done
  expect(r.status).toBe('stopped')
  return path
}

describe('savepoints', () => {
  it('stop-with-savepoint, then a changed job with the same stateful ids continues exactly', async () => {
    const out = join(dir, 'upgrade.jsonl')
    const path = await stopWithSavepoint(out, 150_000)
    expect(path).toMatch(/savepoints\/savepoint-\d+-\d{8}T\d{6}Z-[0-9a-f]{6}\.sluice$/)
    const r = await job('v2-extra-map', out).run({ checkpoints: { dir: join(dir, 'chk-v2'), intervalMs: 50, fromSavepoint: path } }).done
    expect(r.status).toBe('finished')
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(reference, 'utf8'))
  }, 60_000)

  it('a removed stateful operator needs allowNonRestoredState', async () => {
    const out = join(dir, 'removed.jsonl')
    const path = await stopWithSavepoint(out, 100_000)
    expect(() => job('v3-no-window', out).run({ checkpoints: { dir: join(dir, 'chk-v3'), intervalMs: 50, fromSavepoint: path } })).toThrow(/CHECKPOINT_INCOMPATIBLE: checkpoint \d+ has state for "per-user", which this job no longer has; pass --allow-non-restored-state/)
    const r = await job('v3-no-window', out).run({ checkpoints: { dir: join(dir, 'chk-v3b'), intervalMs: 50, fromSavepoint: path, allowNonRestoredState: true } }).done
    expect(r.status).toBe('finished')
  }, 60_000)

  it('a stateful operator whose state type changed is refused with a clear error', async () => {
    const path = await stopWithSavepoint(join(dir, 'typed.jsonl'), 100_000)
    await expect(job('v4-other-state', join(dir, 'typed.jsonl')).run({ checkpoints: { dir: join(dir, 'chk-v4'), intervalMs: 50, fromSavepoint: path } }).done)
      .rejects.toThrow(/CHECKPOINT_INCOMPATIBLE: cannot restore a rolling-aggregate operator from the snapshot of a pane-window operator/)
  }, 60_000)

  it('a job without checkpoints says how to take a savepoint', async () => {
    const h = job('v1', join(dir, 'none.jsonl')).run()
    await expect(h.savepoint(join(dir, 'sp'))).rejects.toThrow(/takes no checkpoints, so it cannot take a savepoint; run it with checkpoints/)
    await h.done
  }, 60_000)
})

/** An unbounded keyed count; its sink fails its next write when told (SINK_IO: the job restarts). */
function endless(name: string): { p: Pipeline; sink: Sink<unknown> & { writes: number; failNext: boolean } } {
  const sink = {
    kind: 'flaky', writes: 0, failNext: false,
    open: () => ({
      write: () => {
        if (sink.failNext) {
          sink.failNext = false
          throw new Error('lost the connection')
        }
        sink.writes++
      },
    }),
  }
  const p = new Pipeline(name)
  p.source('n', generatorSource((i) => ({ user: `u${i % 100}` }))).keyBy((c) => c.user).aggregate('per-user', count(), (user, n) => ({ user, n })).to('out', sink)
  return { p, sink }
}

const WAIT = 60_000

describe('savepoints and failures', () => {
  it('regression: a savepoint that cannot be written fails alone: the job runs on, the caller learns why, a later savepoint succeeds', async () => {
    const { p } = endless('sp-fails')
    const h = p.run({ checkpoints: { dir: join(dir, 'fails-chk'), intervalMs: 20 } })
    await until(() => (h.checkpoints()?.completed ?? 0) >= 1, WAIT)
    // A directory under a regular file cannot be created (as `?dir=/proc` could not).
    const bad = join(input, 'savepoints')
    await expect(h.savepoint(bad)).rejects.toThrow(/^SAVEPOINT_FAILED: savepoint \d+ failed: CHECKPOINT_IO: cannot write savepoint \d+ to .*clicks\.jsonl\/savepoints: .*; the job keeps running$/)
    expect(h.status()).toBe('running')
    const s = h.checkpoints()
    expect(s?.restarts).toBe(0)
    expect(s?.history.filter((r) => r.kind === 'savepoint')).toEqual([expect.objectContaining({ status: 'failed', failure: expect.stringMatching(/CHECKPOINT_IO: cannot write savepoint/) })])
    const before = s?.completed ?? 0
    const path = await h.savepoint(join(dir, 'fails-sp'))
    expect(readCheckpointFile(path).savepoint).toBe(true)
    await until(() => (h.checkpoints()?.completed ?? 0) > before + 1, WAIT)
    expect((await h.stop()).status).toBe('stopped')
    await expect(h.savepoint(join(dir, 'fails-sp'))).rejects.toThrow(/^JOB_NOT_RUNNING: cannot take a savepoint: the job stopped before it was taken/)
  }, 120_000)

  it('regression: a savepoint asked for while the job restarts waits for the restarted attempt', async () => {
    const { p, sink } = endless('sp-restart')
    const h = p.run({ checkpoints: { dir: join(dir, 'restart-chk'), intervalMs: 20 }, restart: { attempts: 3, delayMs: 50 } })
    await until(() => (h.checkpoints()?.completed ?? 0) >= 1, WAIT)
    // Asked for as the job restarts: the failed attempt can take none.
    let asked: Promise<string> | null = null
    h.onRestart(() => {
      asked = h.savepoint(join(dir, 'restart-sp'))
    })
    sink.failNext = true
    await until(() => asked !== null, WAIT)
    const path = await (asked as unknown as Promise<string>)
    expect(readCheckpointFile(path).savepoint).toBe(true)
    expect(h.status()).toBe('running')
    expect(h.checkpoints()?.restarts).toBe(1)
    expect((await h.stop()).status).toBe('stopped')
  }, 120_000)

  it('regression: savepoints after a resume do not replace each other (ids repeat, names do not)', async () => {
    const chk = join(dir, 'resume-chk')
    const sp = join(dir, 'resume-sp')
    const first = endless('sp-resume').p.run({ checkpoints: { dir: chk, intervalMs: 20 } })
    await until(() => (first.checkpoints()?.completed ?? 0) >= 1, WAIT)
    await first.stop()
    // Two runs resume from the same checkpoint N (no periodic checkpoint within a minute), so
    // both savepoints get id N + 1.
    const paths: string[] = []
    for (let i = 0; i < 2; i++) {
      const h = endless('sp-resume').p.run({ checkpoints: { dir: chk, intervalMs: 60_000 } })
      paths.push(await h.savepoint(sp, { stop: true }))
      await h.done
    }
    const [a, b] = paths.map((x) => readCheckpointFile(x))
    expect(a.id).toBe(b.id)
    expect(paths[0]).not.toBe(paths[1])
    expect(readdirSync(sp).sort()).toEqual(paths.map((x) => x.slice(sp.length + 1)).sort())
    expect(paths.every((x) => existsSync(x))).toBe(true)
  }, 120_000)
})

