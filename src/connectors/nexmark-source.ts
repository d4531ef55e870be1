/**
 * The Nexmark generator as a source: events are made on the reading thread, as the reference
 * runs measure it (generator inside the job), and never wait for wall-clock time.
 */
import type { Source, SourceContext, SourceReader } from './spi.ts'
import { SluiceError } from '../errors.ts'
import { NexmarkGenerator } from '../nexmark/generator.ts'
import type { NexmarkEvent } from '../nexmark/model.ts'

export interface NexmarkSourceOptions {
  /** Events to generate; Infinity (the default) never ends. */
  events?: number
  /** Seeds the generator; the same seed gives the same events. Default 0. */
  seed?: number
  /** Spaces event time only (1e6 / rate µs between events). Default 10 000. */
  eventsPerSecond?: number
  /** Event time of event number 0, epoch ms. Default 2026-01-01T00:00:00Z. */
  baseTimeMs?: number
  /**
   * First event number to generate, e.g. a parallel subtask's share from splitEventRange, or
   * where a previous run stopped. Default 0.
   */
  firstEventNumber?: number
}

class NexmarkSourceReader implements SourceReader<NexmarkEvent> {
  constructor(private readonly generator: NexmarkGenerator) {}

  read(out: NexmarkEvent[], max: number): number {
    if (this.generator.remaining === 0) return -1
    return this.generator.next(out, max)
  }

  position(): string {
    return `event ${this.generator.nextEventNumber}`
  }
}

/**
 * A source of Nexmark events: `events` of them starting at `firstEventNumber`, or unbounded.
 * Options are checked here, so a bad one fails when the job is built rather than when it runs.
 *
 * @example
 * const source = nexmarkSource({ events: 10_000_000, seed: 42 })
 */
export function nexmarkSource(options: NexmarkSourceOptions = {}): Source<NexmarkEvent> {
  const events = options.events ?? Infinity
  if (events !== Infinity && !(Number.isSafeInteger(events) && events >= 0)) {
    throw new SluiceError('JOB_INVALID_OPTION', `nexmark events must be a non-negative integer or Infinity, got ${events}`)
  }
  const config = { seed: options.seed, eventsPerSecond: options.eventsPerSecond, baseTimeMs: options.baseTimeMs }
  const firstEventNumber = options.firstEventNumber ?? 0
  // Validates the options now; the reader builds its own generator.
  void new NexmarkGenerator(config, firstEventNumber, events)
  const bounded = events !== Infinity
  return {
    kind: 'nexmark',
    bounded,
    ...(bounded ? { expectedRecords: events } : {}),
    open(_ctx: SourceContext): SourceReader<NexmarkEvent> {
      return new NexmarkSourceReader(new NexmarkGenerator(config, firstEventNumber, events))
    },
  }
}
