/**
 * Dead letters: records an operator or source rejected under the 'dead-letter' policy.
 *
 * A task adds a letter with one array push on the hot path. Without checkpoints the letters go to
 * the thread's DeadLetterRouter and are written between scheduler rounds. With checkpoints they are
 * part of them, exactly once across kills and restarts, like the output of an exactly-once sink:
 * - a task holds the letters it makes between two barriers and hands them over with its part of
 *   the next checkpoint (so a letter is in checkpoint n exactly when its record came before
 *   barrier n);
 * - when every task has acknowledged checkpoint n, the coordinator writes its letters to the
 *   dead-letter sinks and pre-commits them (fsync) before the checkpoint file is written, which
 *   records the commit; recovery reopens the sinks with that commit (a file is truncated to it),
 *   and the replayed records make the later letters again;
 * - letters made after a task's last barrier (at the end of input, or a stop) are written when the
 *   job closes the sinks, after any checkpoint still completing has written its own (written
 *   earlier, they would land inside that checkpoint's committed part and be made again on replay).
 * Worker threads forward letters to the coordinator, which alone writes each dead-letter sink (two
 * threads opening one file would overwrite each other's letters).
 */
import type { DeadLetter, Sink, SinkCommit, SinkWriter } from '../../connectors/spi.ts'
import { describeCause, SluiceError } from '../../errors.ts'
import type { LogicalGraph } from '../../graph/logical.ts'
import type { Clock } from '../../time/clock.ts'

/** The distinct dead-letter sinks of a graph, in a deterministic order (the same in every thread). */
export function deadLetterSinks(graph: LogicalGraph): Sink<DeadLetter>[] {
  const sinks: Sink<DeadLetter>[] = []
  for (const n of graph.nodes.values()) if (n.onError === 'dead-letter' && n.deadLetter !== undefined && !sinks.includes(n.deadLetter)) sinks.push(n.deadLetter)
  return sinks
}

/** Letters for the dead-letter sink at `sink` in deadLetterSinks(graph). */
export interface LetterBatch {
  readonly sink: number
  readonly letters: readonly DeadLetter[]
}

/** Where a thread's router delivers letters: the job's writers, or a port to the coordinator. */
export interface LetterOutlet {
  write(batch: LetterBatch): void | Promise<void>
}

/** Dead letters by sink, in the order added: a router's until its next flush, a task's until its next barrier. */
export class LetterBuffer {
  private readonly bySink = new Map<Sink<DeadLetter>, DeadLetter[]>()
  /** Letters held. */
  size = 0

  add(sink: Sink<DeadLetter>, letter: DeadLetter): void {
    const l = this.bySink.get(sink)
    if (l === undefined) this.bySink.set(sink, [letter])
    else l.push(letter)
    this.size++
  }

  /** Hands over everything held, by sink, and starts empty. */
  take(): [Sink<DeadLetter>, DeadLetter[]][] {
    const all = [...this.bySink]
    this.bySink.clear()
    this.size = 0
    return all
  }
}

/** Collects a thread's dead letters by sink and delivers them between scheduler rounds. */
export class DeadLetterRouter {
  private sinks: readonly Sink<DeadLetter>[] = []
  private outlet: LetterOutlet | null = null
  private readonly pending = new LetterBuffer()

  /** `held`'s letters, taken, with each sink as its index (for a checkpoint part). */
  indexed(held: LetterBuffer): LetterBatch[] {
    if (held.size === 0) return []
    return held.take().map(([sink, letters]) => ({ sink: this.indexOf(sink), letters }))
  }

  /** Starts delivering to `outlet`; `sinks` is deadLetterSinks(graph). */
  open(sinks: readonly Sink<DeadLetter>[], outlet: LetterOutlet): void {
    this.sinks = sinks
    this.outlet = outlet
  }

  /** The position of `sink` in deadLetterSinks(graph). */
  indexOf(sink: Sink<DeadLetter>): number {
    const i = this.sinks.indexOf(sink)
    if (i < 0) throw new SluiceError('INTERNAL', `a dead letter for a sink (${sink.kind}) that is not among the job's dead-letter sinks`)
    return i
  }

  add(sink: Sink<DeadLetter>, letter: DeadLetter): void {
    this.pending.add(sink, letter)
  }

  /** Letters a task held past its last barrier (a task that finished or stopped). */
  addAll(held: LetterBuffer): void {
    for (const [sink, letters] of held.take()) for (const l of letters) this.pending.add(sink, l)
  }

  get hasPending(): boolean {
    return this.pending.size > 0
  }

  async flush(): Promise<void> {
    for (const [sink, letters] of this.pending.take()) {
      if (this.outlet === null) throw new SluiceError('INTERNAL', 'dead letters before the router was opened')
      await this.outlet.write({ sink: this.indexOf(sink), letters })
    }
  }
}

/**
 * The dead-letter sinks of one attempt of a job, opened in the thread that writes them. With
 * checkpoints (`checkpointed`), letters arrive two ways: a checkpoint's (writeCheckpoint, then
 * preCommit) and those made after a task's last barrier (write), which are held until close.
 */
export class DeadLetterWriters implements LetterOutlet {
  private writers: SinkWriter<DeadLetter>[] = []
  /** Every write, pre-commit and close, one after another in the order asked. */
  private chain: Promise<void> = Promise.resolve()
  private readonly held: DeadLetter[][]
  /** Letters of abandoned checkpoints: written with the next checkpoint's, or at close. */
  private carried: LetterBatch[] = []
  private closed = false

  constructor(
    readonly sinks: readonly Sink<DeadLetter>[],
    private readonly checkpointed: boolean,
  ) {
    this.held = sinks.map(() => [])
  }

  /**
   * Opens a writer per sink. `recoverFrom` (checkpointed jobs): the restored checkpoint's commits
   * by sink (null: none restored, start empty); absent: a plain start.
   */
  open(clock: Clock, recoverFrom?: readonly (SinkCommit | null)[] | null): Promise<void> {
    // In the chain: writes asked before it has opened the sinks wait for it.
    return this.enqueue(async () => {
      for (let i = 0; i < this.sinks.length; i++) {
        const s = this.sinks[i]
        const ctx = { sinkId: 'dead-letter', clock, subtaskIndex: 0, parallelism: 1 }
        try {
          this.writers.push(await (recoverFrom === undefined ? s.open(ctx) : s.open(ctx, recoverFrom?.[i] ?? null)))
        } catch (e) {
          throw new SluiceError('SINK_IO', `cannot open a dead-letter sink (${s.kind}): ${describeCause(e)}`, { cause: e })
        }
      }
    })
  }

  /** Letters made outside checkpoints: written now, or with checkpoints held until close. */
  write(batch: LetterBatch): Promise<void> {
    if (this.checkpointed) {
      const h = this.held[batch.sink]
      for (const l of batch.letters) h.push(l)
      return Promise.resolve()
    }
    return this.enqueue(() => this.writeNow(batch))
  }

  /**
   * A checkpoint's letters: written and pre-committed, in that order, after everything asked
   * before. Call synchronously when the checkpoint's last acknowledgement arrives, so that a
   * close asked later comes after. Resolves with each sink's commit (null: it keeps none).
   */
  writeCheckpoint(id: number, batches: readonly LetterBatch[]): Promise<(SinkCommit | null)[]> {
    const letters = [...this.carried.splice(0), ...batches]
    let commits: (SinkCommit | null)[] = []
    const done = this.enqueue(async () => {
      for (const b of letters) await this.writeNow(b)
      commits = []
      for (let i = 0; i < this.writers.length; i++) {
        const w = this.writers[i]
        if (w.preCommit === undefined) {
          await w.flush?.()
          commits.push(null)
          continue
        }
        try {
          commits.push(await w.preCommit(id))
        } catch (e) {
          throw new SluiceError('SINK_IO', `dead-letter sink (${this.sinks[i].kind}) could not pre-commit checkpoint ${id}: ${describeCause(e)}`, { cause: e })
        }
      }
    })
    return done.then(() => commits)
  }

  /** Letters handed over with a checkpoint that was abandoned: they came before the next one's barriers. */
  carry(batches: readonly LetterBatch[]): void {
    for (const b of batches) this.carried.push(b)
  }

  /** The checkpoint whose writeCheckpoint gave `commits` is durable. */
  commit(commits: readonly (SinkCommit | null)[]): Promise<void> {
    return this.enqueue(async () => {
      if (this.closed) return
      for (let i = 0; i < this.writers.length; i++) {
        const c = commits[i]
        if (c !== null && c !== undefined) await this.writers[i].commit?.(c)
      }
    })
  }

  /** Writes the held letters, flushes and closes every sink. */
  close(): Promise<void> {
    return this.enqueue(async () => {
      for (const b of this.carried.splice(0)) await this.writeNow(b)
      for (let i = 0; i < this.held.length; i++) {
        const letters = this.held[i].splice(0)
        if (letters.length > 0) await this.writeNow({ sink: i, letters })
      }
      this.closed = true
      for (let i = 0; i < this.writers.length; i++) {
        try {
          await this.writers[i].flush?.()
          await this.writers[i].close?.()
        } catch (e) {
          throw new SluiceError('SINK_IO', `closing a dead-letter sink (${this.sinks[i].kind}) failed: ${describeCause(e)}`, { cause: e })
        }
      }
    })
  }

  /** After a failure: drops held letters and releases the sinks without writing more. */
  async abort(): Promise<void> {
    for (const h of this.held) h.length = 0
    this.carried = []
    this.closed = true
    await this.chain.catch(() => {})
    for (const w of this.writers) await Promise.resolve(w.abort?.() ?? w.close?.()).catch(() => {})
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work)
    // A failure reaches the caller through `next`; the chain goes on for later work.
    this.chain = next.catch(() => {})
    return next
  }

  private async writeNow(b: LetterBatch): Promise<void> {
    if (b.letters.length === 0) return
    const w = this.writers[b.sink]
    if (w === undefined) throw new SluiceError('INTERNAL', `no dead-letter sink ${b.sink} (of ${this.writers.length})`)
    try {
      await w.write(b.letters)
    } catch (e) {
      throw new SluiceError('SINK_IO', `dead-letter sink (${this.sinks[b.sink].kind}) failed: ${describeCause(e)}`, { cause: e })
    }
  }
}

/** Dead letters cross threads by structured clone; records that cannot be cloned go as JSON text. */
export function cloneable(letters: readonly DeadLetter[]): DeadLetter[] {
  return letters.map((l) => {
    try {
      structuredClone(l.record)
      return l
    } catch {
      let text: string
      try {
        text = JSON.stringify(l.record) ?? String(l.record)
      } catch {
        text = String(l.record)
      }
      return { ...l, record: text }
    }
  })
}

/**
 * `run`, settled once the job's dead-letter sinks are closed: after it ends, checkpointing stops
 * (a checkpoint being written still writes its letters first) and the sinks write what they hold
 * and close. After a failure of a checkpointed job they are aborted instead: recovery truncates
 * them to the last checkpoint and the replay makes the rest again.
 */
export function closeDeadLetters<R>(letters: DeadLetterWriters, checkpoints: { stop(): void } | null, run: Promise<R>): Promise<R> {
  return run.then(
    async (r) => {
      checkpoints?.stop()
      await letters.close()
      return r
    },
    async (e: unknown) => {
      checkpoints?.stop()
      if (checkpoints === null) await letters.close().catch(() => {})
      else await letters.abort()
      throw e
    },
  )
}
