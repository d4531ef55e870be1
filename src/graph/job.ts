/**
 * What the runtime, the monitor and the server need of a job: its name, its logical graph and its
 * defaults. `Pipeline` (api/) builds one; nothing below api/ imports the builder.
 */
import type { DeadLetter, Sink } from '../connectors/spi.ts'
import type { LogicalGraph } from './logical.ts'
import type { ObjectivesSpec } from './objectives.ts'

/** Where worker threads find the job: a module that exports the pipeline (or a function returning it). */
export interface JobModuleRef {
  readonly url: string
  /** Export holding the Pipeline, or a function returning one; default: `default`, then `pipeline`. */
  readonly exportName?: string
  readonly args?: readonly unknown[]
}

export interface JobDefinition {
  readonly name: string
  readonly graph: LogicalGraph
  /** Parallelism of nodes that declare none (a run's options override it). */
  readonly parallelism: number
  /** Number of key groups, the upper bound of any parallelism. */
  readonly maxParallelism: number
  readonly objectives: ObjectivesSpec
  /** Default dead-letter sink of operators and sources with onError: 'dead-letter'. */
  readonly defaultDeadLetter: Sink<DeadLetter> | undefined
  /** The job's module, so worker threads can build it too; undefined: in-thread runs only. */
  readonly module: JobModuleRef | undefined
}
