import type { Source } from '../connectors/spi.ts'

/** A source a test feeds by hand. */
export interface ManualSource<T> extends Source<T> {
  /** Adds records; the job reads them on its next read. */
  push(...items: T[]): void
  /** Ends the source once what was pushed is read. */
  end(): void
}

/**
 * A source the test feeds by hand: `push` adds records, `end` finishes it; until then reads
 * return 0 (nothing now), which is how an idle partition looks to the engine.
 *
 * @example
 * ```ts
 * const input = manualSource<number>()
 * const p = new Pipeline('by-hand')
 * p.source('in', input).to('out', memorySink())
 * const job = p.run()
 * input.push(1, 2)
 * input.end()
 * await job.done
 * ```
 */
export function manualSource<T>(kind = 'manual'): ManualSource<T> {
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
