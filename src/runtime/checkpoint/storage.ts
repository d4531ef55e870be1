/**
 * Checkpoint files in a local directory. One file per completed checkpoint,
 * `checkpoint-<id>.sluice`. Written to a temporary name unique to the writer
 * (`<name>.<pid>-<random>.tmp`), fsynced, renamed, and the directory fsynced, so a crash leaves
 * either the old set or the new file, never half a file under the final name. A write that fails
 * removes its temporary file; those of writers that died are removed when a job takes the
 * directory's lock (lock.ts). The writing is asynchronous (libuv's thread pool): the job's thread
 * goes on meanwhile. Loading takes the newest file that verifies; a corrupt or partial one is
 * skipped with a log line for the previous complete one.
 *
 * Byte format, version 2 (integers big-endian):
 * ```
 * bytes 0..3    magic "SLCK"
 * bytes 4..7    format version
 * bytes 8..11   CRC-32 of everything after byte 15
 * bytes 12..15  length M of the manifest
 * next M bytes  MessagePack: the Checkpoint, each task's `operators` as operator id → byte length
 * the rest      the operators' encoded state, task by task, operator by operator in manifest order
 * ```
 * The state is written from the tasks' own buffers (no copy into one body) and read back as views
 * of the file's bytes.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { Packr, Unpackr } from 'msgpackr'
import { msgpackr } from '../exchange/codec/msgpackr.ts'
import type { SinkCommit } from '../../connectors/spi.ts'
import type { RecordCounts } from '../../metrics/task-metrics.ts'
import { SluiceError, describeCause, reasonOf } from '../../errors.ts'

const MAGIC = 0x534c434b // "SLCK"
export const CHECKPOINT_FORMAT_VERSION = 2
const HEADER_BYTES = 16
const NAME = /^checkpoint-(\d+)\.sluice$/
/** A temporary file: `<final name>.<writer's pid>-<random>.tmp`, or `<final name>.tmp` before writers named themselves. */
const TEMPORARY = /^(.+\.(?:sluice|lock))(?:\.(\d+)-[0-9a-f]+)?\.tmp$/

/** What one task contributed to a checkpoint. */
export interface TaskSnapshot {
  /** Chain head id and subtask: `${task}#${subtask}`. */
  readonly task: string
  readonly subtask: number
  /** Operator id → its encoded state (key-group partitioned where keyed), in one or more chunks. */
  readonly operators: Record<string, readonly Uint8Array[]>
  /** Source id → its reader's position, for a task that starts with a source. */
  readonly sources: Record<string, unknown>
  /** Sink id → what its pre-commit returned (to commit, or to recover to). */
  readonly sinks: Record<string, unknown>
  /** The task's watermark at the barrier (null: none yet). */
  readonly watermark: number | null
}

export interface Checkpoint {
  readonly id: number
  readonly job: string
  /** Epoch ms when the checkpoint was triggered. */
  readonly triggeredAt: number
  readonly parallelism: number
  readonly maxParallelism: number
  /** A savepoint is kept until removed by hand; checkpoints are retained by count. */
  readonly savepoint: boolean
  readonly tasks: readonly TaskSnapshot[]
  /** Operators' counters up to this checkpoint since the job first started (absent in older files). */
  readonly counts?: RecordCounts
  /** The dead-letter sinks' commits, by position in deadLetterSinks(graph) (null: the sink keeps none). */
  readonly deadLetters?: readonly (SinkCommit | null)[]
  /** Taken at the end of the input (see FINAL_CHECKPOINT): a run resuming from it only commits and ends. */
  readonly final?: boolean
}

/** The manifest's codec, made on the first checkpoint written or read. */
let manifestCodec: { packr: Packr; unpackr: Unpackr } | null = null
function manifests(): { packr: Packr; unpackr: Unpackr } {
  if (manifestCodec === null) {
    const { Packr, Unpackr } = msgpackr()
    manifestCodec = { packr: new Packr({ useRecords: false }), unpackr: new Unpackr({ useRecords: false }) }
  }
  return manifestCodec
}

/** The checkpoint's bytes, as a list of chunks to write one after another (see the format). */
export function encodeCheckpoint(c: Checkpoint): Uint8Array[] {
  const blobs: Uint8Array[] = []
  const tasks = c.tasks.map((t) => {
    const lengths: Record<string, number> = {}
    for (const [id, chunks] of Object.entries(t.operators)) {
      let n = 0
      for (const b of chunks) {
        blobs.push(b)
        n += b.length
      }
      lengths[id] = n
    }
    return { ...t, operators: lengths }
  })
  const manifest = manifests().packr.pack({ ...c, tasks })
  let crc = crc32(manifest)
  for (const b of blobs) crc = crc32(b, crc)
  const header = new Uint8Array(HEADER_BYTES)
  const view = new DataView(header.buffer)
  view.setUint32(0, MAGIC)
  view.setUint32(4, CHECKPOINT_FORMAT_VERSION)
  view.setUint32(8, crc)
  view.setUint32(12, manifest.length)
  return [header, manifest, ...blobs]
}

/** Reads a checkpoint file's bytes; its operators' state is a view of `bytes`. */
export function decodeCheckpoint(bytes: Uint8Array, what: string): Checkpoint {
  if (bytes.length < HEADER_BYTES) throw corrupt(what, `${bytes.length} bytes, shorter than the header`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== MAGIC) throw corrupt(what, 'not a Sluice checkpoint (bad magic number)')
  const version = view.getUint32(4)
  if (version !== CHECKPOINT_FORMAT_VERSION) throw corrupt(what, `format version ${version}; this Sluice reads version ${CHECKPOINT_FORMAT_VERSION}`)
  if (crc32(bytes.subarray(HEADER_BYTES)) !== view.getUint32(8)) throw corrupt(what, 'checksum mismatch (the file is damaged or was cut short)')
  const m = view.getUint32(12)
  if (HEADER_BYTES + m > bytes.length) throw corrupt(what, `manifest of ${m} bytes in a file of ${bytes.length}`)
  let manifest: Omit<Checkpoint, 'tasks'> & { tasks: (Omit<TaskSnapshot, 'operators'> & { operators: Record<string, number> })[] }
  try {
    manifest = manifests().unpackr.unpack(bytes.subarray(HEADER_BYTES, HEADER_BYTES + m)) as typeof manifest
  } catch (e) {
    throw corrupt(what, `cannot decode: ${describeCause(e)}`)
  }
  let at = HEADER_BYTES + m
  const tasks = manifest.tasks.map((t) => {
    const operators: Record<string, readonly Uint8Array[]> = {}
    for (const [id, n] of Object.entries(t.operators)) {
      if (!Number.isInteger(n) || n < 0 || at + n > bytes.length) throw corrupt(what, `state of "${id}" runs past the end of the file`)
      operators[id] = [bytes.subarray(at, at + n)]
      at += n
    }
    return { ...t, operators }
  })
  if (at !== bytes.length) throw corrupt(what, `${bytes.length - at} bytes after the last state`)
  return { ...manifest, tasks }
}

function corrupt(what: string, why: string): SluiceError {
  return new SluiceError('CHECKPOINT_CORRUPT', `checkpoint ${what}: ${why}`)
}

export class CheckpointStorage {
  constructor(
    readonly dir: string,
    /** Completed checkpoints kept (savepoints are never removed here). */
    private readonly retain = 3,
    private readonly log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {
    if (!Number.isInteger(retain) || retain < 1) throw new SluiceError('CHECKPOINT_OPTION_INVALID', `checkpoints to retain must be a whole number >= 1, got ${retain}`)
  }

  /** Writes a completed checkpoint durably, then drops the oldest beyond `retain`. Resolves with its path. */
  async write(c: Checkpoint): Promise<string> {
    const path = await writeCheckpointFile(this.dir, `checkpoint-${c.id}.sluice`, c)
    this.prune()
    return path
  }

  /** Ids of checkpoint files present, newest first. */
  ids(): number[] {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return []
    }
    return names.flatMap((n) => {
      const m = NAME.exec(n)
      return m === null ? [] : [Number(m[1])]
    }).sort((a, b) => b - a)
  }

  /** The newest checkpoint that verifies, or null; corrupt ones are skipped with a log line. */
  latest(): Checkpoint | null {
    for (const id of this.ids()) {
      const path = join(this.dir, `checkpoint-${id}.sluice`)
      try {
        return decodeCheckpoint(takePrefetched(path) ?? readFileSync(path), path)
      } catch (e) {
        this.log(`sluice: skipping checkpoint ${id}: ${e instanceof Error ? e.message : String(e)}; trying the previous one`)
      }
    }
    return null
  }

  /**
   * Removes every checkpoint and this process's temporary files (a job that completed starts from
   * scratch next time). Call with no write in flight.
   */
  clear(): void {
    for (const id of this.ids()) rmSync(join(this.dir, `checkpoint-${id}.sluice`), { force: true })
    this.removeTemporaryFiles((name, pid) => name.startsWith('checkpoint-') && pid === process.pid)
  }

  /**
   * Removes temporary files left by writers that died (a kill between creating and renaming one)
   * or by this process; the caller holds the directory's lock, so no other job writes checkpoints
   * here. A savepoint being written into this directory by another live process is left alone.
   * Returns the names removed.
   */
  removeStaleTemporaryFiles(): string[] {
    return this.removeTemporaryFiles((_name, pid) => pid === process.pid || !processAlive(pid))
  }

  private removeTemporaryFiles(stale: (name: string, pid: number) => boolean): string[] {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return []
    }
    const removed: string[] = []
    for (const n of names) {
      const m = TEMPORARY.exec(n)
      // A name without a pid is from a Sluice that did not write one: long dead under the lock.
      if (m === null || (m[2] !== undefined && !stale(m[1], Number(m[2])))) continue
      rmSync(join(this.dir, n), { force: true })
      removed.push(n)
    }
    return removed
  }

  private prune(): void {
    for (const id of this.ids().slice(this.retain)) rmSync(join(this.dir, `checkpoint-${id}.sluice`), { force: true })
  }
}

/** True unless signalling `pid` says there is no such process (on this host). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as { code?: unknown }).code !== 'ESRCH'
  }
}

/** A temporary name for `path` that no other writer (process, or write in this one) uses. */
export function temporaryName(path: string): string {
  return `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
}

/**
 * Writes `c` as `dir/name` durably (temp name, fsync, rename, directory fsync); resolves with the
 * path. With `exclusive`, an existing `dir/name` is an error instead of being replaced (a hard
 * link publishes the file, which fails if the name is taken). A failed write removes its
 * temporary file.
 */
export async function writeCheckpointFile(dir: string, name: string, c: Checkpoint, options: { exclusive?: boolean } = {}): Promise<string> {
  const chunks = encodeCheckpoint(c)
  const path = join(dir, name)
  const tmp = temporaryName(path)
  try {
    await mkdir(dir, { recursive: true })
    const fh = await open(tmp, 'wx')
    try {
      // writev takes at most IOV_MAX (1024) buffers; a short write continues where it stopped.
      for (let i = 0; i < chunks.length; i += 512) {
        let batch = chunks.slice(i, i + 512)
        for (;;) {
          const want = batch.reduce((n, b) => n + b.length, 0)
          const { bytesWritten } = await fh.writev(batch)
          if (bytesWritten === want) break
          batch = dropBytes(batch, bytesWritten)
        }
      }
      await fh.sync()
    } finally {
      await fh.close()
    }
    if (options.exclusive === true) await publishExclusive(tmp, path)
    else await rename(tmp, path)
    await syncDir(dir)
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {})
    throw new SluiceError('CHECKPOINT_IO', `cannot write ${c.savepoint ? 'savepoint' : 'checkpoint'} ${c.id} to ${dir}: ${reasonOf(e)}`, { cause: e })
  }
  return path
}

/** Gives the complete file `tmp` the name `path` unless `path` exists (then EEXIST); `tmp` is gone after. */
async function publishExclusive(tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path)
  } catch (e) {
    const code = (e as { code?: unknown }).code
    if (code === 'EEXIST') throw new SluiceError('CHECKPOINT_IO', `${path} already exists; it is not replaced`, { cause: e })
    // A file system without hard links: the name is unique (see the caller), so a check that
    // it is free followed by a rename is as good as it gets there.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e
    if (await stat(path).then(() => true, () => false)) throw new SluiceError('CHECKPOINT_IO', `${path} already exists; it is not replaced`)
    await rename(tmp, path)
    return
  }
  await rm(tmp, { force: true })
}

/** The chunks after the first `n` bytes. */
function dropBytes(chunks: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const b of chunks) {
    if (n >= b.length) n -= b.length
    else {
      out.push(n > 0 ? b.subarray(n) : b)
      n = 0
    }
  }
  return out
}

/**
 * Files read ahead by prefetchCheckpoint, by path, with the size and modification time they had:
 * the next load of that path takes its bytes if the file is unchanged.
 */
const prefetched = new Map<string, { readonly bytes: Buffer; readonly size: number; readonly mtimeMs: number }>()

/** What bin/read-ahead.js started reading before the CLI loaded. */
interface EarlyRead { readonly path: string; readonly size: number; readonly mtimeMs: number; readonly bytes: Promise<Buffer> }
const READ_AHEAD = Symbol.for('sluice.checkpoint-read-ahead')

/**
 * Reads ahead the file a job will restore from — `savepoint`, else the newest checkpoint in
 * `dir` — so that the read overlaps other start-up work; the CLI's entry (bin/read-ahead.js)
 * starts it before its modules load, and this takes it over. Resolves when done; never rejects
 * (the load then reads the file itself and reports).
 */
export async function prefetchCheckpoint(dir: string, savepoint?: string): Promise<void> {
  try {
    const path = savepoint ?? (() => {
      const id = new CheckpointStorage(dir, 1, () => {}).ids()[0]
      return id === undefined ? null : join(dir, `checkpoint-${id}.sluice`)
    })()
    if (path === null) return
    const g = globalThis as { [READ_AHEAD]?: EarlyRead }
    const early = g[READ_AHEAD]
    delete g[READ_AHEAD]
    const read = early?.path === path ? early : { ...(await stat(path)), path, bytes: readFile(path) }
    const bytes = await read.bytes
    prefetched.clear()
    prefetched.set(path, { bytes, size: read.size, mtimeMs: read.mtimeMs })
  } catch {
    // Nothing to read ahead.
  }
}

function takePrefetched(path: string): Buffer | undefined {
  const p = prefetched.get(path)
  if (p === undefined) return undefined
  prefetched.delete(path)
  try {
    const now = statSync(path)
    return now.size === p.size && now.size === p.bytes.length && now.mtimeMs === p.mtimeMs ? p.bytes : undefined
  } catch {
    return undefined
  }
}

/** Reads and verifies a savepoint (or checkpoint) file. */
export function readCheckpointFile(path: string): Checkpoint {
  let bytes: Uint8Array
  try {
    bytes = takePrefetched(path) ?? readFileSync(path)
  } catch (e) {
    const missing = ['ENOENT', 'ENOTDIR', 'EISDIR'].includes(String((e as { code?: unknown }).code))
    throw new SluiceError(missing ? 'SAVEPOINT_NOT_FOUND' : 'CHECKPOINT_IO', `cannot read savepoint ${path}: ${describeCause(e)}`, { cause: e })
  }
  return decodeCheckpoint(bytes, path)
}

async function syncDir(dir: string): Promise<void> {
  let fh
  try {
    fh = await open(dir, 'r')
  } catch {
    return
  }
  try {
    await fh.sync()
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    await fh.close()
  }
}
