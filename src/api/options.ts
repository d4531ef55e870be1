import type { DeadLetter, ErrorPolicy, Sink } from '../connectors/spi.ts'
import { SluiceError } from '../errors.ts'
import type { LogicalGraph } from '../graph/logical.ts'

/** Per-operator options. */
export interface OperatorOptions {
  /** What to do when the function throws for a record. Default 'fail'. */
  onError?: ErrorPolicy
  /** Where 'dead-letter' writes; defaults to the pipeline's dead-letter sink. */
  deadLetter?: Sink<DeadLetter>
}

/**
 * Options of `stream.to(id, sink, options)`: the error policy for records the sink cannot write
 * because of the record itself, and the sink's parallelism.
 *
 * @example
 * ```ts
 * declare const results: Stream<{ auction: number; n: number }>
 * results.to('out', fileSink('out.jsonl'), { onError: 'dead-letter', deadLetter: fileSink('dead.jsonl') })
 * // Only a sink that declares itself parallel (Kafka, NATS, PostgreSQL, Redis Streams) takes more writers:
 * results.to('counts', kafkaSink({ brokers: '127.0.0.1:9092', topic: 'auction-counts', createTopic: { partitions: 2 } }), { parallelism: 2 })
 * ```
 */
export interface SinkOptions extends OperatorOptions {
  /** Writers of the sink. Default: the job's parallelism for a `parallel` sink, else 1 (more fails with PARALLELISM_INVALID). */
  parallelism?: number
}

/** What the stream classes need of their pipeline (Pipeline implements it; not for users). */
export interface PipelineContext {
  readonly graph: LogicalGraph
  readonly defaultDeadLetter: Sink<DeadLetter> | undefined
}

const POLICIES: readonly ErrorPolicy[] = ['fail', 'skip', 'dead-letter']

export function resolveErrorOptions(p: PipelineContext, id: string, o: OperatorOptions | undefined): { onError: ErrorPolicy; deadLetter: Sink<DeadLetter> | undefined } {
  const onError = o?.onError ?? 'fail'
  if (!POLICIES.includes(onError)) {
    throw new SluiceError('ERROR_POLICY_INVALID', `"${id}": onError must be one of ${POLICIES.join(', ')}, got ${JSON.stringify(onError)}`)
  }
  return { onError, deadLetter: o?.deadLetter ?? p.defaultDeadLetter }
}

export function requireFunction(id: string, what: string, fn: unknown): void {
  if (typeof fn !== 'function') {
    throw new SluiceError('JOB_ARGUMENT_INVALID', `"${id}": ${what} must be a function, got ${typeof fn}`)
  }
}
