/**
 * The exclusive lock on a checkpoint directory: one job (one process) at a time resumes from and
 * writes to it. Two writers would resume from each other's checkpoints and write the same output.
 *
 * The lock is a file, `sluice.lock`, holding the holder's pid, host, start time and job. It is
 * created complete (written under a temporary name, then hard-linked to the lock's name, which
 * fails if it exists), so no reader ever sees a half-written lock. A lock whose holder is on this
 * host and no longer alive is stale (a kill -9, a crash) and taken over with a log line; a live
 * holder, or one on another host (whose liveness cannot be checked), is refused with
 * CHECKPOINT_LOCKED naming it. Released when the job ends, and on process exit.
 *
 * Pids are reused (pid_max is 32 768 on many Linux hosts), so on Linux the lock also records the
 * holder's process start time (/proc/<pid>/stat): a live process with the holder's pid but another
 * start time is not the holder.
 *
 * Concurrency rule: a takeover reads the lock again just before removing it and removes it only if
 * it still names the dead holder, so two processes taking over the same stale lock cannot both
 * win (the loser then finds the winner's live lock).
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { SluiceError, describeCause } from '../../errors.ts'
import { CheckpointStorage, processAlive, temporaryName } from './storage.ts'

/** The lock file's name in a checkpoint directory (bin/read-ahead.js reads only `checkpoint-<id>.sluice`). */
export const LOCK_FILE = 'sluice.lock'

/** What a lock file holds. */
export interface LockHolder {
  readonly pid: number
  readonly host: string
  /** ISO time the lock was taken. */
  readonly since: string
  readonly job: string
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22); null off Linux. */
  readonly processStart: number | null
}

/** Locks held by this process, by lock path: released on exit; a lock naming this pid and not here is stale. */
const held = new Map<string, CheckpointDirLock>()
let exitHookInstalled = false

export class CheckpointDirLock {
  private released = false

  private constructor(
    /** The lock file's path. */
    readonly path: string,
    readonly holder: LockHolder,
  ) {}

  /**
   * Takes the lock on `dir` (created if missing) for `job`, or throws CHECKPOINT_LOCKED naming the
   * holder. Synchronous: it runs before anything is read from the directory.
   */
  static acquire(dir: string, job: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): CheckpointDirLock {
    const path = join(resolve(dir), LOCK_FILE)
    const mine: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), job, processStart: processStart(process.pid) }
    try {
      mkdirSync(dir, { recursive: true })
    } catch (e) {
      throw new SluiceError('CHECKPOINT_IO', `cannot create the checkpoint directory ${dir}: ${describeCause(e)}`, { cause: e })
    }
    // Bounded: each round either takes the lock, refuses, or removes one stale lock.
    for (let round = 0; round < 5; round++) {
      if (create(path, mine)) {
        const lock = new CheckpointDirLock(path, mine)
        held.set(path, lock)
        installExitHook()
        return lock
      }
      const text = readLock(path)
      if (text === null) continue // removed meanwhile: try again
      const other = parse(text)
      if (other === null) {
        // Only a Sluice of another format (or a hand-made file) writes something else here.
        throw new SluiceError('CHECKPOINT_LOCKED', `checkpoint directory ${dir} has a lock file ${path} that Sluice cannot read; if no job uses this directory, remove it`)
      }
      if (!isStale(other, path)) throw lockedError(dir, path, other)
      // Remove it only if it still names the dead holder (see the concurrency rule above).
      if (readLock(path) !== text) continue
      rmSync(path, { force: true })
      log(`sluice: taking over the lock on ${dir} from process ${other.pid} on ${other.host} (job "${other.job}", since ${other.since}), which is no longer running`)
    }
    throw new SluiceError('CHECKPOINT_LOCKED', `checkpoint directory ${dir}: the lock ${path} keeps changing hands; another process is starting with the same directory`)
  }

  /** Gives the lock up (idempotent); a lock file that no longer names this holder is left alone. */
  release(): void {
    if (this.released) return
    this.released = true
    held.delete(this.path)
    const text = readLock(this.path)
    const now = text === null ? null : parse(text)
    if (now !== null && now.pid === this.holder.pid && now.since === this.holder.since && now.host === this.holder.host) rmSync(this.path, { force: true })
  }
}

/** Creates the lock file with `holder` in it at once; false if it exists. */
function create(path: string, holder: LockHolder): boolean {
  const tmp = temporaryName(path)
  try {
    writeFileSync(tmp, `${JSON.stringify(holder)}\n`, { flag: 'wx' })
    try {
      linkSync(tmp, path)
      return true
    } catch (e) {
      const code = (e as { code?: unknown }).code
      if (code === 'EEXIST') return false
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e
    }
    // No hard links on this file system: an exclusive create, written at once (a reader in the
    // moment between sees an empty file and refuses, which is safe).
    try {
      writeFileSync(path, `${JSON.stringify(holder)}\n`, { flag: 'wx' })
      return true
    } catch (e) {
      if ((e as { code?: unknown }).code === 'EEXIST') return false
      throw e
    }
  } catch (e) {
    throw new SluiceError('CHECKPOINT_IO', `cannot create the lock ${path}: ${describeCause(e)}`, { cause: e })
  } finally {
    rmSync(tmp, { force: true })
  }
}

function readLock(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function parse(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>
    if (typeof h.pid !== 'number' || typeof h.host !== 'string' || typeof h.since !== 'string') return null
    return { pid: h.pid, host: h.host, since: h.since, job: typeof h.job === 'string' ? h.job : '?', processStart: typeof h.processStart === 'number' ? h.processStart : null }
  } catch {
    return null
  }
}

/**
 * A holder on this host that is not running. This process's own pid counts as stale unless this
 * process holds the lock: a restarted container often gets the pid its previous run had.
 */
function isStale(h: LockHolder, path: string): boolean {
  if (h.host !== hostname()) return false
  if (h.pid === process.pid) return !held.has(path)
  if (!processAlive(h.pid)) return true
  const start = h.processStart === null ? null : processStart(h.pid)
  return start !== null && start !== h.processStart
}

/** When process `pid` started, in clock ticks since boot (Linux); null where that cannot be read. */
function processStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may hold spaces: state is field 3.
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3])
    return Number.isSafeInteger(start) ? start : null
  } catch {
    return null
  }
}

function lockedError(dir: string, path: string, h: LockHolder): SluiceError {
  const where = h.host === hostname() ? `process ${h.pid} on this host (${h.host})` : `process ${h.pid} on host ${h.host}`
  const gone = h.host === hostname() ? '' : `; if that process is gone (its host cannot be asked), remove ${path}`
  return new SluiceError('CHECKPOINT_LOCKED', `checkpoint directory ${dir} is in use by job "${h.job}", ${where}, since ${h.since}: stop that job first, or give this one its own --checkpoint-dir${gone}`)
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const lock of [...held.values()]) lock.release()
  })
}

/**
 * Takes the lock on a job's checkpoint directory, then removes the temporary files of writers that
 * died there (with a log line): what a job does before it reads anything from the directory.
 */
export function lockCheckpointDir(dir: string, job: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): CheckpointDirLock {
  const lock = CheckpointDirLock.acquire(dir, job, log)
  const removed = new CheckpointStorage(dir, 1, log).removeStaleTemporaryFiles()
  if (removed.length > 0) log(`sluice: removed ${removed.length} temporary file${removed.length === 1 ? '' : 's'} left in ${dir} by writers that stopped: ${removed.join(', ')}`)
  return lock
}
