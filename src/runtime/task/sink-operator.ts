/**
 * Runs a sink at the end of a chain. An asynchronous write parks the task until it settles, so a
 * slow sink slows everything upstream through the channels (backpressure), never buffering.
 */
import { SluiceError, describeCause, isSluiceError } from '../../errors.ts'
import type { Sink, SinkCommit, SinkContext, SinkWriter, ConnectionStatus } from '../../connectors/spi.ts'
import type { Batch, Operator } from '../../operators/types.ts'
import type { ExternalEffects } from './external-effects.ts'
import type { OperatorContextImpl } from './operator-context.ts'

export class SinkOperator<T> implements Operator<T, never>, ExternalEffects {
  private writer: SinkWriter<T> | null = null

  /** The writer's link to its server, for monitoring; null for sinks without one or before open. */
  connection(): ConnectionStatus | null {
    return this.writer?.connection?.() ?? null
  }
  /** Set when the last write returned a promise; the task waits on it. */
  pending: Promise<void> | null = null

  constructor(
    readonly id: string,
    private readonly sink: Sink<T>,
    private readonly subtaskIndex = 0,
    private readonly parallelism = 1,
  ) {}

  /**
   * Opens the writer. With checkpoints, `recoverFrom` is the commit of the latest completed
   * checkpoint (null: none yet), so a two-phase-commit sink discards output written after it.
   */
  async openWriter(ctx: OperatorContextImpl, recoverFrom?: SinkCommit | null): Promise<void> {
    try {
      // A record the writer cannot encode is the record's fault, not the destination's: it goes
      // through the sink's onError policy as SINK_RECORD_UNWRITABLE, never as a retried SINK_IO.
      const reportBadRecord = (record: unknown, reason: string): void => ctx.rejectInput(record, 'SINK_RECORD_UNWRITABLE', 'sink', 'cannot write', reason)
      const c: SinkContext = { sinkId: this.id, clock: ctx.clock, subtaskIndex: this.subtaskIndex, parallelism: this.parallelism, reportBadRecord }
      this.writer = await (recoverFrom === undefined ? this.sink.open(c) : this.sink.open(c, recoverFrom))
    } catch (e) {
      throw wrap(this.id, 'open', e)
    }
  }

  /** First phase of a checkpoint; a sink without two-phase commit has nothing to pre-commit (null). */
  async preCommit(checkpointId: number): Promise<SinkCommit | null> {
    const w = this.writer
    if (w === null || w.preCommit === undefined) return null
    try {
      return await w.preCommit(checkpointId)
    } catch (e) {
      throw wrap(this.id, `pre-commit checkpoint ${checkpointId}`, e)
    }
  }

  /** Second phase, once the checkpoint is complete. */
  async commit(c: SinkCommit): Promise<void> {
    try {
      await this.writer?.commit?.(c)
    } catch (e) {
      throw wrap(this.id, 'commit', e)
    }
  }

  processBatch(batch: Batch<T>): void {
    if (batch.records.length === 0) return
    let r: void | Promise<void>
    try {
      r = (this.writer as SinkWriter<T>).write(batch.records)
    } catch (e) {
      throw wrap(this.id, 'write', e)
    }
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      this.pending = (r as Promise<void>).catch((e: unknown) => {
        throw wrap(this.id, 'write', e)
      })
    }
  }

  async flushAndClose(): Promise<void> {
    const w = this.writer
    if (w === null) return
    this.writer = null
    try {
      await w.flush?.()
      await w.close?.()
    } catch (e) {
      throw wrap(this.id, 'close', e)
    }
  }

  /**
   * Closes without flushing, after a failure elsewhere; errors are secondary and ignored. With
   * `discard` (a job taking checkpoints), buffered output is dropped rather than written: recovery
   * truncates to the last commit, and late bytes from the old writer must not land after it.
   */
  async abort(discard = false): Promise<void> {
    const w = this.writer
    this.writer = null
    try {
      await (discard && w?.abort !== undefined ? w.abort() : w?.close?.())
    } catch {
      // The job already failed with the primary error.
    }
  }
}

function wrap(id: string, what: string, e: unknown): SluiceError {
  if (isSluiceError(e)) return e as SluiceError
  return new SluiceError('SINK_IO', `sink "${id}" failed to ${what}: ${describeCause(e)}`, { cause: e })
}
