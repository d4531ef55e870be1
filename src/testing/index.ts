/**
 * `sluice/testing`: helpers for testing pipelines. A hand-driven clock and source, an in-memory
 * sink, a one-call run that collects a stream, and a wait for a condition. Not for production
 * jobs; the main surface (`sluice`) exports none of them.
 *
 * @module sluice/testing
 */
export { ManualClock } from '../time/clock.ts'
export { memorySink, type MemorySink } from './memory-sink.ts'
export { manualSource, type ManualSource } from './manual-source.ts'
export { runAndCollect, type RunAndCollectOptions } from './run-and-collect.ts'
export { until } from './until.ts'
