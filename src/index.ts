/**
 * The public surface of Sluice (`sluice`). Everything not exported here, from `sluice/connectors`,
 * `sluice/testing` or `sluice/nexmark` is internal and may change. Every type a public signature
 * uses is exported (test/public-surface.test.ts keeps it so). The stream classes are exported as
 * types: streams come from `pipeline.source()` and their methods, never from `new`.
 *
 * @module sluice
 */

// Building and running a job.
export { Pipeline, type PipelineOptions, type SourceOptions, type RunOptions, type JobHandle, type RestartOptions, type RestartEvent } from './api/pipeline.ts'
export type { OperatorOptions, SinkOptions } from './api/options.ts'

// The monitoring server (dashboard, /metrics, API) for a job run from code.
export { serve, type ServeOptions, type JobServer } from './api/serve.ts'
export type { Stream } from './api/stream.ts'
export type { KeyedStream, ConnectedKeyedStreams, KeyedResult } from './api/keyed-stream.ts'
export type { WindowedStream, WindowResult, WindowAggregateOptions } from './api/windowed-stream.ts'
export type { JoinBuilder, WindowJoin, IntervalJoin } from './api/join-builder.ts'
export type { JobModuleRef } from './graph/job.ts'
export type { ObjectivesSpec } from './graph/objectives.ts'
export type { JobResult, JobStatus } from './runtime/task/job-runner.ts'

// Errors.
export { SluiceError, ERROR_CODES, isSluiceError, type ErrorCode, type ErrorKind } from './errors.ts'

// Time: clocks, event time and watermarks.
export { systemClock, type Clock } from './time/clock.ts'
export { boundedOutOfOrderness, monotonousTimestamps, type WatermarkStrategy, type BoundedOutOfOrdernessOptions } from './time/watermarks.ts'

// Windows, aggregates, joins and process functions.
export { tumbling, sliding, session, globalWindow, type TimeWindow, type WindowAssigner, type TimeWindowOptions, type TimeDomain } from './operators/window/assigners.ts'
export type { ProcessWindowFn } from './operators/window/window-function.ts'
export { count, sum, min, max, avg, type AggregateFunction, type AvgAcc } from './operators/aggregate.ts'
export type { CoGroupFn } from './operators/join/window-join.ts'
export type { KeyedJoinOptions } from './operators/join/keyed-join.ts'
export type { Collector } from './operators/flat-map.ts'
export type { KeyedProcessFunction, KeyedCoProcessFunction, FunctionOrFactory, ProcessContext, TimerService, OpenContext } from './operators/keyed-process.ts'
export type { KeyedStateStore, ValueState, MapState, ListState, ReducingState, StateOptions, StateTtl } from './state/keyed-state.ts'

// Calling services from a stream (mapAsync, flatMapAsync, mapAsyncBatch).
export type { CallContext, RetryOptions, AsyncOptions, KeyedAsyncOptions, AsyncBatchOptions } from './operators/async/options.ts'
export { failRecord, RecordFailure } from './operators/async/record-failure.ts'
export type { CallMetricsSnapshot } from './metrics/call-metrics.ts'
// Enrichment from a table or a service (`stream.lookupJoin`).
export type { LookupTable, LookupFunction, LookupResult, LookupJoinOptions, LookupCacheOptions } from './operators/async/lookup.ts'

// Custom operators (`stream.transform`), and the snapshot types a stateful one implements.
export { outputTag, NO_TIMESTAMP, type OutputTag, type Operator, type OperatorContext, type OperatorErrorOptions, type Batch, type Output } from './operators/types.ts'
export type { OperatorSnapshot, SnapshotContext, KeyGroupFilter, KeyedEntry } from './state/snapshot.ts'
export type { StateBackend, StateBackendFactory, StateClocks, TableDescriptor, KeyedTable, NamespacedTable, RestoreTarget, TableOptions, LegacyEntryReader } from './state/backend.ts'
export type { TimerQueue } from './time/timer-service.ts'

// Record schemas (columnar encoding between worker threads).
export { recordSchema, type RecordSchema, type SchemaSpec, type SchemaField, type FieldType, type FieldSpec, type FieldOptions, type InferRecord, type ValueOfSpec, type ValueOfType } from './graph/schema.ts'

// Metrics and checkpoints of a running job.
export { jobTotal, operatorTotal, type JobMetrics, type OperatorMetricsSnapshot, type RecordCounts, type TaskMetricsSnapshot, type ConnectorConnection, type OperatorCounter, type CheckpointedCounter } from './metrics/task-metrics.ts'
export type { ThreadStatsSnapshot } from './metrics/thread-stats.ts'
export type { HotKey, HotKeySummary } from './metrics/top-k.ts'
export { jobWarnings, type JobWarning } from './metrics/job-warnings.ts'
export type { CheckpointOptions } from './runtime/checkpoint/options.ts'
export type { CheckpointRecord, CheckpointRestore, CheckpointStats } from './runtime/checkpoint/stats.ts'

// The connector SPI (built-in connectors: `sluice/connectors`).
export type { Source, SourceReader, SourceContext, SourcePosition, Sink, SinkWriter, SinkContext, SinkCommit, JsonValue, ErrorPolicy, DeadLetter, PartitionProgress, ConnectionStatus } from './connectors/spi.ts'
