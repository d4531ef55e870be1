/**
 * Test support for operator snapshots: a driver that runs one operator instance as a task does
 * (batches, watermarks, processing-time callbacks, end of input), and a runner that plays a
 * script of steps over `p` subtasks, snapshots them part-way, encodes and decodes the snapshots,
 * restores them into fresh instances at another parallelism and plays the rest.
 */
import { decodeSnapshot, encodeSnapshotBytes, type KeyGroupFilter, type OperatorSnapshot } from './snapshot.ts'
import { keyGroupOf, ownsKeyGroups, subtaskOfKeyGroup } from './key-groups.ts'
import { NumberMinHeap } from '../time/min-heap.ts'
import { ManualClock } from '../time/clock.ts'
import type { Operator, OperatorContext, Output, OutputTag } from '../operators/types.ts'
import type { StateBackendFactory } from './backend.ts'

/** One thing that happens to an operator: a batch on an input, a watermark, the clock moving. */
export type Step =
  | { readonly kind: 'batch'; readonly input: number; readonly records: readonly unknown[]; readonly times: readonly number[] }
  | { readonly kind: 'watermark'; readonly time: number }
  | { readonly kind: 'clock'; readonly toMs: number }

export interface Emitted {
  readonly value: unknown
  readonly time: number
  /** The side output's id, or '' for the main output. */
  readonly side: string
  /** The clock when it was emitted: a restored operator must emit at the same moments. */
  readonly at: number
}

/** Runs one operator instance as its task would; it is the operator's context and output. */
export class OperatorDriver implements OperatorContext, Output<unknown> {
  readonly emitted: Emitted[] = []
  lateDropped = 0
  readonly subtaskIndex = 0
  readonly parallelism = 1
  private watermark = Number.NEGATIVE_INFINITY
  private readonly callbacks = new NumberMinHeap()

  constructor(
    readonly op: Operator<unknown, unknown>,
    readonly clock: ManualClock,
    readonly operatorId = 'op',
    /** The operator's state backend; undefined: the heap. */
    readonly stateBackend?: StateBackendFactory,
  ) {
    op.open?.(this)
  }

  currentWatermark(): number {
    return this.watermark
  }
  requestProcessingTimeCallback(timeMs: number): void {
    this.callbacks.push(timeMs)
  }
  recordFailed(_record: unknown, cause: unknown): void {
    throw cause
  }
  countLateDropped(n: number): void {
    this.lateDropped += n
  }
  emit(value: unknown, time: number): void {
    this.emitted.push({ value, time, side: '', at: this.clock.now() })
  }
  emitSide<S>(tag: OutputTag<S>, value: S, time: number): void {
    this.emitted.push({ value, time, side: tag.id, at: this.clock.now() })
  }

  batch(records: readonly unknown[], times: readonly number[], input = 0): void {
    if (records.length > 0) this.op.processBatch({ records: records.slice(), times: times.slice() }, this, this, input)
  }

  /** As a task: only a rising watermark reaches the operator. */
  advanceWatermark(wm: number): void {
    if (wm <= this.watermark) return
    this.watermark = wm
    this.op.onWatermark?.(wm, this, this)
  }

  /** As the scheduler: fires once if a requested callback is due by the clock. */
  fireDueCallbacks(): void {
    const now = this.clock.now()
    if (this.callbacks.peek() > now) return
    while (this.callbacks.size > 0 && this.callbacks.peek() <= now) this.callbacks.pop()
    this.op.onProcessingTime?.(now, this, this)
  }

  finish(): void {
    this.advanceWatermark(Number.POSITIVE_INFINITY)
    this.op.finish?.(this, this)
  }

  snapshot(maxParallelism: number): OperatorSnapshot {
    if (this.op.snapshotState === undefined) throw new Error('operator has no snapshotState')
    return this.op.snapshotState({ maxParallelism })
  }

  restore(parts: readonly OperatorSnapshot[], owns: KeyGroupFilter): void {
    if (this.op.restoreState === undefined) throw new Error('operator has no restoreState')
    this.op.restoreState(parts, owns, this)
  }
}

/** Runs steps over a set of subtasks of one operator, routing records by key group. */
class Subtasks {
  constructor(
    readonly drivers: readonly OperatorDriver[],
    private readonly keyOf: readonly ((v: never) => unknown)[],
    private readonly maxParallelism: number,
  ) {}

  play(steps: readonly Step[], clock: ManualClock): void {
    const p = this.drivers.length
    for (const s of steps) {
      switch (s.kind) {
        case 'batch': {
          const key = this.keyOf[s.input] as (v: unknown) => unknown
          const parts = this.drivers.map(() => ({ records: [] as unknown[], times: [] as number[] }))
          for (let i = 0; i < s.records.length; i++) {
            const part = parts[subtaskOfKeyGroup(keyGroupOf(key(s.records[i]), this.maxParallelism), this.maxParallelism, p)]
            part.records.push(s.records[i])
            part.times.push(s.times[i])
          }
          this.drivers.forEach((d, i) => d.batch(parts[i].records, parts[i].times, s.input))
          break
        }
        case 'watermark':
          for (const d of this.drivers) d.advanceWatermark(s.time)
          break
        case 'clock':
          clock.set(s.toMs)
          for (const d of this.drivers) d.fireDueCallbacks()
          break
      }
    }
  }
}

export interface RestoreRun {
  /** Everything emitted, subtask by subtask: before the snapshot, then after the restore. */
  readonly emitted: Emitted[]
  /** Encoded snapshot sizes, per old subtask. */
  readonly snapshotBytes: number[]
  lateDropped: number
}

export interface RestoreOptions {
  /** Makes a fresh operator instance. */
  readonly make: () => Operator<unknown, unknown>
  /** Key selector per input. */
  readonly keyOf: readonly ((v: never) => unknown)[]
  readonly steps: readonly Step[]
  /** Steps [0, cut) run before the snapshot, [cut, end) after the restore. */
  readonly cut: number
  /** Subtasks before and after; 1 and 1 is a plain restore. */
  readonly before: number
  readonly after: number
  readonly maxParallelism?: number
  readonly startMs?: number
  /** The operators' state backend; default the heap. */
  readonly stateBackend?: StateBackendFactory
}

/** Plays the steps through one instance, without interruption. */
export function runUninterrupted(o: Pick<RestoreOptions, 'make' | 'keyOf' | 'steps' | 'maxParallelism' | 'startMs' | 'stateBackend'>): { emitted: Emitted[]; lateDropped: number } {
  const clock = new ManualClock(o.startMs ?? 0)
  const d = new OperatorDriver(o.make(), clock, 'op', o.stateBackend)
  new Subtasks([d], o.keyOf, o.maxParallelism ?? 128).play(o.steps, clock)
  d.finish()
  return { emitted: d.emitted, lateDropped: d.lateDropped }
}

/** What `before` subtasks emitted up to the cut, and their snapshots, encoded. */
export interface SnapshotRun {
  readonly emitted: Emitted[]
  lateDropped: number
  /** One encoded snapshot per old subtask. */
  readonly parts: Uint8Array[]
}

/** Plays steps [0, cut) over `before` subtasks and snapshots each (encoded). */
export function runToSnapshot(o: Omit<RestoreOptions, 'after'>): SnapshotRun {
  const maxP = o.maxParallelism ?? 128
  const clock = new ManualClock(o.startMs ?? 0)
  const first = new Subtasks(Array.from({ length: o.before }, () => new OperatorDriver(o.make(), clock, 'op', o.stateBackend)), o.keyOf, maxP)
  first.play(o.steps.slice(0, o.cut), clock)
  const parts = first.drivers.map((d) => encodeSnapshotBytes(d.snapshot(maxP)))
  const emitted: Emitted[] = []
  let lateDropped = 0
  for (const d of first.drivers) {
    emitted.push(...d.emitted)
    lateDropped += d.lateDropped
  }
  return { emitted, lateDropped, parts }
}

/**
 * Restores encoded snapshots into `after` fresh instances (each new subtask decoding only its key
 * groups), plays steps [cut, end) with the clock at `clockMs` and ends the input.
 */
export function runFromSnapshot(o: Omit<RestoreOptions, 'before'>, parts: readonly Uint8Array[], clockMs: number): { emitted: Emitted[]; lateDropped: number } {
  const maxP = o.maxParallelism ?? 128
  const clock = new ManualClock(clockMs)
  const second = new Subtasks(
    Array.from({ length: o.after }, (_, i) => {
      const owns = ownsKeyGroups(i, maxP, o.after)
      const d = new OperatorDriver(o.make(), clock, 'op', o.stateBackend)
      d.restore(parts.map((b) => decodeSnapshot(b)), owns)
      return d
    }),
    o.keyOf,
    maxP,
  )
  second.play(o.steps.slice(o.cut), clock)
  for (const d of second.drivers) d.finish()
  const emitted: Emitted[] = []
  let lateDropped = 0
  for (const d of second.drivers) {
    emitted.push(...d.emitted)
    lateDropped += d.lateDropped
  }
  return { emitted, lateDropped }
}

/** The clock after steps [0, cut): where a restored run picks up. */
export function clockAtCut(steps: readonly Step[], cut: number, startMs: number): number {
  let now = startMs
  for (let i = 0; i < cut; i++) {
    const s = steps[i]
    if (s.kind === 'clock') now = s.toMs
  }
  return now
}

/**
 * Plays steps [0, cut) over `before` subtasks, snapshots each, encodes and decodes the snapshots
 * (each new subtask decoding only its key groups), restores them into `after` fresh instances
 * and plays the rest.
 */
export function runWithRestore(o: RestoreOptions): RestoreRun {
  const first = runToSnapshot(o)
  const second = runFromSnapshot(o, first.parts, clockAtCut(o.steps, o.cut, o.startMs ?? 0))
  return {
    emitted: [...first.emitted, ...second.emitted],
    snapshotBytes: first.parts.map((b) => b.length),
    lateDropped: first.lateDropped + second.lateDropped,
  }
}

/** Emitted records in a canonical order, for comparing runs whose order is not defined. */
export function sorted(emitted: readonly Emitted[]): string[] {
  return emitted.map((e) => JSON.stringify([e.at, e.side, e.time, e.value])).sort()
}
