import type { DeadLetter, Sink } from '../connectors/spi.ts'
import type { Stream } from '../api/stream.ts'
import { Pipeline, type RunOptions } from '../api/pipeline.ts'
import { memorySink } from './memory-sink.ts'

/** Run options of `runAndCollect`: those of `pipeline.run()` and the pipeline's dead-letter sink. */
export interface RunAndCollectOptions extends RunOptions {
  /** The pipeline's default dead-letter sink (`new Pipeline(name, { deadLetter })`). */
  deadLetter?: Sink<DeadLetter>
}

/**
 * Builds a pipeline with `build`, runs it to the end and returns what the built stream emitted.
 *
 * @example
 * ```ts
 * const doubled = await runAndCollect((p) => p.source('n', fromArray([1, 2, 3])).map('double', (n) => n * 2))
 * // doubled: [2, 4, 6]
 * ```
 */
export async function runAndCollect<T>(build: (p: Pipeline) => Stream<T>, options: RunAndCollectOptions = {}): Promise<T[]> {
  const { deadLetter, ...run } = options
  const p = new Pipeline('test', deadLetter ? { deadLetter } : {})
  const sink = memorySink<T>()
  build(p).to('collect', sink)
  await p.run(run).done
  return sink.records
}
