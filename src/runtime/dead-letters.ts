/**
 * Dead letters are buffered per sink and written between scheduler rounds, so a bad record
 * costs one array push on the hot path and the write is awaited off it.
 */
import type { DeadLetter, Sink, SinkWriter } from '../connectors/spi.ts'
import type { LogicalGraph } from '../graph/logical.ts'
import type { Clock } from '../time/clock.ts'

/** The distinct dead-letter sinks of a graph, in a deterministic order (the same in every thread). */
export function deadLetterSinks(graph: LogicalGraph): Sink<DeadLetter>[] {
  const sinks: Sink<DeadLetter>[] = []
  for (const n of graph.nodes.values()) if (n.onError === 'dead-letter' && n.deadLetter !== undefined && !sinks.includes(n.deadLetter)) sinks.push(n.deadLetter)
  return sinks
}

export class DeadLetterRouter {
  private readonly writers = new Map<Sink<DeadLetter>, SinkWriter<DeadLetter>>()
  private readonly pending = new Map<Sink<DeadLetter>, DeadLetter[]>()
  private count = 0

  /**
   * Opens a writer per sink. `writerFor` replaces opening the sink here: worker threads forward
   * their dead letters to the coordinator, which alone writes each dead-letter sink (two threads
   * opening one file would overwrite each other's letters).
   */
  async open(sinks: Iterable<Sink<DeadLetter>>, clock: Clock, writerFor?: (sink: Sink<DeadLetter>, index: number) => SinkWriter<DeadLetter>): Promise<void> {
    let i = 0
    for (const s of sinks) {
      if (!this.writers.has(s)) this.writers.set(s, writerFor === undefined ? await s.open({ sinkId: 'dead-letter', clock, subtaskIndex: 0, parallelism: 1 }) : writerFor(s, i))
      i++
    }
  }

  add(sink: Sink<DeadLetter>, letter: DeadLetter): void {
    let l = this.pending.get(sink)
    if (l === undefined) {
      l = []
      this.pending.set(sink, l)
    }
    l.push(letter)
    this.count++
  }

  get hasPending(): boolean {
    return this.count > 0
  }

  async flush(): Promise<void> {
    for (const [sink, letters] of this.pending) {
      if (letters.length === 0) continue
      this.pending.set(sink, [])
      await (this.writers.get(sink) as SinkWriter<DeadLetter>).write(letters)
    }
    this.count = 0
  }

  async close(): Promise<void> {
    await this.flush()
    for (const w of this.writers.values()) {
      await w.flush?.()
      await w.close?.()
    }
  }
}
