/**
 * Watermark strategies. A source stamps each record with an event time and, after each batch,
 * emits a watermark W meaning "no record with time <= W is expected any more" (Flink's
 * convention). Downstream, a task's watermark is the minimum over its active inputs.
 */
import { SluiceError } from '../errors.ts'

export interface WatermarkStrategy<T> {
  /** Event time of a record, in epoch ms. Must return a finite number. */
  readonly timestamp: (record: T) => number
  /** Watermark = highest timestamp seen − maxOutOfOrdernessMs − 1. */
  readonly maxOutOfOrdernessMs: number
  /**
   * A source that produced nothing for this long (by the job's clock) is marked idle and no
   * longer holds back the watermark of the tasks it feeds; it becomes active again with its
   * next record. Undefined: never idle.
   */
  readonly idleTimeoutMs: number | undefined
}

export interface BoundedOutOfOrdernessOptions<T> {
  timestamp: (record: T) => number
  maxOutOfOrdernessMs?: number
  idleTimeoutMs?: number
}

/**
 * Event time with a bound on disorder: a record may be up to `maxOutOfOrdernessMs` older than
 * the newest one seen. With `idleTimeoutMs`, a source (or partition) silent that long stops
 * holding back the watermark.
 *
 * @example
 * ```ts
 * interface Click { user: string; ts: number }
 * pipeline.source('clicks', fileSource<Click>('clicks.jsonl'), { watermarks: boundedOutOfOrderness({ timestamp: (c) => c.ts, maxOutOfOrdernessMs: 4000 }) })
 * ```
 */
export function boundedOutOfOrderness<T>(options: BoundedOutOfOrdernessOptions<T>): WatermarkStrategy<T> {
  const max = options.maxOutOfOrdernessMs ?? 0
  if (!Number.isFinite(max) || max < 0) {
    throw new SluiceError('WATERMARK_INVALID', `maxOutOfOrdernessMs must be a finite number >= 0, got ${max}`)
  }
  const idle = options.idleTimeoutMs
  if (idle !== undefined && (!Number.isFinite(idle) || idle <= 0)) {
    throw new SluiceError('WATERMARK_INVALID', `idleTimeoutMs must be a positive number of milliseconds, got ${idle}`)
  }
  if (typeof options.timestamp !== 'function') {
    throw new SluiceError('WATERMARK_INVALID', 'boundedOutOfOrderness needs a timestamp function')
  }
  return { timestamp: options.timestamp, maxOutOfOrdernessMs: max, idleTimeoutMs: idle }
}

/** Event time for sources whose timestamps never decrease. */
export function monotonousTimestamps<T>(timestamp: (record: T) => number, idleTimeoutMs?: number): WatermarkStrategy<T> {
  return boundedOutOfOrderness({ timestamp, maxOutOfOrdernessMs: 0, idleTimeoutMs })
}
