import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readAhead } from '../../../bin/read-ahead.js'
import { CheckpointStorage, decodeCheckpoint, encodeCheckpoint, prefetchCheckpoint, writeCheckpointFile, type Checkpoint } from './storage.ts'

const checkpoint = (id: number): Checkpoint => ({
  id, job: 'j', triggeredAt: 1000 + id, parallelism: 2, maxParallelism: 128, savepoint: false,
  tasks: [{ task: 'count', subtask: 0, operators: { count: [new Uint8Array([1, 2, id]), new Uint8Array([id, 9])] }, sources: { src: { next: id * 10 } }, sinks: { out: { length: id * 100 } }, watermark: id * 1000 }],
})

let dir: string
const logs: string[] = []
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-chk-'))
  logs.length = 0
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('checkpoint storage', () => {
  it('round-trips a checkpoint, state bytes included', () => {
    const c = checkpoint(7)
    const back = decodeCheckpoint(new Uint8Array(Buffer.concat(encodeCheckpoint(c))), 'test')
    // The state comes back as one view of the file's bytes.
    expect(back).toEqual({ ...c, tasks: [{ ...c.tasks[0], operators: { count: [new Uint8Array([1, 2, 7, 7, 9])] } }] })
    expect(back.tasks[0].operators.count[0]).toBeInstanceOf(Uint8Array)
  })

  it('keeps the newest N and loads the newest', async () => {
    const s = new CheckpointStorage(dir, 2, (l) => logs.push(l))
    for (const id of [1, 2, 3, 4]) await s.write(checkpoint(id))
    expect(s.ids()).toEqual([4, 3])
    expect(s.latest()?.id).toBe(4)
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([])
  })

  it('skips a corrupt or cut-short checkpoint for the previous complete one, and says so', async () => {
    const s = new CheckpointStorage(dir, 3, (l) => logs.push(l))
    await s.write(checkpoint(1))
    const p2 = await s.write(checkpoint(2))
    const p3 = await s.write(checkpoint(3))
    const bytes = readFileSync(p3)
    bytes[bytes.length - 1] ^= 0xff
    writeFileSync(p3, bytes)
    writeFileSync(p2, readFileSync(p2).subarray(0, 20))
    expect(s.latest()?.id).toBe(1)
    expect(logs).toEqual([
      expect.stringMatching(/skipping checkpoint 3: CHECKPOINT_CORRUPT: checkpoint .*checkpoint-3.sluice: checksum mismatch/),
      expect.stringMatching(/skipping checkpoint 2: CHECKPOINT_CORRUPT: .*checksum mismatch|skipping checkpoint 2: CHECKPOINT_CORRUPT/),
    ])
  })

  it('rejects other files and versions with a clear reason', () => {
    expect(() => decodeCheckpoint(new TextEncoder().encode('hello world, not a checkpoint'), 'x')).toThrow(/CHECKPOINT_CORRUPT: checkpoint x: not a Sluice checkpoint/)
    const b = Buffer.concat(encodeCheckpoint(checkpoint(1)))
    new DataView(b.buffer, b.byteOffset).setUint32(4, 99)
    expect(() => decodeCheckpoint(b, 'x')).toThrow(/format version 99; this Sluice reads version 2/)
  })

  it('clear() removes every checkpoint and leftover temporary file; an empty or missing directory has none', async () => {
    const s = new CheckpointStorage(dir)
    await s.write(checkpoint(1))
    writeFileSync(join(dir, 'checkpoint-2.sluice.tmp'), 'half')
    s.clear()
    expect(readdirSync(dir)).toEqual([])
    expect(new CheckpointStorage(join(dir, 'missing')).latest()).toBeNull()
  })

  it('takes a read-ahead file only while it is unchanged', async () => {
    const s = new CheckpointStorage(dir)
    const path = await s.write(checkpoint(1))
    // Read ahead by the CLI's entry (before its modules load), taken over here.
    readAhead(['run', 'job.ts', `--checkpoint-dir=${dir}`])
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('sluice.checkpoint-read-ahead')]).toBeDefined()
    await prefetchCheckpoint(dir)
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('sluice.checkpoint-read-ahead')]).toBeUndefined()
    expect(s.latest()?.tasks[0].sources).toEqual({ src: { next: 10 } })
    // Read ahead, then replaced by another checkpoint under the same name: the new one is loaded.
    await prefetchCheckpoint(dir)
    const other = Buffer.concat(encodeCheckpoint({ ...checkpoint(1), tasks: [{ ...checkpoint(1).tasks[0], sources: { src: { next: 99 } } }] }))
    writeFileSync(path, other)
    utimesSync(path, new Date(), new Date(Date.now() + 5000))
    expect(s.latest()?.tasks[0].sources).toEqual({ src: { next: 99 } })
  })

  it('regression: a failed write leaves no .tmp file', async () => {
    const s = new CheckpointStorage(dir)
    // The final name is taken by a non-empty directory: the rename fails after the file was written.
    mkdirSync(join(dir, 'checkpoint-5.sluice', 'in-the-way'), { recursive: true })
    await expect(s.write(checkpoint(5))).rejects.toThrow(/CHECKPOINT_IO: cannot write checkpoint 5 to /)
    expect(readdirSync(dir)).toEqual(['checkpoint-5.sluice'])
  })

  it('regression: concurrent writers of the same checkpoint name do not collide on the temporary name', async () => {
    // Two writers of checkpoint-73 (as two processes on one directory did): each has its own temp file.
    const paths = await Promise.all([1, 2, 3].map(() => writeCheckpointFile(dir, 'checkpoint-73.sluice', checkpoint(73))))
    expect(paths).toEqual([1, 2, 3].map(() => join(dir, 'checkpoint-73.sluice')))
    expect(readdirSync(dir)).toEqual(['checkpoint-73.sluice'])
  })

  it('an exclusive write never replaces an existing file', async () => {
    const path = await writeCheckpointFile(dir, 'savepoint-7.sluice', checkpoint(7), { exclusive: true })
    await expect(writeCheckpointFile(dir, 'savepoint-7.sluice', checkpoint(8), { exclusive: true })).rejects.toThrow(/savepoint-7.sluice already exists; it is not replaced/)
    expect(decodeCheckpoint(readFileSync(path), path).id).toBe(7)
    expect(readdirSync(dir)).toEqual(['savepoint-7.sluice'])
  })

  it('removes the temporary files of writers that died, and leaves those of live ones', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number
    const names = {
      dead: `checkpoint-3.sluice.${dead}-0a1b2c3d.tmp`,
      mine: `checkpoint-4.sluice.${process.pid}-0a1b2c3d.tmp`,
      old: 'checkpoint-2.sluice.tmp',
      liveSavepoint: `savepoint-9-20261207T081832Z-abcdef.sluice.${process.ppid}-0a1b2c3d.tmp`,
      checkpoint: 'checkpoint-1.sluice',
    }
    for (const n of Object.values(names)) writeFileSync(join(dir, n), 'x')
    expect(new CheckpointStorage(dir).removeStaleTemporaryFiles().sort()).toEqual([names.dead, names.mine, names.old].sort())
    expect(readdirSync(dir).sort()).toEqual([names.checkpoint, names.liveSavepoint].sort())
  })
})
