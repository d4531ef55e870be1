/**
 * Writes records to a file as JSON Lines.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { describeCause, SluiceError } from '../errors.ts'
import { encodeJsonLines } from './lines.ts'
import type { Sink, SinkContext, SinkWriter } from './spi.ts'

/** Text gathered before it is written: few, large writes without holding much in memory. */
const WRITE_THRESHOLD_CHARS = 256 * 1024

export interface FileSinkOptions {
  /** Only 'jsonl' for now: one JSON document a line. */
  readonly format?: 'jsonl'
}

/**
 * A sink writing one JSON document per line to `path`, replacing the file and creating missing
 * parent directories. Output is complete once the job has flushed and closed the sink.
 *
 * @example
 * pipeline.from('bids', bids).map('to-usd', toUsd).to('out', fileSink('out/bids-usd.jsonl'))
 */
export function fileSink<T = unknown>(path: string, options: FileSinkOptions = {}): FileSink<T> {
  return new FileSink(path, options)
}

export class FileSink<T> implements Sink<T> {
  readonly kind = 'file'

  constructor(private readonly path: string, options: FileSinkOptions) {
    if ((options.format ?? 'jsonl') !== 'jsonl') {
      throw new SluiceError('JOB_INVALID_OPTION', `fileSink option format must be 'jsonl', got ${JSON.stringify(options.format)}`)
    }
  }

  async open(_ctx: SinkContext): Promise<SinkWriter<T>> {
    const path = this.path
    try {
      await mkdir(dirname(path), { recursive: true })
      return new FileSinkWriter<T>(path, await open(path, 'w'))
    } catch (e) {
      throw new SluiceError('SINK_IO', `cannot open ${path} for writing: ${describeCause(e)}`, { cause: e })
    }
  }
}

class FileSinkWriter<T> implements SinkWriter<T> {
  private pending = ''
  /** Writes run one after another, in order; each starts when the previous one has finished. */
  private writing: Promise<void> = Promise.resolve()
  private error: SluiceError | null = null
  private closed = false

  constructor(private readonly path: string, private readonly handle: FileHandle) {}

  write(batch: readonly T[]): void | Promise<void> {
    this.throwIfUnusable()
    if (batch.length === 0) return
    try {
      this.pending += encodeJsonLines(batch)
    } catch (e) {
      throw new SluiceError('SINK_IO', `cannot write a record to ${this.path}: ${describeCause(e)}`, { cause: e })
    }
    if (this.pending.length >= WRITE_THRESHOLD_CHARS) return this.writePending()
  }

  flush(): Promise<void> {
    this.throwIfUnusable()
    return this.writePending()
  }

  async close(): Promise<void> {
    if (this.closed) return
    try {
      if (this.error === null) await this.writePending()
    } finally {
      this.closed = true
      await this.handle.close().catch(() => undefined)
    }
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
        const { bytesWritten } = await this.handle.write(data, offset, data.length - offset, null)
        offset += bytesWritten
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
