/**
 * A Pipeline is a job: sources, operators and sinks with stable ids. Build it by chaining
 * methods on the streams it returns; run it with `run()`.
 */
import type { DeadLetter, Sink, Source } from '../connectors/spi.ts'
import { SluiceError } from '../errors.ts'
import type { JobModuleRef } from '../graph/job.ts'
import { LogicalGraph } from '../graph/logical.ts'
import { validateObjectives, type ObjectivesSpec } from '../graph/objectives.ts'
import { explainPlan, physicalPlan } from '../graph/physical.ts'
import type { WatermarkStrategy } from '../time/watermarks.ts'
import { positiveInt, type JobHandle, type RunOptions } from '../runtime/coordinator/run-options.ts'
import { startJob } from '../runtime/coordinator/start-job.ts'
import { resolveErrorOptions, type OperatorOptions } from './options.ts'
import { Stream } from './stream.ts'

export type { JobHandle, RestartEvent, RestartOptions, RunOptions } from '../runtime/coordinator/run-options.ts'

export interface PipelineOptions {
  /** Default dead-letter sink for operators and sources with onError: 'dead-letter'. */
  deadLetter?: Sink<DeadLetter>
  /** Parallelism of operators that declare none (run options override it). Default 1. */
  parallelism?: number
  /** Number of key groups, the upper bound of any parallelism. Default 128. */
  maxParallelism?: number
  /**
   * The module that builds this pipeline, so worker threads can build it too: usually
   * `import.meta.url` of the job file, which must export the pipeline (or a function returning
   * it) and not run it. Needed only to run on worker threads.
   */
  module?: string | JobModuleRef
  /** Service-level objectives, evaluated every second while the job runs; see docs/METRICS.md. */
  objectives?: ObjectivesSpec
}

export interface SourceOptions<T> extends OperatorOptions {
  /** Event time and watermarks for this source; without it records have no event time. */
  watermarks?: WatermarkStrategy<T>
  /** Records read per batch. Default 1024. */
  batchSize?: number
}

/**
 * A job: sources, operators and sinks with stable ids. Build it by chaining methods on the
 * streams `source()` returns; run it with `run()`. (It is the runtime's JobDefinition.)
 *
 * @example
 * ```ts
 * const p = new Pipeline('word-count')
 * p.source('lines', fromArray(['a b', 'b c']))
 *   .flatMap<string>('split', (line, out) => { for (const w of line.split(' ')) out.collect(w) })
 *   .keyBy((w) => w)
 *   .aggregate('count', count())
 *   .to('print', stdoutSink())
 * await p.run().done
 * ```
 */
export class Pipeline {
  /** @internal */
  readonly graph = new LogicalGraph()
  /** @internal */
  readonly defaultDeadLetter: Sink<DeadLetter> | undefined
  readonly parallelism: number
  readonly maxParallelism: number
  readonly objectives: ObjectivesSpec
  /** Set by the CLI or the `module` option; lets worker threads rebuild the job. */
  module: JobModuleRef | undefined
  private started = false

  constructor(
    readonly name: string = 'job',
    options: PipelineOptions = {},
  ) {
    this.defaultDeadLetter = options.deadLetter
    this.parallelism = positiveInt('parallelism', options.parallelism, 1, 'PARALLELISM_INVALID')
    this.maxParallelism = positiveInt('maxParallelism', options.maxParallelism, 128, 'PARALLELISM_INVALID')
    this.module = typeof options.module === 'string' ? { url: options.module } : options.module
    this.objectives = validateObjectives(options.objectives ?? {})
  }

  /**
   * Adds a source; its records have event time when `options.watermarks` says how to read it.
   * @example
   * ```ts
   * const p = new Pipeline('bids')
   * const bids = p.source('bids', fileSource<Bid>('bids.jsonl'), { watermarks: boundedOutOfOrderness({ timestamp: (b) => b.dateTime, maxOutOfOrdernessMs: 2000 }) })
   * ```
   */
  source<T>(id: string, source: Source<T>, options: SourceOptions<T> = {}): Stream<T> {
    if (source === null || typeof source !== 'object' || typeof source.open !== 'function') {
      throw new SluiceError('JOB_ARGUMENT_INVALID', `source "${id}": expected a source (an object with open()), got ${typeof source}`)
    }
    this.graph.addNode({
      type: 'source',
      id,
      label: `source(${source.kind})`,
      source: source as Source<unknown>,
      watermarks: options.watermarks as WatermarkStrategy<unknown> | undefined,
      batchSize: positiveInt(`source "${id}" batchSize`, options.batchSize, 1024, 'CONNECTOR_OPTION_INVALID'),
      ...resolveErrorOptions(this, id, options),
    })
    return new Stream<T>(this, { nodeId: id, sideTag: null })
  }

  /** Validates the graph and describes its physical plan: chains, parallelism, exchanges. */
  explain(options: { parallelism?: number } = {}): string {
    this.graph.validate()
    const plan = physicalPlan(this.graph, positiveInt('parallelism', options.parallelism, this.parallelism, 'PARALLELISM_INVALID'), this.maxParallelism)
    return `job "${this.name}"\n${explainPlan(this.graph, plan)}`
  }

  /** Starts the job. Invalid graphs and options fail here, synchronously, with a SluiceError. */
  run(options: RunOptions = {}): JobHandle {
    if (this.started) throw new SluiceError('JOB_ALREADY_RUNNING', `pipeline "${this.name}" was already run`)
    this.graph.validate()
    const handle = startJob(this, options)
    this.started = true
    return handle
  }
}
