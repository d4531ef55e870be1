/**
 * Checkpoint files in a local directory. One file per completed checkpoint,
 * `checkpoint-<id>.sluice`: magic, format version, a CRC-32 of the body, and the body (the
 * checkpoint's metadata and every task's state, as opaque byte blobs). Written to a temporary name,
 * fsynced, renamed, and the directory fsynced, so a crash leaves either the old set or the new file,
 * never half a file under the final name. Loading takes the newest file that verifies; a corrupt or
 * partial one is skipped with a log line for the previous complete one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { Packr, Unpackr } from 'msgpackr'
import { SluiceError, describeCause } from '../../errors.ts'

const MAGIC = 0x534c434b // "SLCK"
export const CHECKPOINT_FORMAT_VERSION = 1
const HEADER_BYTES = 12
const NAME = /^checkpoint-(\d+)\.sluice$/

/** What one task contributed to a checkpoint. */
export interface TaskSnapshot {
  /** Chain head id and subtask: `${task}#${subtask}`. */
  readonly task: string
  readonly subtask: number
  /** Operator id → its encoded state (key-group partitioned where keyed). */
  readonly operators: Record<string, Uint8Array>
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
}

const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false })

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const body = packr.pack(c)
  const out = new Uint8Array(HEADER_BYTES + body.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, MAGIC)
  view.setUint32(4, CHECKPOINT_FORMAT_VERSION)
  view.setUint32(8, crc32(body))
  out.set(body, HEADER_BYTES)
  return out
}

export function decodeCheckpoint(bytes: Uint8Array, what: string): Checkpoint {
  if (bytes.length < HEADER_BYTES) throw corrupt(what, `${bytes.length} bytes, shorter than the header`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0) !== MAGIC) throw corrupt(what, 'not a Sluice checkpoint (bad magic number)')
  const version = view.getUint32(4)
  if (version !== CHECKPOINT_FORMAT_VERSION) throw corrupt(what, `format version ${version}; this Sluice reads version ${CHECKPOINT_FORMAT_VERSION}`)
  const body = bytes.subarray(HEADER_BYTES)
  if (crc32(body) !== view.getUint32(8)) throw corrupt(what, 'checksum mismatch (the file is damaged or was cut short)')
  try {
    return unpackr.unpack(body) as Checkpoint
  } catch (e) {
    throw corrupt(what, `cannot decode: ${describeCause(e)}`)
  }
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
    if (!Number.isInteger(retain) || retain < 1) throw new SluiceError('JOB_INVALID_OPTION', `checkpoints to retain must be a whole number >= 1, got ${retain}`)
  }

  /** Writes a completed checkpoint durably, then drops the oldest beyond `retain`. Returns its path. */
  write(c: Checkpoint): string {
    const path = writeCheckpointFile(this.dir, `checkpoint-${c.id}.sluice`, c)
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
        return decodeCheckpoint(readFileSync(path), path)
      } catch (e) {
        this.log(`sluice: skipping checkpoint ${id}: ${e instanceof Error ? e.message : String(e)}; trying the previous one`)
      }
    }
    return null
  }

  /** Removes every checkpoint (a job that completed starts from scratch next time). */
  clear(): void {
    for (const id of this.ids()) rmSync(join(this.dir, `checkpoint-${id}.sluice`), { force: true })
    try {
      for (const n of readdirSync(this.dir)) if (n.endsWith('.sluice.tmp')) rmSync(join(this.dir, n), { force: true })
    } catch {
      // No directory: nothing to clear.
    }
  }

  private prune(): void {
    for (const id of this.ids().slice(this.retain)) rmSync(join(this.dir, `checkpoint-${id}.sluice`), { force: true })
  }
}

/** Writes `c` as `dir/name` durably (temp name, fsync, rename, directory fsync); returns the path. */
export function writeCheckpointFile(dir: string, name: string, c: Checkpoint): string {
  const bytes = encodeCheckpoint(c)
  const path = join(dir, name)
  const tmp = `${path}.tmp`
  try {
    mkdirSync(dir, { recursive: true })
    const fd = openSync(tmp, 'w')
    try {
      let off = 0
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
    syncDir(dir)
  } catch (e) {
    throw new SluiceError('CHECKPOINT_IO', `cannot write ${c.savepoint ? 'savepoint' : 'checkpoint'} ${c.id} to ${dir}: ${describeCause(e)}`, { cause: e })
  }
  return path
}

/** Reads and verifies a savepoint (or checkpoint) file. */
export function readCheckpointFile(path: string): Checkpoint {
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (e) {
    throw new SluiceError('CHECKPOINT_IO', `cannot read savepoint ${path}: ${describeCause(e)}`, { cause: e })
  }
  return decodeCheckpoint(bytes, path)
}

function syncDir(dir: string): void {
  let fd: number
  try {
    fd = openSync(dir, 'r')
  } catch {
    return
  }
  try {
    fsyncSync(fd)
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    closeSync(fd)
  }
}
