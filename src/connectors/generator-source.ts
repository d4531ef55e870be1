/**
 * Generates records from their sequence number, as fast as asked or at a steady rate.
 */
import { SluiceError } from '../errors.ts'
import type { Clock } from '../time/clock.ts'
import { badPosition, positionInteger } from './position.ts'
import type { Source, SourceContext, SourcePosition, SourceReader } from './spi.ts'

/** Upper bound on one wait, so a slow rate or a frozen test clock still hands control back. */
const MAX_WAIT_MS = 1000

export interface GeneratorSourceOptions {
  /** Records to generate (default Infinity: an unbounded source). */
  readonly count?: number
  /**
   * Records per second, measured on the job's clock. After a stall (backpressure) at most one
   * second's worth is released at once; the schedule restarts rather than owing a flood.
   */
  readonly ratePerSecond?: number
}

/** Checkpoint position of `generatorSource`: the next sequence number to generate. */
export type GeneratorPosition = { readonly next: number }

/**
 * A source of `fn(0), fn(1), ...`: `count` records, optionally rate-limited. Replayable, so
 * `fn` must depend only on `n`: a reader resumed from `{ next: n }` generates `fn(n)` onwards
 * (a rate limit restarts its schedule then).
 *
 * @example
 * ```ts
 * pipeline.source('ticks', generatorSource((n) => ({ id: n, at: n * 10 }), { count: 10_000 }))
 * const makeBid = (n: number): Bid => ({ auction: n % 100, bidder: n % 997, price: 100 + (n % 50), channel: 'web', url: '', dateTime: n, extra: '' })
 * pipeline.source('load', generatorSource(makeBid, { count: 1_000, ratePerSecond: 5_000 })) // ~0.2 s; without count it runs until stopped
 * ```
 */
export function generatorSource<T>(fn: (n: number) => T, options: GeneratorSourceOptions = {}): GeneratorSource<T> {
  return new GeneratorSource(fn, options)
}

export class GeneratorSource<T> implements Source<T> {
  readonly kind = 'generator'
  readonly bounded: boolean
  readonly expectedRecords: number | undefined
  readonly replayable = true
  private readonly count: number
  private readonly ratePerSecond: number

  constructor(private readonly fn: (n: number) => T, options: GeneratorSourceOptions) {
    if (typeof fn !== 'function') throw new SluiceError('JOB_ARGUMENT_INVALID', 'generatorSource needs a function (n) => record')
    const count = options.count ?? Infinity
    if (count !== Infinity && (!Number.isSafeInteger(count) || count < 0)) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `generatorSource option count must be a whole number >= 0 or Infinity, got ${String(options.count)}`)
    }
    const rate = options.ratePerSecond ?? Infinity
    if (!(rate > 0)) {
      throw new SluiceError('CONNECTOR_OPTION_INVALID', `generatorSource option ratePerSecond must be > 0, got ${String(options.ratePerSecond)}`)
    }
    this.count = count
    this.ratePerSecond = rate
    this.bounded = count !== Infinity
    this.expectedRecords = this.bounded ? count : undefined
  }

  open(ctx: SourceContext, from?: SourcePosition): SourceReader<T> {
    let next = 0
    if (from !== undefined) {
      next = positionInteger(this.kind, from, 'next')
      if (next > this.count) throw badPosition(this.kind, from, `the source generates only ${this.count} records`)
    }
    return new GeneratorSourceReader(this.fn, this.count, this.ratePerSecond, ctx.clock, next)
  }
}

class GeneratorSourceReader<T> implements SourceReader<T> {
  /** The rate schedule: `scheduled` records were due by `scheduleStartMs`. */
  private scheduleStartMs: number
  private scheduled: number

  constructor(
    private readonly fn: (n: number) => T,
    private readonly count: number,
    private readonly ratePerSecond: number,
    private readonly clock: Clock,
    private next: number,
  ) {
    this.scheduleStartMs = clock.now()
    this.scheduled = next
  }

  read(out: T[], max: number): number | Promise<number> {
    if (this.next >= this.count) return -1
    if (this.ratePerSecond === Infinity) return this.emit(out, max)
    const due = this.due()
    return due > 0 ? this.emit(out, Math.min(max, due)) : this.waitForDue(out, max)
  }

  position(): string {
    return `index ${this.next}`
  }

  snapshotPosition(): GeneratorPosition {
    return { next: this.next }
  }

  private emit(out: T[], max: number): number {
    const start = this.next
    const end = Math.min(this.count, start + max)
    const fn = this.fn
    for (let n = start; n < end; n++) out.push(fn(n))
    this.next = end
    return end - start
  }

  /** Records due now and not yet emitted, from the clock: never more than the rate allows. */
  private due(): number {
    const rate = this.ratePerSecond
    const elapsedMs = this.clock.now() - this.scheduleStartMs
    let owed = this.scheduled + Math.floor((elapsedMs * rate) / 1000) - this.next
    const burst = Math.max(1, Math.floor(rate))
    if (owed > burst) {
      // Restart the schedule so that exactly one second's worth is due now.
      this.scheduleStartMs += elapsedMs
      this.scheduled = this.next + burst
      owed = burst
    }
    return owed
  }

  private async waitForDue(out: T[], max: number): Promise<number> {
    const nextDueMs = this.scheduleStartMs + Math.ceil(((this.next + 1 - this.scheduled) * 1000) / this.ratePerSecond)
    const waitMs = Math.min(MAX_WAIT_MS, Math.max(1, nextDueMs - this.clock.now()))
    await new Promise((resolve) => setTimeout(resolve, waitMs))
    const due = this.due()
    return due > 0 ? this.emit(out, Math.min(max, due)) : 0
  }
}
