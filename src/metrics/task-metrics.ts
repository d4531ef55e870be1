import type { ConnectionStatus, PartitionProgress } from '../connectors/spi.ts'
import type { CallMetrics, CallMetricsSnapshot } from './call-metrics.ts'
import { Histogram } from './histogram.ts'
import type { ThreadStatsSnapshot } from './thread-stats.ts'
import type { HotKeySummary } from './top-k.ts'

/**
 * Per-operator and per-task counters, updated per batch (never per record). The monitoring
 * issue exposes them; the shapes are fixed here so the hot path stays monomorphic.
 */
export class OperatorMetrics {
  recordsIn = 0
  recordsOut = 0
  /** Records whose processing threw (any policy). */
  errors = 0
  skipped = 0
  deadLettered = 0
  lateDropped = 0
  /** Records emitted to a side output that nothing consumes. */
  sideOutputDropped = 0
  /** Where and why the first record skipped or dead-lettered was ("views.csv line 2 (byte 13): …"); '' before one. */
  firstRejected = ''
  /** An asynchronous operator's calls to its service (mapAsync, lookupJoin); null for the others. */
  calls: CallMetrics | null = null

  constructor(readonly operatorId: string) {}
}

export class TaskMetrics {
  /** Latency markers' age on arrival here (source → this task), ms. */
  readonly latency = new Histogram()
  /** Running the task's own code on the thread. */
  busyMs = 0
  /** Awaiting an external call: a sink's write, flush or pre-commit, or a source's read, in flight. */
  waitingMs = 0
  backpressuredMs = 0
  idleMs = 0
  watermark = Number.NEGATIVE_INFINITY

  constructor(readonly taskId: string) {}
}

export interface OperatorMetricsSnapshot {
  operator: string
  task: string
  /** 0-based parallel instance. */
  subtask: number
  recordsIn: number
  recordsOut: number
  errors: number
  skipped: number
  deadLettered: number
  lateDropped: number
  sideOutputDropped: number
  /** See OperatorMetrics.firstRejected; absent before any record was skipped or dead-lettered. */
  firstRejected?: string
  stateEntries: number
  /** Estimated from a sample of the state (see state/state-size.ts); 0 for stateless operators. */
  stateBytes: number
  pendingTimers: number
  /** An asynchronous operator (mapAsync, mapAsyncBatch, lookupJoin): its calls to the service. */
  calls?: CallMetricsSnapshot
}

export interface TaskMetricsSnapshot {
  task: string
  subtask: number
  parallelism: number
  operators: string[]
  /** Cumulative ms: busy + waiting + backpressured + idle ≈ the task's wall time. */
  busyMs: number
  waitingMs: number
  backpressuredMs: number
  idleMs: number
  watermark: number | null
  /** Latency markers' ages on arrival (cumulative histogram, sparse [bucket, count, ...]), their sum and the largest. */
  latency: number[]
  latencySumMs: number
  latencyMaxMs: number
  /** Encoded bytes through cross-thread channels, cumulative. */
  bytesIn: number
  bytesOut: number
  /** Fullest input / output channel, 0..1; null without channels. */
  inputQueueUsage: number | null
  outputQueueUsage: number | null
  /** Sampled heaviest keys sent to each keyed consumer, cumulative counts, with their sample size. */
  hotKeys: ({ operator: string } & HotKeySummary)[]
  /** A source task whose reader reports them: its partitions' read positions and lag. */
  partitions?: PartitionProgress[]
  /** The connectors of this task that talk to a server (its source, its sinks): their link's state. */
  connections?: ConnectorConnection[]
}

/** One connector's link to its server, in a task's metrics. */
export interface ConnectorConnection extends ConnectionStatus {
  /** The source's or sink's id. */
  connector: string
}

export interface JobMetrics {
  operators: OperatorMetricsSnapshot[]
  tasks: TaskMetricsSnapshot[]
  /** Per thread that ran tasks (absent from results of older snapshots). */
  threads?: ThreadStatsSnapshot[]
}

/** Counters a checkpoint carries, so totals after a restore count the whole job (see RecordCounts). */
export const CHECKPOINTED_COUNTERS = ['recordsIn', 'recordsOut', 'errors', 'skipped', 'deadLettered', 'lateDropped'] as const
/**
 * The counters a checkpoint carries (see `jobTotal`).
 *
 * @useDeclaredType
 */
export type CheckpointedCounter = (typeof CHECKPOINTED_COUNTERS)[number]

/** Operator id → its CHECKPOINTED_COUNTERS summed over subtasks, in that order. */
export type RecordCounts = Record<string, number[]>

/** Adds `metrics`' checkpointed counters to `into` (by operator id). */
export function addCounts(into: RecordCounts, metrics: readonly OperatorMetrics[] | RecordCounts): RecordCounts {
  const add = (id: string, values: readonly number[]): void => {
    const sum = into[id] ?? (into[id] = CHECKPOINTED_COUNTERS.map(() => 0))
    for (let i = 0; i < sum.length; i++) sum[i] += values[i] ?? 0
  }
  if (Array.isArray(metrics)) for (const m of metrics as readonly OperatorMetrics[]) add(m.operatorId, CHECKPOINTED_COUNTERS.map((c) => m[c]))
  else for (const [id, values] of Object.entries(metrics)) add(id, values)
  return into
}

/** The per-operator counters `operatorTotal` sums. */
export type OperatorCounter = 'recordsIn' | 'recordsOut' | 'errors' | 'skipped' | 'deadLettered' | 'lateDropped' | 'sideOutputDropped' | 'stateEntries'

/**
 * One counter of one operator, summed over its subtasks.
 * @example
 * ```ts
 * const job = pipeline.run()
 * const skipped = operatorTotal(job.metrics(), 'parse', 'skipped')
 * ```
 */
export function operatorTotal(metrics: JobMetrics, operatorId: string, counter: OperatorCounter): number {
  let n = 0
  for (const m of metrics.operators) if (m.operator === operatorId) n += m[counter]
  return n
}

/**
 * As operatorTotal, over the whole job: metrics count since this run (or restart) began, so a job
 * that resumed from a checkpoint adds what the checkpoint had counted (`restored`; see
 * CheckpointRestore.counts). The output of an exactly-once sink then matches its count.
 * @example
 * ```ts
 * const job = pipeline.run({ checkpoints: { dir: 'chk', intervalMs: 1000 } })
 * const result = await job.done
 * const written = jobTotal(result.metrics, job.checkpoints()?.restore?.counts, 'results', 'recordsIn')
 * ```
 */
export function jobTotal(metrics: JobMetrics, restored: RecordCounts | undefined, operatorId: string, counter: CheckpointedCounter): number {
  return operatorTotal(metrics, operatorId, counter) + (restored?.[operatorId]?.[CHECKPOINTED_COUNTERS.indexOf(counter)] ?? 0)
}
