/**
 * Writes records to standard output (or any writable stream), one a line.
 */
import type { Writable } from 'node:stream'
import { describeCause, SluiceError } from '../errors.ts'
import { encodeJsonLines, encodeTextLines, rejecterFor, type RejectRecord } from './line-encoder.ts'
import type { Sink, SinkCommit, SinkContext, SinkWriter } from './spi.ts'

export interface StdoutSinkOptions {
  /** 'jsonl' (default): each record as JSON. 'text': strings as they are, other values as JSON or String(). */
  readonly format?: 'jsonl' | 'text'
  /** Write here instead of process.stdout. The sink never ends the stream. */
  readonly stream?: Writable
}

/**
 * A sink printing one line per record. Each batch is one write, so batches from parallel
 * subtasks never interleave within a line; a full stream pauses the job until it drains.
 *
 * At-least-once, not exactly-once: what was printed cannot be taken back, so after a recovery
 * the records after the last checkpoint are printed again. `preCommit` waits until everything
 * printed so far has been handed to the stream's destination (no fsync: it is a stream). It
 * never writes at a position, so with `> out.txt 2>&1` its lines and the CLI's stderr lines
 * follow one another in the file without overwriting each other.
 *
 * @example
 * ```ts
 * pipeline.source('bids', fileSource<Bid>('bids.jsonl')).filter('big', (b) => b.price > 100).to('print', stdoutSink())
 * ```
 */
export function stdoutSink<T = unknown>(options: StdoutSinkOptions = {}): StdoutSink<T> {
  return new StdoutSink(options)
}

export class StdoutSink<T> implements Sink<T> {
  readonly kind = 'stdout'
  readonly exactlyOnce = false
  private readonly encode: (batch: readonly unknown[], reject: RejectRecord) => string

  constructor(private readonly options: StdoutSinkOptions) {
    const format = options.format ?? 'jsonl'
    if (format !== 'jsonl' && format !== 'text') {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `stdoutSink option format must be 'jsonl' or 'text', got ${JSON.stringify(format)}`)
    }
    this.encode = format === 'jsonl' ? encodeJsonLines : encodeTextLines
  }

  /** On recovery (`recoverFrom` given) it goes on printing: output cannot be withdrawn. */
  open(ctx: SinkContext, _recoverFrom?: SinkCommit | null): SinkWriter<T> {
    return new StreamSinkWriter<T>(this.options.stream ?? process.stdout, this.encode, rejecterFor(ctx, 'stdout'))
  }
}

class StreamSinkWriter<T> implements SinkWriter<T> {
  private error: unknown = undefined
  private readonly onError = (e: unknown): void => {
    this.error ??= e
  }

  constructor(
    private readonly stream: Writable,
    private readonly encode: (batch: readonly unknown[], reject: RejectRecord) => string,
    /** Takes the records that cannot be encoded (the sink's onError policy); they are not printed. */
    private readonly reject: RejectRecord,
  ) {
    // Listening also keeps an EPIPE (the reader went away) from crashing the process.
    stream.on('error', this.onError)
  }

  write(batch: readonly T[]): void | Promise<void> {
    this.throwIfFailed()
    if (batch.length === 0) return
    const text = this.encode(batch, this.reject)
    if (text.length > 0 && !this.stream.write(text)) return this.drain()
  }

  flush(): void | Promise<void> {
    this.throwIfFailed()
    if (this.stream.writableNeedDrain) return this.drain()
  }

  /** Drains the stream, so nothing before the checkpoint is left in memory; the commit is empty. */
  async preCommit(_checkpointId: number): Promise<SinkCommit> {
    await this.flush()
    return {}
  }

  /** Nothing to do: the lines are out already. */
  commit(_commit: SinkCommit): void {}

  /** Stops listening to the stream; what it holds already will still be printed. */
  abort(): void {
    this.stream.off('error', this.onError)
  }

  async close(): Promise<void> {
    try {
      await this.flush()
    } finally {
      this.stream.off('error', this.onError)
    }
  }

  private drain(): Promise<void> {
    const stream = this.stream
    return new Promise((resolve, reject) => {
      const done = (e?: unknown): void => {
        stream.off('drain', onDrain)
        stream.off('error', onFail)
        stream.off('close', onClose)
        if (e === undefined) resolve()
        else reject(e instanceof SluiceError ? e : new SluiceError('SINK_IO', `cannot write to stdout: ${describeCause(e)}`, { cause: e }))
      }
      const onDrain = (): void => done()
      const onFail = (e: unknown): void => done(e)
      const onClose = (): void => done(this.error ?? new SluiceError('SINK_IO', 'cannot write to stdout: the stream closed'))
      stream.on('drain', onDrain)
      stream.on('error', onFail)
      stream.on('close', onClose)
    })
  }

  private throwIfFailed(): void {
    if (this.error !== undefined) {
      throw new SluiceError('SINK_IO', `cannot write to stdout: ${describeCause(this.error)}`, { cause: this.error })
    }
    if (this.stream.destroyed || this.stream.writableEnded) {
      throw new SluiceError('SINK_IO', 'cannot write to stdout: the stream is closed')
    }
  }
}
