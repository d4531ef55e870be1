/**
 * The Nexmark generator as a source: events are made on the reading thread, as the reference
 * runs measure it (generator inside the job), and never wait for wall-clock time.
 */
import type { Source, SourceContext, SourcePosition, SourceReader } from '../connectors/spi.ts'
import { SluiceError } from '../errors.ts'
import { badPosition, positionInteger } from '../connectors/position.ts'
import { NexmarkGenerator } from './generator.ts'
import type { NexmarkEvent } from './model.ts'

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
   * Where events' times come from. `'generated'` (the default): `baseTimeMs` plus the event
   * number spaced by `eventsPerSecond`, the same on every run. `'wall-clock'`: the reading
   * thread's clock when the event is generated (Beam's `useWallclockEventTime`), so event time
   * starts now and keeps pace with the clock at any speed and a watermark's lag is the job's
   * delay; ids, prices and every other field stay those of the seed. A generator at full speed
   * with generated times runs ahead of the clock by its speed over `eventsPerSecond` (×100 at
   * 1 M events/s), which makes event time meaningless on a live dashboard.
   */
  eventTime?: 'generated' | 'wall-clock'
  /**
   * First event number to generate, e.g. a parallel subtask's share from splitEventRange, or
   * where a previous run stopped. Default 0.
   */
  firstEventNumber?: number
}

/**
 * Checkpoint position of a Nexmark reader: the number of the next event it would generate.
 * A split reader only ever names an event of its own blocks (or one at or past the end).
 */
export type NexmarkPosition = { readonly eventNumber: number }

/**
 * Restamps the events another reader pushes with the clock's time, keeping each auction's
 * duration (`expires - dateTime`). One clock reading per batch: a batch is generated in about a
 * millisecond.
 */
class WallClockReader implements SourceReader<NexmarkEvent> {
  constructor(private readonly inner: NexmarkReader, private readonly clock: SourceContext['clock']) {}

  read(out: NexmarkEvent[], max: number): number {
    const from = out.length
    const n = this.inner.read(out, max)
    if (n > 0) {
      const now = this.clock.now()
      for (let i = from; i < out.length; i++) {
        const e = out[i]
        if (e.bid !== null) e.bid.dateTime = now
        else if (e.auction !== null) {
          e.auction.expires = now + (e.auction.expires - e.auction.dateTime)
          e.auction.dateTime = now
        } else if (e.person !== null) e.person.dateTime = now
      }
    }
    return n
  }

  position(): string {
    return this.inner.position()
  }

  snapshotPosition(): NexmarkPosition {
    return this.inner.snapshotPosition()
  }
}

type NexmarkReader = NexmarkSourceReader | SplitNexmarkReader

class NexmarkSourceReader implements SourceReader<NexmarkEvent> {
  constructor(private readonly generator: NexmarkGenerator) {}

  read(out: NexmarkEvent[], max: number): number {
    if (this.generator.remaining === 0) return -1
    return this.generator.next(out, max)
  }

  position(): string {
    return `event ${this.generator.nextEventNumber}`
  }

  snapshotPosition(): NexmarkPosition {
    return { eventNumber: this.generator.nextEventNumber }
  }
}

/** Events per block when the source is split: subtask i of p generates blocks i, i+p, i+2p, … */
export const SPLIT_BLOCK = 1000

/**
 * One parallel share of the events. Interleaving blocks (rather than giving each subtask one
 * contiguous range, as Flink's split does) keeps every subtask at about the same event time, so
 * the downstream watermark — the minimum over subtasks — advances with all of them.
 */
class SplitNexmarkReader implements SourceReader<NexmarkEvent> {
  private generator: NexmarkGenerator | null = null
  /** The next block this reader will start, counted from `first`. */
  private block: number

  /** Resumes at `eventNumber`, which must lie in one of this subtask's blocks (or at or past the end). */
  constructor(
    private readonly config: ConstructorParameters<typeof NexmarkGenerator>[0],
    private readonly first: number,
    private readonly end: number,
    subtask: number,
    private readonly parallelism: number,
    eventNumber = first + subtask * SPLIT_BLOCK,
  ) {
    const block = Math.floor((eventNumber - first) / SPLIT_BLOCK)
    const blockStart = first + block * SPLIT_BLOCK
    if (eventNumber > blockStart && eventNumber < end) {
      // Mid-block: finish this block first, then go on with the subtask's next one.
      this.generator = new NexmarkGenerator(config, eventNumber, Math.min(blockStart + SPLIT_BLOCK, end) - eventNumber)
      this.block = block + parallelism
    } else {
      // At a block start, or at or past the end (where no block is left to start).
      this.block = eventNumber >= end ? Infinity : block
    }
  }

  read(out: NexmarkEvent[], max: number): number {
    let g = this.generator
    if (g === null || g.remaining === 0) {
      const start = this.first + this.block * SPLIT_BLOCK
      if (start >= this.end) return -1
      g = new NexmarkGenerator(this.config, start, Math.min(SPLIT_BLOCK, this.end - start))
      this.generator = g
      this.block += this.parallelism
    }
    return g.next(out, max)
  }

  position(): string {
    return `event ${this.generator?.nextEventNumber ?? this.first}`
  }

  /** The next event this reader would generate: within the current block, else the start of its next block. */
  snapshotPosition(): NexmarkPosition {
    const g = this.generator
    if (g !== null && g.remaining > 0) return { eventNumber: g.nextEventNumber }
    return { eventNumber: Math.min(this.first + this.block * SPLIT_BLOCK, this.end) }
  }
}

/**
 * A source of Nexmark events: `events` of them starting at `firstEventNumber`, or unbounded.
 * Options are checked here, so a bad one fails when the job is built rather than when it runs.
 * Replayable: an event depends only on (seed, event number), so a reader resumes from
 * `{ eventNumber }` by generating from there; split readers resume within their own blocks.
 *
 * @example
 * ```ts
 * const source = nexmarkSource({ events: 10_000_000, seed: 42 })
 * ```
 */
export function nexmarkSource(options: NexmarkSourceOptions = {}): Source<NexmarkEvent> {
  const events = options.events ?? Infinity
  if (events !== Infinity && !(Number.isSafeInteger(events) && events >= 0)) {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `nexmark events must be a non-negative integer or Infinity, got ${events}`)
  }
  const config = { seed: options.seed, eventsPerSecond: options.eventsPerSecond, baseTimeMs: options.baseTimeMs }
  const firstEventNumber = options.firstEventNumber ?? 0
  const eventTime = options.eventTime ?? 'generated'
  if (eventTime !== 'generated' && eventTime !== 'wall-clock') {
    throw new SluiceError('CONNECTOR_OPTION_INVALID', `nexmark eventTime must be 'generated' or 'wall-clock', got ${String(eventTime)}`)
  }
  // Validates the options now; the reader builds its own generator.
  void new NexmarkGenerator(config, firstEventNumber, events)
  const bounded = events !== Infinity
  return {
    kind: 'nexmark',
    bounded,
    splittable: true,
    replayable: true,
    ...(bounded ? { expectedRecords: events } : {}),
    open(ctx: SourceContext, from?: SourcePosition): SourceReader<NexmarkEvent> {
      const reader = openReader(ctx, from)
      return eventTime === 'wall-clock' ? new WallClockReader(reader, ctx.clock) : reader
    },
  }

  function openReader(ctx: SourceContext, from: SourcePosition | undefined): NexmarkReader {
    const end = firstEventNumber + events
    const eventNumber = from === undefined ? undefined : resumeEventNumber(from, firstEventNumber, end, ctx)
    if (ctx.parallelism <= 1) {
      const start = eventNumber ?? firstEventNumber
      return new NexmarkSourceReader(new NexmarkGenerator(config, start, end - start))
    }
    return new SplitNexmarkReader(config, firstEventNumber, end, ctx.subtaskIndex, ctx.parallelism, eventNumber)
  }
}

/** The event number of a position, checked against the run and, when split, the subtask's blocks. */
function resumeEventNumber(from: SourcePosition, first: number, end: number, ctx: SourceContext): number {
  const eventNumber = positionInteger('nexmark', from, 'eventNumber')
  if (eventNumber < first || eventNumber > end) {
    throw badPosition('nexmark', from, `the source generates events ${first} to ${end === Infinity ? 'Infinity' : end - 1}`)
  }
  if (ctx.parallelism > 1 && eventNumber < end) {
    const block = Math.floor((eventNumber - first) / SPLIT_BLOCK)
    if (block % ctx.parallelism !== ctx.subtaskIndex) {
      throw badPosition('nexmark', from, `event ${eventNumber} is in block ${block}, which subtask ${block % ctx.parallelism} of ${ctx.parallelism} reads, not subtask ${ctx.subtaskIndex} (was the parallelism changed?)`)
    }
  }
  return eventNumber
}
