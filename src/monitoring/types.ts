/**
 * The monitoring API's shapes (docs/API.md is the prose; this file is the contract both the server
 * and the dashboard follow). Times in ms (instants in epoch ms), rates per second, sizes in bytes;
 * unknown values are null.
 */
export interface JobSummary {
  id: string               // unique per server, e.g. "q5"
  name: string
  status: 'starting' | 'running' | 'finished' | 'failed' | 'stopped'
  startedAt: number        // epoch ms
  uptimeMs: number
}

import type { Percentiles } from '../metrics/histogram.ts'
export type { Percentiles }

export interface JobView extends JobSummary {
  t: number                // epoch ms of this snapshot
  parallelism: number      // job default
  workerCount: number      // worker threads (0: single thread)
  recordsPerSecond: number // records out of all sources, last second
  latency: Percentiles | null   // end to end, source → sinks, last 10 s of latency markers
  topFinding: Finding | null
  graph: {
    nodes: { id: string; label: string; kind: 'source' | 'operator' | 'sink'; parallelism: number; task: number }[]
    edges: { from: string; to: string; partitioning: 'forward' | 'hash' | 'rebalance' | 'broadcast'; chained: boolean; recordsPerSecond: number }[]
  }
  operators: OperatorView[]     // graph.nodes order
  workers: WorkerView[]
  alerts: Alert[]               // firing now
  checkpoints: CheckpointView | null   // null: the job takes no checkpoints
  sources: SourceProgressView[]   // sources whose readers report partitions (brokers); [] when none does
  connections: ConnectionView[]   // connectors that talk to a server, one per connector subtask; [] when none
}

/**
 * A source whose readers report their partitions (Kafka partitions, JetStream subjects, Redis
 * stream keys): how far behind the end it is and whether that grows. Lag rates are the change of
 * the lag over the monitor's last `windowSeconds` (positive: falling behind; negative: catching up).
 */
export interface SourceProgressView {
  source: string            // the source's id
  kind: string              // the connector kind, e.g. "kafka"
  lag: number | null        // records behind the end, summed over partitions with a known lag; null: none known
  lagPerSecond: number | null   // the change of that sum, records/s; null: not measured yet
  windowSeconds: number     // the time lagPerSecond covers
  partitionCount: number    // partitions reported (all subtasks)
  worst: PartitionView | null   // the partition farthest behind; null: no lag known
  partitions: PartitionView[]   // in subtask order, at most 1024 (partitionCount says how many there are)
}

export interface PartitionView {
  partition: string         // "orders/3", "nexmark.5"
  subtask: number           // the source subtask that reads it
  position: string          // the read position in the broker's terms, e.g. "offset 1200"
  lag: number | null        // records between the read position and the end the reader last saw
  lagPerSecond: number | null
}

/** One connector subtask's link to its server; `lastError` has any credentials in URIs masked. */
export interface ConnectionView {
  connector: string         // the source's or sink's id
  kind: string              // the connector kind, e.g. "kafka", "postgres"
  role: 'source' | 'sink'
  subtask: number
  state: 'connected' | 'reconnecting' | 'failed'
  lastError: string | null  // null: none since the last connect
  since: number             // epoch ms of the last change of state
}

export interface CheckpointView {
  intervalMs: number; timeoutMs: number               // as configured
  completed: number; failed: number; lastId: number   // counts add up over restarts
  lastFailure: { id: number; triggeredAt: number; reason: string } | null   // the newest checkpoint, if it failed
  // Of the last completed checkpoint; alignment, start delay and sync are the longest over its tasks.
  lastDurationMs: number | null; lastSizeBytes: number | null
  lastAlignmentMs: number | null      // first barrier to last barrier at a task with several inputs
  lastStartDelayMs: number | null     // trigger to the barrier reaching a task
  lastSyncMs: number | null           // snapshotting operator state on the task's thread
  restarts: number                    // restarts of the job in this process
  restoredFrom: number | null   // the checkpoint this run resumed from
  restore: CheckpointRestoreView | null   // what the current attempt restored from; null: a fresh start
}

export interface CheckpointRestoreView {
  time: number              // epoch ms when it was loaded
  checkpointId: number
  savepoint: string | null  // the savepoint file; null: the newest checkpoint in the directory
  takenAt: number           // epoch ms when the checkpoint was taken
  loadMs: number            // reading and checking the file
  sizeBytes: number
}

/** One checkpoint or savepoint, completed or failed (GET /api/v1/jobs/:id/checkpoints). */
export interface CheckpointRecordView {
  id: number
  kind: 'checkpoint' | 'savepoint'
  status: 'completed' | 'failed'
  triggeredAt: number       // epoch ms
  durationMs: number        // trigger to committed (completed) or abandoned (failed)
  sizeBytes: number | null  // null when failed
  alignmentMs: number | null; startDelayMs: number | null; syncMs: number | null   // longest over the tasks that acknowledged
  acknowledged: number; tasks: number
  failure: string | null    // why it failed
}

/** GET /api/v1/jobs/:id/checkpoints: the job view's figures and the latest checkpoints, newest first. */
export interface CheckpointsView extends CheckpointView {
  history: CheckpointRecordView[]   // at most 50, newest first (by trigger time), over restarts
}

/** Operator-level values aggregate the subtasks: sums for counts and rates, max for times, usage and lag. */
export interface OperatorMetrics {
  recordsIn: number; recordsOut: number                 // totals since start
  recordsInPerSecond: number; recordsOutPerSecond: number
  bytesInPerSecond: number; bytesOutPerSecond: number   // across threads only; 0 when none cross
  // Add up to ~1000. busy: running its own code on the thread; waiting: awaiting an external call (a
  // sink's write, flush or pre-commit, a source's read, an asynchronous operator's calls when every
  // slot is taken) while the thread is free for other work.
  busyMsPerSecond: number; waitingMsPerSecond: number; backpressuredMsPerSecond: number; idleMsPerSecond: number
  busyMs: number; waitingMs: number; backpressuredMs: number; idleMs: number          // the same, totals since start
  inputQueueUsage: number | null; outputQueueUsage: number | null                  // 0..1; null: no channel
  watermark: number | null; watermarkLagMs: number | null                          // lag = wall clock − watermark
  lateRecords: number; skippedRecords: number; deadLetteredRecords: number; errors: number
  stateEntries: number; stateBytes: number; pendingTimers: number
  latency: Percentiles | null   // source → this operator (latency markers), last 10 s
}

export interface OperatorView extends OperatorMetrics {
  id: string; label: string; kind: 'source' | 'operator' | 'sink'; parallelism: number; task: number
  state: 'busy' | 'waiting' | 'backpressured' | 'idle'   // for colouring: the dominant of the four (max over subtasks)
  hotKeys: { key: string; count: number; share: number }[] | null   // keyed operators: the keys that certainly stand out (share: of the sampled records); [] when none does
  hotKeysSampled?: number | null   // records sampled for hotKeys (every 64th sent through the keyBy); null: not keyed; absent from older servers
  calls?: CallsView | null   // asynchronous operators (mapAsync, flatMapAsync, mapAsyncBatch, lookupJoin): their calls; null: not asynchronous; absent from older servers
  subtasks: (OperatorMetrics & { subtask: number; worker: number })[]
}

/**
 * An asynchronous operator's calls to its service, over its subtasks: sums for counts, rates and
 * gauges; `fullRatio` is the fullest subtask's (max, as for times). A call is one attempt (a
 * retry is another call; a batch is one call).
 */
export interface CallsView {
  callsPerSecond: number; recordsPerSecond: number   // attempts started, and the records they carried, last second
  inFlight: number; capacity: number   // calls in flight now, of those allowed (concurrency × subtasks)
  concurrency: number; maxBatch: number   // the options, per subtask: calls in flight at most, records per call at most (1 unless batched)
  held: number              // records taken in and not yet out: in calls, waiting for a slot or a batch, or done and waiting for their turn
  fullRatio: number         // share of the last second every slot was in use, 0..1: the fullest subtask's
  timeoutsPerSecond: number; retriesPerSecond: number   // attempts that timed out, attempts started again, last second
  failuresPerSecond: number   // records whose call failed for good (after its retries), handed to onError, last second
  calls: number; timeouts: number; retries: number; failures: number   // the same, totals since start
  cacheHitRatio: number | null   // lookups answered by the cache (lookupJoin), last 10 s; null: no cache lookup then
  cacheEntries: number
  latency: Percentiles | null   // attempt latency (a timed-out attempt counts its timeout), last 10 s; null: none ended then
}

export interface WorkerView {
  worker: number            // -1: the main thread
  eventLoopDelayP99Ms: number | null; eventLoopDelayMaxMs: number | null
  gcPauseMsPerSecond: number; heapUsedBytes: number; heapLimitBytes: number
  cpuMsPerSecond: number | null   // the thread's own CPU time (user + system), last second; null: unknown (not Linux)
  cpuMs: number | null            // the same, total since the thread started
}

export interface Sample {          // one per second
  t: number                 // epoch ms
  recordsPerSecond: number
  latencyP99Ms: number | null
  workers?: { worker: number; cpuMsPerSecond: number | null }[]   // absent in samples of older servers
  sources?: Record<string, { lag: number | null; lagPerSecond: number | null }>   // per source reporting partitions (SourceProgressView)
  operators: Record<string, {
    recordsInPerSecond: number; recordsOutPerSecond: number
    busyMsPerSecond: number; waitingMsPerSecond: number; backpressuredMsPerSecond: number; idleMsPerSecond: number
    inputQueueUsage: number | null; watermarkLagMs: number | null
    latencyP50Ms: number | null; latencyP90Ms: number | null; latencyP99Ms: number | null
    stateEntries: number
    calls?: { callsPerSecond: number; inFlight: number; capacity: number; fullRatio: number; latencyP50Ms: number | null; latencyP99Ms: number | null; timeoutsPerSecond: number; failuresPerSecond: number }   // asynchronous operators only
    subtasks: { busyMsPerSecond: number; waitingMsPerSecond: number; backpressuredMsPerSecond: number; recordsInPerSecond: number }[]
  }>
}

export interface Finding {
  kind: 'bottleneck' | 'io-bound' | 'slow-service' | 'source-bound' | 'skew' | 'watermark-stalled' | 'state-growth' | 'event-loop' | 'gc' | 'errors' | 'checkpoints' | 'source-lag' | 'connection' | 'healthy'
  severity: 'critical' | 'warning' | 'info'
  title: string             // one plain sentence: "`enrich` is the bottleneck: busy 980 ms/s while `parse` upstream is backpressured"
  operator: string | null
  evidence: Record<string, number | string>   // machine-readable: base units (ms, bytes, records), names; the keys are in monitoring/evidence.ts
  evidenceText?: EvidenceItem[]   // the same for people, in evidence order: { key: 'worker', label: 'thread', text: 'main thread' } (absent from older servers)
  recommendation: string    // what to do, naming the option: "raise parallelism of `enrich` from 1 to 3 (`.parallelism(3)` on the stream of `enrich`)"
  action: { kind: 'set-parallelism'; operator: string; parallelism: number } | { kind: 'enable-two-phase'; operator: string } | null
}

/** One evidence item for people: `label` "thread busy", `text` "840 ms/s" (value and unit). */
export interface EvidenceItem { key: string; label: string; text: string }

export interface Objective { name: string; metric: 'latencyP99Ms' | 'watermarkLagMs' | 'recordsPerSecond'; op: '<=' | '>='; threshold: number; forSeconds: number }
export interface Alert { objective: string; state: 'firing' | 'resolved'; since: number; value: number | null; threshold: number; message: string }
export interface ExceptionEntry {
  time: number; operator: string | null; subtask: number | null; message: string
  kind?: 'error' | 'restart' | 'restore'   // absent: an error (servers before the field)
}
