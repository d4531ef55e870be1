/** Thresholds of the rules; every field has a default (`DEFAULT_DIAGNOSIS_OPTIONS`). */
export interface DiagnosisOptions {
  /** Samples (one per second) a persistent condition is judged over. */
  windowSamples?: number
  /** Fewer samples than this: the history-based rules stay silent. */
  minSamples?: number
  /** Share of the window's samples a condition must hold in, besides holding on average. */
  persistenceShare?: number
  /** An operator (or its hottest subtask) at or above this is busy. */
  busyMsPerSecond?: number
  /** An operator at or above this is backpressured. */
  backpressuredMsPerSecond?: number
  /** A sink or source awaiting external calls at least this much is I/O-bound (rule 1c). */
  waitingMsPerSecond?: number
  /** An asynchronous operator whose call slots are all in use this share of the time (and whose task waits) waits on a slow service. */
  callsFullRatio?: number
  /** The busy time a parallelism recommendation aims for. */
  targetBusyMsPerSecond?: number
  /** A recommended parallelism is at most this many times the current one (and workers × 2). */
  maxScaleFactor?: number
  /** Skew: the hottest subtask takes at least this many times the median subtask... */
  skewMaxToMedian?: number
  /** ...and at least `skewShareFactor / parallelism` of the operator's input. */
  skewShareFactor?: number
  /** Below this input rate skew is judged on busy time instead of records. */
  skewMinRecordsPerSecond?: number
  /** Below this busy time (hottest subtask) an operator is too idle for skew to matter. */
  skewMinBusyMsPerSecond?: number
  /** A watermark lagging the wall clock by more than this (and not catching up) is reported. */
  watermarkLagMs?: number
  /** A watermark that advanced less than this share of the wall-clock time has stalled. */
  stalledAdvanceRatio?: number
  /** Samples state growth is judged over (at least `windowSamples` must exist). */
  stateGrowthSamples?: number
  /** State must grow by more than this share of its size... */
  stateGrowthRatio?: number
  /** ...and by more than this many entries over the window. */
  stateGrowthEntries?: number
  /** Checkpoint snapshots that stop a task for this share of the interval are reported (rule 8). */
  checkpointSyncShare?: number
  /** A thread whose tasks are busy (running code, not waiting) this much in total is saturated (rule 1b). */
  threadSaturatedMsPerSecond?: number
  /** ...and its heaviest task, taking at least this share of that time, is the bottleneck. */
  threadDominantShare?: number
  /** A saturated thread on the CPU for less than this share of its busy time is said to be blocked. */
  threadCpuShare?: number
  /** A worker whose event-loop delay p99 exceeds this is under pressure. */
  eventLoopDelayP99Ms?: number
  /** A worker that pauses for garbage collection more than this is under pressure. */
  gcPauseMsPerSecond?: number
  /** A source's lag (summed over its partitions) growing at least this fast over the window... */
  lagGrowthRecordsPerSecond?: number
  /** ...and by at least this many records means the job falls behind it. */
  lagGrowthRecords?: number
}

export const DEFAULT_DIAGNOSIS_OPTIONS: Required<DiagnosisOptions> = {
  windowSamples: 10,
  minSamples: 3,
  persistenceShare: 0.5,
  busyMsPerSecond: 800,
  backpressuredMsPerSecond: 500,
  waitingMsPerSecond: 500,
  callsFullRatio: 0.8,
  targetBusyMsPerSecond: 700,
  maxScaleFactor: 4,
  skewMaxToMedian: 2,
  skewShareFactor: 1.5,
  skewMinRecordsPerSecond: 100,
  skewMinBusyMsPerSecond: 300,
  watermarkLagMs: 10_000,
  stalledAdvanceRatio: 0.1,
  stateGrowthSamples: 30,
  stateGrowthRatio: 0.2,
  stateGrowthEntries: 10_000,
  threadSaturatedMsPerSecond: 850,
  threadDominantShare: 0.5,
  threadCpuShare: 0.5,
  eventLoopDelayP99Ms: 250,
  gcPauseMsPerSecond: 250,
  checkpointSyncShare: 0.1,
  lagGrowthRecordsPerSecond: 10,
  lagGrowthRecords: 1000,
}
