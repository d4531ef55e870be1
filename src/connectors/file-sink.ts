/**
 * Writes records to a file as JSON Lines, with two-phase commit for exactly-once output.
 *
 * Exactly-once by truncation: records go straight into the file; a pre-commit fsyncs it and
 * names its length, and recovery truncates the file back to the length of the last completed
 * checkpoint. (Flink's old BucketingSink did the same with truncate or a valid-length file.)
 * Rolling part files renamed on commit would keep uncommitted bytes out of sight, but they
 * change the output from one file to a directory of parts, and the job's output would no
 * longer be byte-identical to a run without checkpoints. The price of truncation: while the
 * job runs, a reader of the file can see bytes past the last commit that a recovery removes.
 *
 * A path that is not a regular file (a FIFO, a character device such as /dev/null or a terminal,
 * a socket) has no length to truncate to and no data to fsync: it is written as a stream, in
 * order, with no position, and its output is at-least-once. /dev/stdout and /dev/stderr are
 * written through process.stdout and process.stderr, and /dev/fd/N or /proc/self/fd/N naming a
 * regular file through that descriptor: opening the path again would truncate a file (`> out.txt`,
 * losing what stderr wrote into it with `2>&1`), writes at positions from 0 would overwrite what
 * the other descriptor writes at the offset they share — the run summary landed on top of the
 * first records that way —, and a socket cannot be opened again at all (ENXIO).
 */
import { fstatSync, statSync, write as writeFd } from 'node:fs'
import type { Writable } from 'node:stream'
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { describeCause, SluiceError } from '../errors.ts'
import { encodeJsonLines, rejecterFor, type RejectRecord } from './line-encoder.ts'
import type { Sink, SinkCommit, SinkContext, SinkWriter } from './spi.ts'

/** Text gathered before it is written: few, large writes without holding much in memory. */
const WRITE_THRESHOLD_CHARS = 256 * 1024

export interface FileSinkOptions {
  /** Only 'jsonl' for now: one JSON document a line. */
  readonly format?: 'jsonl'
}

/** What a file sink made durable at a checkpoint: the first `length` bytes of `path`. */
export type FileCommit = { readonly path: string; readonly length: number }

/**
 * A sink writing one JSON document per line to `path`, replacing the file and creating missing
 * parent directories. Output is complete once the job has flushed and closed the sink.
 *
 * Exactly-once with checkpoints: `preCommit` writes out and fsyncs, returning `{ path, length }`;
 * opened on recovery with that commit, the sink truncates the file to `length` and appends.
 * Not parallel: one writer owns the file.
 *
 * A FIFO, a character device (`/dev/null`, a terminal) or a socket is written as a stream: in
 * order, never seeking, truncating or fsyncing. What reached a pipe cannot be taken back, so such
 * an output is at-least-once at best: after a recovery, the records written since the last
 * checkpoint are written again (`exactlyOnce` is then false). `/dev/stdout` and `/dev/stderr` are
 * written through the process's own streams (`/dev/fd/N` on a file through that descriptor), so
 * the output never overwrites what the process writes there otherwise (the run summary with
 * `> out.txt 2>&1`), and works into a pipe or a socket.
 *
 * @example
 * ```ts
 * const toUsd = (b: Bid) => ({ ...b, price: b.price * 1.08 })
 * pipeline.source('bids', fileSource<Bid>('bids.jsonl')).map('to-usd', toUsd).to('out', fileSink('out/bids-usd.jsonl'))
 * ```
 */
export function fileSink<T = unknown>(path: string, options: FileSinkOptions = {}): FileSink<T> {
  return new FileSink(path, options)
}

export class FileSink<T> implements Sink<T> {
  readonly kind = 'file'
  /** False when the path names a pipe, a device or a descriptor (written as a stream). */
  readonly exactlyOnce: boolean

  constructor(private readonly path: string, options: FileSinkOptions) {
    if ((options.format ?? 'jsonl') !== 'jsonl') {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `fileSink option format must be 'jsonl', got ${JSON.stringify(options.format)}`)
    }
    this.exactlyOnce = descriptorNamed(path) === null && !isStreamPath(path)
  }

  /**
   * Without `recoverFrom`, replaces the file. With a commit, keeps the file's first
   * `commit.length` bytes and appends after them; with null, starts it empty.
   */
  async open(ctx: SinkContext, recoverFrom?: SinkCommit | null): Promise<FileSinkWriter<T>> {
    const path = this.path
    const committed = recoverFrom === undefined || recoverFrom === null ? null : checkCommit(path, recoverFrom, 'recover from')
    const own = processOutput(path)
    if (own !== null) return new FileSinkWriter<T>(path, own, 0, rejecterFor(ctx, path), { stream: true })
    // A pipe or a device is opened for writing only (O_RDWR would make this process a reader of a
    // FIFO); O_TRUNC does nothing to either.
    if (await stat(path).then((s) => !s.isFile(), () => false)) return this.openStream(ctx, committed)
    let handle: FileHandle
    try {
      await mkdir(dirname(path), { recursive: true })
      handle = await open(path, committed === null ? 'w' : 'r+').catch((e: unknown) => {
        // Nothing committed is lost when an empty committed file is gone.
        if (committed?.length === 0 && (e as { code?: unknown }).code === 'ENOENT') return open(path, 'w')
        throw e
      })
    } catch (e) {
      if (committed !== null && (e as { code?: unknown }).code === 'ENOENT') {
        throw new SluiceError('SINK_IO', `cannot recover ${path}: the file is gone, but the last checkpoint committed ${committed.length} bytes of it`, { cause: e })
      }
      throw new SluiceError('SINK_IO', `cannot open ${path} for writing: ${describeCause(e)}`, { cause: e })
    }
    if (!(await handle.stat().then((s) => s.isFile(), () => true))) return new FileSinkWriter<T>(path, handle, 0, rejecterFor(ctx, path), { stream: true })
    if (committed === null) {
      // A recovery with nothing committed must also make the empty start durable.
      if (recoverFrom === null) await syncOrClose(handle, path, 'the emptied file')
      return new FileSinkWriter<T>(path, handle, 0, rejecterFor(ctx, path))
    }
    let size: number
    try {
      size = (await handle.stat()).size
    } catch (e) {
      await handle.close().catch(() => undefined)
      throw new SluiceError('SINK_IO', `cannot recover ${path}: ${describeCause(e)}`, { cause: e })
    }
    if (size < committed.length) {
      await handle.close().catch(() => undefined)
      throw new SluiceError('SINK_IO', `cannot recover ${path}: it has ${size} bytes, but the last checkpoint committed ${committed.length} (was it changed outside the job?)`)
    }
    if (size > committed.length) {
      try {
        await handle.truncate(committed.length)
      } catch (e) {
        await handle.close().catch(() => undefined)
        throw new SluiceError('SINK_IO', `cannot truncate ${path} to the ${committed.length} bytes of the last checkpoint: ${describeCause(e)}`, { cause: e })
      }
      await syncOrClose(handle, path, `the truncation to ${committed.length} bytes`)
    }
    return new FileSinkWriter<T>(path, handle, committed.length, rejecterFor(ctx, path))
  }

  /** A pipe or a device: nothing to truncate on recovery, so it goes on writing (at-least-once). */
  private async openStream(ctx: SinkContext, committed: FileCommit | null): Promise<FileSinkWriter<T>> {
    let handle: FileHandle
    try {
      handle = await open(this.path, 'w')
    } catch (e) {
      throw new SluiceError('SINK_IO', `cannot open ${this.path} for writing: ${describeCause(e)}`, { cause: e })
    }
    return new FileSinkWriter<T>(this.path, handle, committed?.length ?? 0, rejecterFor(ctx, this.path), { stream: true })
  }
}

/** What a writer needs of its file: a FileHandle, or a descriptor it borrows. */
interface FileSinkTarget {
  write(data: Buffer, offset: number, length: number, position: number | null): Promise<{ bytesWritten: number }>
  sync(): Promise<void>
  close(): Promise<void>
}

/** The descriptor /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N names, else null. */
function descriptorNamed(path: string): number | null {
  const m = /^\/dev\/(stdout|stderr)$|^\/dev\/fd\/(\d+)$|^\/proc\/self\/fd\/(\d+)$/.exec(path)
  return m === null ? null : m[1] === 'stdout' ? 1 : m[1] === 'stderr' ? 2 : Number(m[2] ?? m[3])
}

/**
 * How to write a path naming one of the process's own descriptors: standard output and error
 * through process.stdout / process.stderr (whatever they are: a file, a pipe, a socket — which
 * cannot be opened again: ENXIO —, a terminal, or a worker thread's forwarded stream); another
 * descriptor open on a regular file through the descriptor itself. Null: open the path.
 */
function processOutput(path: string): FileSinkTarget | null {
  const fd = descriptorNamed(path)
  if (fd === 1) return processStream(process.stdout)
  if (fd === 2) return processStream(process.stderr)
  if (fd === null) return null
  try {
    return fstatSync(fd).isFile() ? borrowedDescriptor(fd) : null
  } catch {
    return null
  }
}

/** True when `path` exists and is not a regular file (a FIFO, a device, a socket). */
function isStreamPath(path: string): boolean {
  try {
    return !statSync(path).isFile()
  } catch {
    return false
  }
}

/** Writes through the process's stdout or stderr stream, each write once it has been handed on; never ends it. */
function processStream(stream: Writable): FileSinkTarget {
  // The write's callback carries an error (EPIPE: the reader went away); listening keeps the
  // stream's 'error' event from crashing the process meanwhile.
  const ignore = (): void => {}
  stream.on('error', ignore)
  return {
    write: (data, offset, length) => new Promise((resolve, reject) => {
      stream.write(data.subarray(offset, offset + length), (e) => (e ? reject(e) : resolve({ bytesWritten: length })))
    }),
    sync: () => Promise.resolve(),
    close: () => {
      stream.off('error', ignore)
      return Promise.resolve()
    },
  }
}

/** Writes through a descriptor the process already has, at its offset; never closes it. */
function borrowedDescriptor(fd: number): FileSinkTarget {
  return {
    write: (data, offset, length) => new Promise((resolve, reject) => {
      writeFd(fd, data, offset, length, null, (e, bytesWritten) => (e ? reject(e) : resolve({ bytesWritten })))
    }),
    sync: () => Promise.resolve(),
    close: () => Promise.resolve(),
  }
}

/**
 * Writes at explicit offsets (not the file position), so a writer recovering at a committed
 * length appends after it; a stream (`{ stream: true }`: a pipe, a device, a borrowed descriptor)
 * is written at its own position, never fsynced. Writes, pre-commits and close run one after
 * another, in order.
 */
export class FileSinkWriter<T> implements SinkWriter<T> {
  private pending = ''
  /** Everything enqueued so far has been handed to the OS once this resolves. */
  private writing: Promise<void> = Promise.resolve()
  private error: SluiceError | null = null
  private closed = false
  /** Bytes handed to the OS so far: the offset of the next write. */
  private written: number
  /** The longest length committed so far. */
  private committed: number
  private readonly stream: boolean

  /**
   * `reject` takes the records that cannot be encoded (the sink's onError policy); they are left
   * out of the file. Default: such a record fails the write with SINK_RECORD_UNWRITABLE.
   * @internal
   */
  constructor(
    private readonly path: string,
    private readonly handle: FileSinkTarget,
    length: number,
    private readonly reject: RejectRecord = (_record, reason) => {
      throw new SluiceError('SINK_RECORD_UNWRITABLE', `cannot write a record to ${path}: ${reason}`)
    },
    o: { stream?: boolean } = {},
  ) {
    this.written = length
    this.committed = length
    this.stream = o.stream === true
  }

  write(batch: readonly T[]): void | Promise<void> {
    this.throwIfUnusable()
    if (batch.length === 0) return
    this.pending += encodeJsonLines(batch, this.reject)
    if (this.pending.length >= WRITE_THRESHOLD_CHARS) return this.writePending()
  }

  flush(): Promise<void> {
    this.throwIfUnusable()
    return this.writePending()
  }

  /**
   * Writes out what is buffered and fsyncs the file: the bytes up to `length` survive a crash (a
   * stream: handed to the OS; its `length` counts bytes, nothing can be truncated to it).
   * After an fsync failure the writer is unusable (the kernel may have dropped the dirty pages,
   * so a retried fsync could report success for lost data); the job must recover instead.
   */
  preCommit(checkpointId: number): Promise<FileCommit> {
    this.throwIfUnusable()
    const done = this.writePending().then(async (): Promise<FileCommit> => {
      const length = this.written
      if (this.stream) return { path: this.path, length }
      try {
        await this.handle.sync()
      } catch (e) {
        this.error = new SluiceError('SINK_IO', `cannot fsync ${this.path} for checkpoint ${checkpointId}: ${describeCause(e)}; its output since the previous checkpoint may not be on disk`, { cause: e })
        throw this.error
      }
      return { path: this.path, length }
    })
    // Later writes wait for the fsync. A failure reaches the caller through `done` and later
    // calls through `error`, so the chain itself must not reject unobserved.
    this.writing = done.then(() => undefined, () => undefined)
    return done
  }

  /**
   * The bytes are already durable in place, so committing only records how far the file is
   * final; recovery is what discards the rest. Idempotent; an older commit changes nothing.
   */
  commit(commit: SinkCommit): void {
    const { length } = checkCommit(this.path, commit, 'commit')
    if (length > this.written) {
      throw new SluiceError('INTERNAL', `cannot commit ${length} bytes of ${this.path}: only ${this.written} were written`)
    }
    if (length > this.committed) this.committed = length
  }

  /** Bytes committed so far (for tests and messages). */
  committedLength(): number {
    return this.committed
  }

  /**
   * Writes out what is buffered, fsyncs (a finished job then clears its checkpoints: nothing
   * could replay output lost after that), and closes.
   */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      if (this.error === null) {
        await this.writePending()
        if (!this.stream) await this.handle.sync().catch((e: unknown) => {
          throw new SluiceError('SINK_IO', `cannot fsync ${this.path} at the end of the job: ${describeCause(e)}; its last output may not be on disk`, { cause: e })
        })
      }
    } finally {
      this.closed = true
      await this.handle.close().catch(() => undefined)
    }
  }

  /** Drops what is buffered and releases the file once writes in flight have finished. */
  async abort(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.pending = ''
    await this.writing.catch(() => undefined)
    await this.handle.close().catch(() => undefined)
  }

  /** Resolves once everything written so far is in the file (handed to the OS). */
  private writePending(): Promise<void> {
    if (this.pending.length > 0) {
      const data = Buffer.from(this.pending, 'utf8')
      this.pending = ''
      this.writing = this.writing.then(() => this.writeAll(data))
    }
    return this.writing
  }

  private async writeAll(data: Buffer): Promise<void> {
    if (this.error !== null) throw this.error
    try {
      let offset = 0
      while (offset < data.length) {
        const { bytesWritten } = await this.handle.write(data, offset, data.length - offset, this.stream ? null : this.written)
        offset += bytesWritten
        this.written += bytesWritten
      }
    } catch (e) {
      this.error = new SluiceError('SINK_IO', `cannot write to ${this.path}: ${describeCause(e)}`, { cause: e })
      throw this.error
    }
  }

  private throwIfUnusable(): void {
    if (this.error !== null) throw this.error
    if (this.closed) throw new SluiceError('SINK_IO', `cannot write to ${this.path}: the sink is closed`)
  }
}

/** Checks a commit handed back from a checkpoint: it must be one of this sink's. */
function checkCommit(path: string, commit: SinkCommit, action: string): FileCommit {
  const length = commit.length
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `fileSink cannot ${action} ${JSON.stringify(commit)}: length must be a whole number >= 0`)
  }
  if (commit.path !== path) {
    throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `fileSink writing ${path} cannot ${action} a commit of ${JSON.stringify(commit.path)} (did the job's output path change?)`)
  }
  return { path, length }
}

async function syncOrClose(handle: FileHandle, path: string, what: string): Promise<void> {
  try {
    await handle.sync()
  } catch (e) {
    await handle.close().catch(() => undefined)
    throw new SluiceError('SINK_IO', `cannot fsync ${path} after ${what}: ${describeCause(e)}`, { cause: e })
  }
}
