/**
 * A task runs one chain of operators: its mailbox takes input batches, watermarks, idleness
 * changes and end-of-input from its channels in order, runs them through the chain by direct
 * calls, and sends results to its output channels. It never blocks the thread: when an output is
 * full it reports "backpressured" and the scheduler comes back later; when a sink write is in
 * flight it parks on the promise.
 *
 * Lifecycle (state table):
 *   created --open()--> running --all inputs ended--> finishing --sinks closed--> finished
 *   any state --failure or stop--> finished (the job reports the failure)
 */
import { NumberMinHeap } from '../../state/min-heap.ts'
import type { Batch, Operator } from '../../operators/types.ts'
import { MAX_WATERMARK, MIN_WATERMARK } from '../../operators/types.ts'
import type { Clock } from '../../time/clock.ts'
import { BarrierAligner } from './barrier-aligner.ts'
import { BarrierItem, END, IdleItem, isControl, LatencyMarkerItem, WatermarkItem, type ChannelItem, type ControlItem, type InChannel } from '../exchange/channel.ts'
import { LetterBuffer, type DeadLetterRouter, type LetterBatch } from './dead-letters.ts'
import { addCounts, TaskMetrics, type OperatorMetrics, type RecordCounts } from '../../metrics/task-metrics.ts'
import { Collector, type OperatorContextImpl, type TaskServices } from './operator-context.ts'
import type { SinkOperator } from './sink-operator.ts'
import type { DeadLetter, Sink, SinkCommit } from '../../connectors/spi.ts'
import { SluiceError } from '../../errors.ts'
import { ownsKeyGroups } from '../../state/key-groups.ts'
import { decodeSnapshot, encodeSnapshot } from '../../state/snapshot.ts'
import type { OutChannel, OutputRoute } from '../exchange/route.ts'

export type TaskState = 'created' | 'running' | 'finishing' | 'finished'

const TRANSITIONS: Record<TaskState, readonly TaskState[]> = {
  created: ['running', 'finished'],
  running: ['finishing', 'finished'],
  finishing: ['finished'],
  finished: [],
}

export interface ChainLink {
  readonly id: string
  readonly label: string
  readonly op: Operator<unknown, unknown>
  readonly ctx: OperatorContextImpl
  readonly out: Collector<unknown>
  readonly metrics: OperatorMetrics
  /** Side-output tag → routes of the edges that consume it. */
  readonly sideRoutes: Map<string, OutputRoute[]>
  readonly sink: SinkOperator<unknown> | null
}

export interface TaskInput {
  readonly channel: InChannel<unknown>
  readonly input: number
  watermark: number
  idle: boolean
  ended: boolean
  /** Delivered the barrier of the checkpoint being aligned: taken from again once all inputs have. */
  blocked?: boolean
}

/** What a task hands the checkpoint coordinator at a barrier. */
export interface TaskCheckpointParts {
  readonly operators: Record<string, readonly Uint8Array[]>
  readonly sources: Record<string, unknown>
  readonly sinks: Record<string, unknown>
  /** The task's watermark when it took the snapshot (restored so late data stays late). */
  readonly watermark: number | null
  /** Dead letters of the records before the barrier since the task's previous one (see dead-letters.ts). */
  readonly letters: readonly LetterBatch[]
  /** The task's operators' counters at the barrier, since this run began (see RecordCounts). */
  readonly counts: RecordCounts
  /** How this task's part went (for the checkpoint history and metrics). */
  readonly timing: TaskCheckpointTiming
}

/** When the barrier reached a task and what the task spent on it. */
export interface TaskCheckpointTiming {
  /** Epoch ms when the first barrier reached the task (a source: when it took the checkpoint). */
  readonly barrierAt: number
  /** From the first input's barrier to the last's, ms (0 for one input). */
  readonly alignmentMs: number
  /** Snapshotting the operators' state on the task's thread, ms. */
  readonly syncMs: number
}

/** The task's side of the checkpoint coordinator. */
export interface CheckpointListener {
  ack(task: Task, checkpointId: number, parts: TaskCheckpointParts): void
}

/** What a task restores from before it opens. */
export interface TaskRestore {
  /** Operator id → encoded snapshots of every old subtask that had it. */
  readonly operators: ReadonlyMap<string, readonly Uint8Array[]>
  /** This subtask's source position, by source id. */
  readonly sources: ReadonlyMap<string, unknown>
  /** Sink id → the commit to recover to (null: no checkpoint, start empty). */
  readonly sinks: ReadonlyMap<string, unknown>
  /** The lowest watermark of the old subtasks. */
  readonly watermark: number
}

/** How a task reaches the scheduler. */
export interface Scheduler {
  wake(): void
  fail(error: unknown): void
}

/** Epoch ms with sub-ms precision, comparable across threads (each thread's timeOrigin differs). */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now()
}

/** Items a task takes from its inputs per step before yielding to other tasks. */
export const ITEMS_PER_STEP = 8
/**
 * A step also ends after this much time (checked per item), so a slow operator cannot hold the
 * thread — and the event loop that serves timers, I/O and the monitoring server — for long.
 */
export const STEP_BUDGET_MS = 4

/** A task's part of a completed checkpoint: its sinks' pre-commits and its sources' saved positions. */
export interface CompletedPart {
  readonly sinks: Record<string, unknown>
  readonly sources: Record<string, unknown>
}

export class Task implements TaskServices {
  state: TaskState = 'created'
  readonly metrics: TaskMetrics
  /** The chain as executed (runs of stateless operators may be fused into one link). */
  links: ChainLink[] = []
  /** Every operator of the chain, one link each, for metrics and explain. */
  readonly operatorLinks: ChainLink[] = []
  readonly inputs: TaskInput[] = []
  /** Routes fed by the chain's main output (the tail's, or the source's when the chain is empty). */
  readonly mainRoutes: OutputRoute[] = []
  /** Every channel this task sends to, main and side. */
  readonly outputs: OutChannel[] = []
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
  protected currentWatermark = MIN_WATERMARK
  private idleDownstream = false
  private nextInput = 0
  private procTimers: (NumberMinHeap | null)[] = []

  constructor(
    readonly id: string,
    /** Which parallel instance of its chain this task is, and how many there are. */
    readonly subtask: number,
    readonly parallelism: number,
    readonly clock: Clock,
    readonly deadLetters: DeadLetterRouter,
    protected readonly scheduler: Scheduler,
  ) {
    this.metrics = new TaskMetrics(id)
  }

  protected transition(to: TaskState): void {
    if (!TRANSITIONS[this.state].includes(to)) throw new SluiceError('INTERNAL', `task ${this.id}: illegal transition ${this.state} -> ${to}`)
    this.state = to
  }

  watermark(): number {
    return this.currentWatermark
  }

  deadLetter(sink: Sink<DeadLetter>, letter: DeadLetter): void {
    if (this.checkpoints === null) this.deadLetters.add(sink, letter)
    else this.heldLetters.add(sink, letter)
  }

  /** The letters held since the last barrier, for this one's checkpoint part. */
  private takeHeldLetters(): LetterBatch[] {
    if (this.heldLetters.size === 0) return []
    return this.heldLetters.take().map(([sink, letters]) => ({ sink: this.deadLetters.indexOf(sink), letters }))
  }

  /** No barrier follows (end of input, or a stop): held letters go out with the job's others. */
  private releaseHeldLetters(): void {
    this.deadLetters.addAll(this.heldLetters)
  }

  addLink(link: ChainLink): void {
    this.links.push(link)
    this.operatorLinks.push(link)
    this.procTimers.push(null)
  }

  /** Replaces the executed chain (after fusion); operator contexts learn their new positions. */
  setExecutedLinks(links: ChainLink[]): void {
    this.links = links
    this.procTimers = links.map(() => null)
    links.forEach((l, i) => {
      l.ctx.index = i
    })
  }

  async open(): Promise<void> {
    const r = this.restore
    for (const l of this.links) {
      l.op.open?.(l.ctx)
      if (l.sink !== null) await l.sink.openWriter(l.ctx, r === null ? undefined : ((r.sinks.get(l.id) ?? null) as SinkCommit | null))
    }
    if (r !== null) this.restoreOperators(r)
    this.transition('running')
  }

  /** Gives each stateful operator its key groups' state from the old subtasks' snapshots. */
  private restoreOperators(r: TaskRestore): void {
    const owns = ownsKeyGroups(this.subtask, this.maxParallelism, this.parallelism)
    for (const l of this.operatorLinks) {
      const parts = r.operators.get(l.id)
      if (parts === undefined || parts.length === 0) continue
      if (l.op.restoreState === undefined) {
        throw new SluiceError('CHECKPOINT_INCOMPATIBLE', `operator "${l.id}" has state in the checkpoint but keeps none now (${l.label}); give the stateful operator back its id, or pass --allow-non-restored-state`)
      }
      l.op.restoreState(parts.map((b) => decodeSnapshot(b)), owns, l.ctx)
    }
    if (r.watermark > this.currentWatermark) {
      this.currentWatermark = r.watermark
      this.metrics.watermark = r.watermark
    }
  }

  // ---- processing-time callbacks -------------------------------------------------------------

  requestProcessingTime(opIndex: number, timeMs: number): void {
    let h = this.procTimers[opIndex]
    if (h === null) {
      h = new NumberMinHeap()
      this.procTimers[opIndex] = h
    }
    h.push(timeMs)
  }

  nextProcessingTime(): number {
    let t = Number.POSITIVE_INFINITY
    for (const h of this.procTimers) if (h !== null && h.peek() < t) t = h.peek()
    return t
  }

  fireProcessingTime(now: number): void {
    if (this.state !== 'running') return
    for (let k = 0; k < this.links.length; k++) {
      const h = this.procTimers[k]
      if (h === null || h.peek() > now) continue
      while (h.size > 0 && h.peek() <= now) h.pop()
      const l = this.links[k]
      l.op.onProcessingTime?.(now, l.ctx, l.out)
      this.forward(k)
    }
    this.afterWork()
  }

  // ---- the mailbox ----------------------------------------------------------------------------

  outputsFull(): boolean {
    const outs = this.outputs
    for (let i = 0; i < outs.length; i++) if (outs[i].full) return true
    return false
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
    const start = performance.now()
    for (let n = 0; n < ITEMS_PER_STEP; n++) {
      const inp = this.pickInput()
      if (inp === null) break
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
      if (inp.blocked !== true && !inp.channel.isEmpty) {
        this.nextInput = (this.nextInput + i + 1) % n
        return inp
      }
    }
    return null
  }

  /** Runs a batch through links k.. of the chain. */
  protected runFrom(k: number, batch: Batch<unknown>, input: number): void {
    const l = this.links[k]
    const n = batch.records.length
    l.metrics.recordsIn += n
    l.ctx.currentInput = batch
    l.op.processBatch(batch, l.ctx, l.out, input)
    l.ctx.currentInput = null
    l.ctx.inputBase += n
    this.forward(k)
  }

  /** Passes what link k emitted on: to link k+1, or to the output channels. */
  protected forward(k: number): void {
    const l = this.links[k]
    if (l.out.sides !== null) this.flushSides(l)
    const n = l.out.size
    if (n === 0) return
    l.metrics.recordsOut += n
    const b = l.out.takeBatch()
    if (k + 1 < this.links.length) this.runFrom(k + 1, b, 0)
    else this.emitMain(b)
  }

  protected emitMain(batch: Batch<unknown>): void {
    const routes = this.mainRoutes
    for (let i = 0; i < routes.length; i++) routes[i].send(batch)
  }

  private flushSides(l: ChainLink): void {
    for (const [tag, b] of l.out.sides as Map<string, Batch<unknown>>) {
      if (b.records.length === 0) continue
      const routes = l.sideRoutes.get(tag)
      if (routes === undefined) l.metrics.sideOutputDropped += b.records.length
      else for (const r of routes) r.send(b)
      l.metrics.recordsOut += b.records.length
    }
    l.out.sides = null
  }

  /** After a unit of work: park on a sink write if one is in flight. */
  protected afterWork(): void {
    for (let k = this.links.length - 1; k >= 0; k--) {
      const s = this.links[k].sink
      if (s !== null && s.pending !== null) {
        const p = s.pending
        s.pending = null
        this.park(p)
        return
      }
    }
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

  /** Records a latency marker's age here and passes it on (one channel per route). */
  protected onLatencyMarker(item: LatencyMarkerItem): void {
    this.metrics.latency.record(wallClockMs() - item.time)
    const routes = this.mainRoutes
    for (let i = 0; i < routes.length; i++) routes[i].sendMarker(item)
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
    if (item instanceof WatermarkItem) {
      if (item.watermark > inp.watermark) inp.watermark = item.watermark
    } else if (item instanceof IdleItem) {
      inp.idle = item.idle
    } else {
      inp.ended = true
      inp.idle = false
      inp.watermark = MAX_WATERMARK
    }
    this.recomputeWatermark()
    if (this.inputs.every((i) => i.ended)) this.finish()
    else this.takeCheckpointIfAligned(this.aligner.check(this.inputs))
  }

  /** Every input still open has delivered barrier `id` (-1: not yet): snapshot and pass it on. */
  private takeCheckpointIfAligned(id: number): void {
    if (id >= 0) this.checkpoint(id, {}, this.aligner.startedAt, this.aligner.durationMs())
  }

  /**
   * Takes this task's part of checkpoint `id` — every stateful operator's state, the sinks'
   * pre-commits, and `sources` (a source task's reader positions) — then sends the barrier on.
   * Sink pre-commits flush and fsync: the task waits for them (no write may start meanwhile) and
   * acknowledges when they are done.
   */
  protected checkpoint(id: number, sources: Record<string, unknown>, barrierAt: number, alignmentMs: number): void {
    const operators: Record<string, readonly Uint8Array[]> = {}
    const ctx = { maxParallelism: this.maxParallelism }
    const t0 = performance.now()
    for (const l of this.operatorLinks) {
      if (l.op.snapshotState !== undefined) operators[l.id] = encodeSnapshot(l.op.snapshotState(ctx))
    }
    const timing: TaskCheckpointTiming = { barrierAt, alignmentMs, syncMs: performance.now() - t0 }
    const letters = this.takeHeldLetters()
    const counts = addCounts({}, this.countedMetrics())
    const barrier = new BarrierItem(id)
    for (const ch of this.outputs) ch.sendControl(barrier)
    const wm = this.currentWatermark
    const watermark = Number.isFinite(wm) ? wm : null
    const sinkLinks = this.operatorLinks.filter((l) => l.sink !== null)
    const listener = this.checkpoints
    if (sinkLinks.length === 0) {
      listener?.ack(this, id, { operators, sources, sinks: {}, watermark, letters, counts, timing })
      return
    }
    this.park(
      Promise.all(sinkLinks.map((l) => (l.sink as SinkOperator<unknown>).preCommit(id))).then((commits) => {
        const sinks: Record<string, unknown> = {}
        sinkLinks.forEach((l, i) => {
          if (commits[i] !== null) sinks[l.id] = commits[i]
        })
        listener?.ack(this, id, { operators, sources, sinks, watermark, letters, counts, timing })
      }),
    )
  }

  /** The metrics whose counters a checkpoint carries. */
  protected countedMetrics(): OperatorMetrics[] {
    return this.operatorLinks.map((l) => l.metrics)
  }

  /**
   * The checkpoint completed: commit what each sink pre-committed for it (and, in a source task,
   * tell the reader its position is safe, see SourceTask).
   */
  commitCheckpoint(part: CompletedPart): Promise<void> {
    const sinks = part.sinks
    const work: Promise<void>[] = []
    for (const l of this.operatorLinks) {
      const c = sinks[l.id]
      if (l.sink !== null && c !== undefined) work.push(l.sink.commit(c as SinkCommit))
    }
    return Promise.all(work).then(() => {})
  }

  /** The task's watermark is the minimum over inputs that are neither idle nor ended. */
  private recomputeWatermark(): void {
    let min = MAX_WATERMARK
    let active = 0
    let idle = 0
    for (const i of this.inputs) {
      if (i.ended) continue
      if (i.idle) {
        idle++
        continue
      }
      active++
      if (i.watermark < min) min = i.watermark
    }
    if (active === 0 && idle > 0) {
      this.setIdle(true)
      return
    }
    this.setIdle(false)
    if (min > this.currentWatermark) this.advanceWatermark(min)
  }

  protected setIdle(idle: boolean): void {
    if (idle === this.idleDownstream) return
    this.idleDownstream = idle
    const item = new IdleItem(idle)
    for (const ch of this.outputs) ch.sendControl(item)
  }

  protected advanceWatermark(wm: number): void {
    this.currentWatermark = wm
    this.metrics.watermark = wm
    for (let k = 0; k < this.links.length; k++) {
      const l = this.links[k]
      if (l.op.onWatermark !== undefined) {
        l.op.onWatermark(wm, l.ctx, l.out)
        this.forward(k)
      }
    }
    const item = new WatermarkItem(wm)
    for (const ch of this.outputs) ch.sendControl(item)
  }

  /** End of all input: final watermark, operators' finish hooks, END downstream, close sinks. */
  protected finish(): void {
    if (this.currentWatermark < MAX_WATERMARK) this.advanceWatermark(MAX_WATERMARK)
    for (let k = 0; k < this.links.length; k++) {
      const l = this.links[k]
      if (l.op.finish !== undefined) {
        l.op.finish(l.ctx, l.out)
        this.forward(k)
      }
    }
    for (const ch of this.outputs) ch.sendControl(END)
    this.releaseHeldLetters()
    this.transition('finishing')
    const sinkWrites: Promise<void>[] = []
    for (const l of this.links) {
      if (l.sink !== null && l.sink.pending !== null) {
        sinkWrites.push(l.sink.pending)
        l.sink.pending = null
      }
    }
    this.park(
      Promise.all(sinkWrites)
        .then(() => this.closeLinks())
        .then(() => this.transition('finished')),
    )
  }

  private async closeLinks(): Promise<void> {
    for (const l of this.links) {
      l.op.close?.()
      if (l.sink !== null) await l.sink.flushAndClose()
    }
  }

  /** After a failure or stop: release resources without flushing windows. */
  async abort(flushSinks: boolean): Promise<void> {
    if (flushSinks) this.releaseHeldLetters()
    for (const l of this.links) {
      try {
        l.op.close?.()
      } catch {
        // Secondary to the error that stopped the job.
      }
      if (l.sink !== null) await (flushSinks ? l.sink.flushAndClose() : l.sink.abort(this.restore !== null))
    }
    this.state = 'finished'
  }
}
