import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readAhead } from '../../../bin/read-ahead.js'
import { CheckpointDirLock, LOCK_FILE, lockCheckpointDir } from './lock.ts'
import { CheckpointStorage } from './storage.ts'

let dir: string
const logs: string[] = []
const log = (l: string): void => void logs.push(l)
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-lock-'))
  logs.length = 0
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const holder = (pid: number, host = hostname()): string => `${JSON.stringify({ pid, host, since: '2026-12-07T08:00:00.000Z', job: 'other' })}\n`
/** A pid that was just used and is no longer running. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid as number

describe('checkpoint directory lock', () => {
  it('holds pid, host, start time and job while held; release removes it', () => {
    const lock = CheckpointDirLock.acquire(join(dir, 'chk'), 'q5', log)
    const file = JSON.parse(readFileSync(join(dir, 'chk', LOCK_FILE), 'utf8')) as Record<string, unknown>
    expect(file).toEqual({ pid: process.pid, host: hostname(), since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), job: 'q5', processStart: expect.any(Number) })
    expect(readdirSync(join(dir, 'chk'))).toEqual([LOCK_FILE])
    lock.release()
    expect(existsSync(join(dir, 'chk', LOCK_FILE))).toBe(false)
  })

  it('regression: a directory locked by a live process is refused, naming the holder and what to do', () => {
    // The vitest main process is alive and is not this one.
    writeFileSync(join(dir, LOCK_FILE), holder(process.ppid))
    expect(() => CheckpointDirLock.acquire(dir, 'q5', log)).toThrow(new RegExp(`CHECKPOINT_LOCKED: checkpoint directory ${dir} is in use by job "other", process ${process.ppid} on this host \\(${hostname()}\\), since 2026-12-07T08:00:00.000Z: stop that job first, or give this one its own --checkpoint-dir`))
    // Left as it was.
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(holder(process.ppid))
  })

  it('a second job in the same process is refused too', () => {
    const lock = CheckpointDirLock.acquire(dir, 'first', log)
    expect(() => CheckpointDirLock.acquire(dir, 'second', log)).toThrow(new RegExp(`in use by job "first", process ${process.pid} on this host`))
    lock.release()
    CheckpointDirLock.acquire(dir, 'second', log).release()
  })

  it('regression: a stale lock (its process is gone) is taken over with a log line', () => {
    const pid = deadPid()
    writeFileSync(join(dir, LOCK_FILE), holder(pid))
    const lock = CheckpointDirLock.acquire(dir, 'q5', log)
    expect(logs).toEqual([`sluice: taking over the lock on ${dir} from process ${pid} on ${hostname()} (job "other", since 2026-12-07T08:00:00.000Z), which is no longer running`])
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, job: 'q5' })
    lock.release()
  })

  it('regression: a live process that reuses a dead holder\'s pid is not the holder (its start time differs)', () => {
    // The vitest main process is alive; the lock says the holder with its pid started at another time.
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.ppid, host: hostname(), since: '2026-12-07T08:00:00.000Z', job: 'other', processStart: 1 })}\n`)
    CheckpointDirLock.acquire(dir, 'q5', log).release()
    expect(logs).toEqual([expect.stringMatching(new RegExp(`taking over the lock on .* from process ${process.ppid} .*which is no longer running`))])
  })

  it('a lock naming this pid that this process does not hold is stale (a restarted container reuses its pid)', () => {
    writeFileSync(join(dir, LOCK_FILE), holder(process.pid))
    CheckpointDirLock.acquire(dir, 'q5', log).release()
    expect(logs).toHaveLength(1)
  })

  it('a holder on another host cannot be checked, so it is refused with how to clear it', () => {
    writeFileSync(join(dir, LOCK_FILE), holder(deadPid(), 'elsewhere'))
    expect(() => CheckpointDirLock.acquire(dir, 'q5', log)).toThrow(new RegExp(`in use by job "other", process \\d+ on host elsewhere, .*; if that process is gone \\(its host cannot be asked\\), remove ${join(dir, LOCK_FILE)}`))
  })

  it('release leaves a lock that is no longer this holder\'s alone', () => {
    const lock = CheckpointDirLock.acquire(dir, 'q5', log)
    writeFileSync(join(dir, LOCK_FILE), holder(process.ppid))
    lock.release()
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(holder(process.ppid))
  })

  it('taking the lock removes temporary files of dead writers; the lock file is no checkpoint to the read-ahead or the storage', async () => {
    const stale = `checkpoint-3.sluice.${deadPid()}-0a1b2c3d.tmp`
    writeFileSync(join(dir, stale), 'half')
    const lock = lockCheckpointDir(dir, 'q5', log)
    expect(logs).toEqual([`sluice: removed 1 temporary file left in ${dir} by writers that stopped: ${stale}`])
    expect(readdirSync(dir)).toEqual([LOCK_FILE])
    readAhead(['run', 'job.ts', '--checkpoint-dir', dir])
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('sluice.checkpoint-read-ahead')]).toBeUndefined()
    expect(new CheckpointStorage(dir).ids()).toEqual([])
    lock.release()
  })
})
