/**
 * A task runs one chain of operators: its mailbox takes input batches, watermarks, idleness
 * changes and end-of-input from its channels in order, runs them through the chain by direct
 * calls, and sends results to its output channels. It never blocks the thread: when an output is
 * full it reports "backpressured" and the scheduler comes back later; when a sink write is in
 * flight it parks on the promise.
 *
 * Lifecycle (state table):
 *   created --open()--> running --all inputs ended--> finishing --sinks closed--> finished
 *   (with checkpoints, finishing waits for the final checkpoint's commit before closing the sinks)
 *   any state --failure or stop--> finished (the job reports the failure)
 */
import type { DeadLetter, Sink, SinkCommit } from '../../connectors/spi.ts'
import { SluiceError } from '../../errors.ts'
import { TaskMetrics, type OperatorMetrics } from '../../metrics/task-metrics.ts'
import { MAX_WATERMARK, MIN_WATERMARK, type AsyncStage, type Batch } from '../../operators/types.ts'
import { ownsKeyGroups } from '../../state/key-groups.ts'
import type { Clock } from '../../time/clock.ts'
import { BarrierItem, END, IdleItem, isControl, LatencyMarkerItem, WatermarkItem, type ChannelItem, type ControlItem } from '../exchange/channel.ts'
import { BarrierAligner } from './barrier-aligner.ts'
import { LetterBuffer, type DeadLetterRouter } from './dead-letters.ts'
import { checkpointPart, FinalDecision } from './checkpoint-part.ts'
import { commitAll, takeAllPending, takePending } from './external-effects.ts'
import type { TaskServices } from './operator-context.ts'
import { restoreOperatorState } from './operator-state.ts'
import { FINAL_CHECKPOINT, ITEMS_PER_STEP, TASK_TRANSITIONS, type TaskState, STEP_BUDGET_MS, type CheckpointListener, type CompletedPart, type Scheduler, type TaskCheckpointParts, type TaskInput, type TaskRestore } from './task-types.ts'
import { IDLE, WatermarkTracker } from './watermark-tracker.ts'
import { Chain } from './chain.ts'

export { ITEMS_PER_STEP, STEP_BUDGET_MS, wallClockMs, type TaskState, type ChainLink, type CheckpointListener, type CompletedPart, type Scheduler, type TaskCheckpointParts, type TaskCheckpointTiming, type TaskInput, type TaskRestore } from './task-types.ts'

export class Task extends Chain implements TaskServices {
  state: TaskState = 'created'
  readonly metrics: TaskMetrics
  readonly inputs: TaskInput[] = []
  /**
   * A promise the task waits on (a sink's write or pre-commit, a source's read, closing); null when
   * runnable. While set the task is waiting on an external call, which time accounting counts apart
   * from busy: the thread is free for other work.
   */
  pending: Promise<void> | null = null
  /** Why the task could not run at the last step, for time accounting. */
  blockedOnOutput = false
  /** Set when the job takes checkpoints. */
  checkpoints: CheckpointListener | null = null
  /** Set before open() when the job resumes from a checkpoint (or starts with checkpoints: empty). */
  restore: TaskRestore | null = null
  /** Key groups of the job, for keyed state snapshots. */
  maxParallelism = 128
  /** Checkpoint barriers across the inputs (see barrier-aligner.ts). */
  readonly aligner = new BarrierAligner()
  /** With checkpoints: dead letters since the last barrier (see dead-letters.ts). */
  private readonly heldLetters = new LetterBuffer()
  /** The task's event time: the minimum over its active inputs (see watermark-tracker.ts). */
  protected readonly watermarks = new WatermarkTracker()
  private nextInput = 0
  /** What a finishing task waits for: its final checkpoint's commit, or an abort. */
  private readonly finalDecision = new FinalDecision()
  /** An asynchronous operator heading the chain (see AsyncStage): it holds input and watermarks until its calls complete. */
  private stage: AsyncStage | null = null
  /** The watermark the stage released: what the links after it have seen. */
  private stageWatermark = MIN_WATERMARK
  /** The input ended while the stage still held records: the rest of the chain finishes once it is empty. */
  private stageEnding = false

  constructor(
    readonly id: string,
    /** Which parallel instance of its chain this task is, and how many there are. */
    readonly subtask: number,
    readonly parallelism: number,
    readonly clock: Clock,
    readonly deadLetters: DeadLetterRouter,
    protected readonly scheduler: Scheduler,
  ) {
    super()
    this.metrics = new TaskMetrics(id)
  }

  protected transition(to: TaskState): void {
    if (!TASK_TRANSITIONS[this.state].includes(to)) throw new SluiceError('INTERNAL', `task ${this.id}: illegal transition ${this.state} -> ${to}`)
    this.state = to
  }

  /** The task's input watermark; for a link past an asynchronous head, what the head released. */
  watermark(link = 0): number {
    return link > 0 && this.stage !== null ? this.stageWatermark : this.watermarks.current
  }

  /** Cannot go on until calls complete: all its asynchronous head's room is in use, or the input ended with calls left (time accounting). */
  waitingOnCalls(): boolean {
    const s = this.stage
    return s !== null && !s.ready && (this.stageEnding || s.full())
  }

  /** `inp` holds a batch the full asynchronous head cannot take: a completed call (which wakes the scheduler) must come first. */
  heldBackByCalls(inp: TaskInput): boolean {
    return this.stage !== null && this.stage.full() && !isControl(inp.channel.peek() as ChannelItem<unknown>)
  }

  deadLetter(sink: Sink<DeadLetter>, letter: DeadLetter): void {
    if (this.checkpoints === null) this.deadLetters.add(sink, letter)
    else this.heldLetters.add(sink, letter)
  }

  async open(): Promise<void> {
    const r = this.restore
    this.stage = this.links[0]?.op.asyncStage ?? null
    if (this.stage !== null) this.stage.wake = () => this.scheduler.wake()
    for (const l of this.links) {
      l.op.open?.(l.ctx)
      if (l.external !== null) await l.external.openWriter(l.ctx, r === null ? undefined : ((r.sinks.get(l.id) ?? null) as SinkCommit | null))
    }
    if (r !== null) this.restoreOperators(r)
    this.transition('running')
  }

  /** Gives each stateful operator its key groups' state from the old subtasks' snapshots. */
  private restoreOperators(r: TaskRestore): void {
    restoreOperatorState(this.operatorLinks, r, ownsKeyGroups(this.subtask, this.maxParallelism, this.parallelism))
    if (r.watermark > this.watermarks.current) this.metrics.watermark = this.watermarks.current = r.watermark
  }

  fireProcessingTime(now: number): void {
    if (this.state !== 'running') return
    for (let k = 0; k < this.links.length; k++) {
      if (!this.timers.takeDue(k, now)) continue
      const l = this.links[k]
      l.op.onProcessingTime?.(now, l.ctx, l.out)
      this.forward(k)
    }
    this.afterWork()
  }

  /** Runs up to ITEMS_PER_STEP input items; returns whether it did any work. */
  step(): boolean {
    if (this.state !== 'running' || this.pending !== null) return false
    if (this.outputsFull()) {
      this.blockedOnOutput = true
      return false
    }
    this.blockedOnOutput = false
    let did = false
    const stage = this.stage
    if (stage !== null && stage.ready) {
      this.drainStage()
      this.afterWork()
      did = true
      if (this.state !== 'running' || this.pending !== null || this.outputsFull()) return true
    }
    const start = performance.now()
    for (let n = 0; n < ITEMS_PER_STEP; n++) {
      // A full asynchronous head takes no batch; watermarks, barriers and the end still pass.
      const inp = this.pickInput()
      if (inp === null) {
        if (stage !== null && stage.full() && this.overtakeBarrier(stage)) did = true
        break
      }
      did = true
      const item: ChannelItem<unknown> = inp.channel.take()
      if (isControl(item)) this.handleControl(inp, item)
      else this.runFrom(0, item, inp.input)
      this.afterWork()
      if (this.state !== 'running' || this.pending !== null || this.outputsFull() || performance.now() - start > STEP_BUDGET_MS) break
    }
    return did
  }

  private pickInput(): TaskInput | null {
    const ins = this.inputs
    const n = ins.length
    for (let i = 0; i < n; i++) {
      const inp = ins[(this.nextInput + i) % n]
      if (inp.blocked !== true && !inp.channel.isEmpty && !this.heldBackByCalls(inp)) {
        this.nextInput = (this.nextInput + i + 1) % n
        return inp
      }
    }
    return null
  }

  /** After a unit of work: park on an external call (a sink write) if one is in flight. */
  protected afterWork(): void {
    const p = takePending(this.links)
    if (p !== null) this.park(p)
  }

  protected park(p: Promise<unknown>): void {
    this.pending = p.then(
      () => {
        this.pending = null
        this.scheduler.wake()
      },
      (e: unknown) => {
        this.pending = null
        this.scheduler.fail(e)
      },
    )
  }

  /**
   * A full asynchronous head takes no records, and its service may be slow: a barrier queued behind
   * records would wait for the calls. Instead, when every open input holds the same barrier (a
   * queue or a ring, both looked through), the task takes it past them: the records ahead of it
   * stay queued (and counted) for later, and the snapshot holds them as the head's, so a restore
   * calls them again like the ones in flight.
   */
  private overtakeBarrier(stage: AsyncStage): boolean {
    let id = -1
    for (const inp of this.inputs) {
      if (inp.ended || inp.blocked === true) continue
      const b = inp.channel.barrierAhead?.() ?? null
      if (b === null || (id >= 0 && b !== id)) return false
      id = b
    }
    if (id < 0) return false
    const open = this.inputs.filter((i) => !i.ended && i.blocked !== true)
    const ahead: Batch<unknown>[] = []
    for (const inp of open) ahead.push(...(inp.channel.overtakeBarrier as () => Batch<unknown>[])())
    stage.overtaken = ahead
    try {
      for (const inp of open) this.takeCheckpointIfAligned(this.aligner.onBarrier(this.inputs, inp, id))
    } finally {
      stage.overtaken = null
    }
    return true
  }

  private handleControl(inp: TaskInput, item: ControlItem): void {
    if (item instanceof LatencyMarkerItem) {
      this.onLatencyMarker(item)
      return
    }
    if (item instanceof BarrierItem) {
      this.takeCheckpointIfAligned(this.aligner.onBarrier(this.inputs, inp, item.id))
      return
    }
    WatermarkTracker.onInputItem(inp, item)
    this.recomputeWatermark()
    if (this.inputs.every((i) => i.ended)) this.finish()
    else this.takeCheckpointIfAligned(this.aligner.check(this.inputs))
  }

  /** Every input still open has delivered barrier `id` (-1: not yet): snapshot and pass it on. */
  private takeCheckpointIfAligned(id: number): void {
    if (id >= 0) this.checkpoint(id, {}, this.aligner.startedAt, this.aligner.durationMs())
  }

  /**
   * Takes this task's part of checkpoint `id` (see checkpoint-part.ts) and sends the barrier on. It
   * acknowledges once its sinks' pre-commits (flush, fsync) are done; no write starts meanwhile.
   */
  protected checkpoint(id: number, sources: Record<string, unknown>, barrierAt: number, alignmentMs: number): void {
    const part = this.partOf(id, sources, barrierAt, alignmentMs)
    const barrier = new BarrierItem(id)
    for (const ch of this.outputs) ch.sendControl(barrier)
    const listener = this.checkpoints
    if (!(part instanceof Promise)) listener?.ack(this, id, part)
    else this.park(part.then((p) => listener?.ack(this, id, p)))
  }

  /** This task's part of checkpoint `id`; a promise while its sinks pre-commit. */
  private partOf(id: number, sources: Record<string, unknown>, barrierAt: number, alignmentMs: number): TaskCheckpointParts | Promise<TaskCheckpointParts> {
    const letters = this.deadLetters.indexed(this.heldLetters)
    return checkpointPart(this.operatorLinks, this.maxParallelism, id, { sources, barrierAt, alignmentMs, letters, counted: this.countedMetrics(), watermark: this.watermarks.current })
  }

  /** A source task's reader positions by source id, for its part of a checkpoint. */
  protected sourcePositions(): Record<string, unknown> {
    return {}
  }

  /** The final checkpoint's part, acknowledged; resolves with the coordinator's decision. */
  private async finalCheckpoint(): Promise<boolean> {
    const decided = this.finalDecision.wait()
    this.checkpoints?.ack(this, FINAL_CHECKPOINT, await this.partOf(FINAL_CHECKPOINT, this.sourcePositions(), Date.now(), 0))
    return decided
  }

  /** The metrics whose counters a checkpoint carries. */
  protected countedMetrics(): OperatorMetrics[] {
    return this.operatorLinks.map((l) => l.metrics)
  }

  /** The checkpoint completed: commit what each sink pre-committed for it (a source task also tells its reader). */
  async commitCheckpoint(part: CompletedPart, checkpointId: number): Promise<void> {
    await this.commitParts(part)
    if (checkpointId === FINAL_CHECKPOINT) this.finalDecision.decide(true)
  }

  protected commitParts(part: CompletedPart): Promise<void> {
    return commitAll(this.operatorLinks, part.sinks)
  }

  /** After an input's watermark, idleness or end changed. */
  private recomputeWatermark(): void {
    const wm = this.watermarks.recompute(this.inputs)
    if (wm === IDLE) {
      this.setIdle(true)
      return
    }
    this.setIdle(false)
    if (wm > this.watermarks.current) this.advanceWatermark(wm)
  }

  protected setIdle(idle: boolean): void {
    if (!this.watermarks.setIdle(idle)) return
    const item = new IdleItem(idle)
    for (const ch of this.outputs) ch.sendControl(item)
  }

  protected advanceWatermark(wm: number): void {
    this.watermarks.current = wm
    this.metrics.watermark = wm
    this.propagateWatermark(0, wm)
  }

  /** Runs onWatermark from link `from` on and sends it downstream; an asynchronous head holds it until the records before it have left. */
  private propagateWatermark(from: number, wm: number): void {
    for (let k = from; k < this.links.length; k++) {
      const l = this.links[k]
      if (l.op.onWatermark !== undefined) {
        l.op.onWatermark(wm, l.ctx, l.out)
        this.forward(k)
      }
      if (k === 0 && this.stage !== null) return this.drainStage()
    }
    const item = new WatermarkItem(wm)
    for (const ch of this.outputs) ch.sendControl(item)
  }

  /** Emits what the asynchronous head lets out, passes on the watermark it released, and finishes the chain once it is empty at the end. */
  private drainStage(): void {
    const l = this.links[0]
    const stage = this.stage as AsyncStage
    const wm = stage.drain(l.ctx, l.out)
    this.forward(0)
    if (wm > this.stageWatermark) {
      this.stageWatermark = wm
      this.propagateWatermark(1, wm)
    }
    if (this.stageEnding && stage.isEmpty()) {
      this.stageEnding = false
      this.endChain(1)
    }
  }

  /** End of all input: final watermark, operators' finish hooks, END downstream, close sinks. */
  protected finish(): void {
    if (this.watermarks.current < MAX_WATERMARK) this.advanceWatermark(MAX_WATERMARK)
    this.endChain(0)
  }

  /** Finish hooks from link `from` on (waiting at an asynchronous head that still holds records), then END and the sinks. */
  private endChain(from: number): void {
    for (let k = from; k < this.links.length; k++) {
      const l = this.links[k]
      if (l.op.finish !== undefined) {
        l.op.finish(l.ctx, l.out)
        this.forward(k)
      }
      if (k === 0 && this.stage !== null && !this.stage.isEmpty()) {
        this.stageEnding = true
        return
      }
    }
    for (const ch of this.outputs) ch.sendControl(END)
    this.transition('finishing')
    const inFlight = Promise.all(takeAllPending(this.links))
    if (this.checkpoints === null) {
      this.deadLetters.addAll(this.heldLetters)
      this.park(inFlight.then(() => this.closeLinks()).then(() => this.transition('finished')))
      return
    }
    // Not committed: aborted meanwhile (a failure, a stop), and abort() released the sinks and ended the task.
    this.park(inFlight.then(() => this.finalCheckpoint()).then(async (commit) => commit && (await this.closeLinks(), this.transition('finished'))))
  }

  private async closeLinks(): Promise<void> {
    for (const l of this.links) {
      l.op.close?.()
      if (l.external !== null) await l.external.flushAndClose()
    }
  }

  /** After a failure or stop: release resources without flushing windows. */
  async abort(flushSinks: boolean): Promise<void> {
    this.finalDecision.decide(false)
    if (flushSinks) this.deadLetters.addAll(this.heldLetters)
    for (const l of this.links) {
      try {
        l.op.close?.()
      } catch {
        // Secondary to the error that stopped the job.
      }
      if (l.external !== null) await (flushSinks ? l.external.flushAndClose() : l.external.abort(this.restore !== null))
    }
    if (this.state !== 'finished') this.transition('finished')
  }
}
