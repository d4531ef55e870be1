/**
 * Helpers for testing pipelines: run a pipeline to completion and collect a stream, and
 * hand-driven sources whose records (and silences) a test controls.
 */
import type { DeadLetter, Sink, Source } from '../connectors/spi.ts'
import type { Stream } from '../api/stream.ts'
import { Pipeline, type RunOptions } from '../api/pipeline.ts'

/** A sink that keeps every record in arrival order. */
export function memorySink<T>(): Sink<T> & { readonly records: T[] } {
  const records: T[] = []
  return {
    kind: 'memory',
    records,
    open: () => ({
      write(batch: readonly T[]) {
        for (let i = 0; i < batch.length; i++) records.push(batch[i])
      },
    }),
  }
}

/** Builds a pipeline with `build`, runs it to the end and returns what the built stream emitted. */
export async function runAndCollect<T>(build: (p: Pipeline) => Stream<T>, options: RunOptions & { deadLetter?: Sink<DeadLetter> } = {}): Promise<T[]> {
  const p = new Pipeline('test', options.deadLetter ? { deadLetter: options.deadLetter } : {})
  const sink = memorySink<T>()
  build(p).to('collect', sink)
  await p.run(options).done
  return sink.records
}

/**
 * A source the test feeds by hand: `push` adds records, `end` finishes it; until then reads
 * return 0 (nothing now), which is how an idle partition looks to the engine.
 */
export function manualSource<T>(kind = 'manual'): Source<T> & { push(...items: T[]): void; end(): void } {
  const queue: T[] = []
  let ended = false
  return {
    kind,
    bounded: false,
    push: (...items: T[]) => void queue.push(...items),
    end: () => {
      ended = true
    },
    open: () => ({
      read(out: T[], max: number) {
        if (queue.length === 0) return ended ? -1 : 0
        const n = Math.min(max, queue.length)
        for (let i = 0; i < n; i++) out.push(queue.shift() as T)
        return n
      },
      position: () => `${queue.length} queued`,
    }),
  }
}

/**
 * Waits until `cond` holds, checking after each turn of the event loop (1 ms timers), so tests
 * wait for the engine to reach a state instead of sleeping a fixed time. Fails after ~`limit` turns.
 */
export async function until(cond: () => boolean, limit = 5000): Promise<void> {
  for (let i = 0; i < limit && !cond(); i++) await new Promise((r) => setTimeout(r, 1))
  if (!cond()) throw new Error('condition not reached')
}
