import { SluiceError } from '../errors.ts'

/** Time is injected: engine code asks a Clock, never Date.now() directly, so tests can drive it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/**
 * A clock that moves only when told. Listeners (the scheduler) are woken on every advance so
 * processing-time timers fire deterministically in tests.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0)
 * pipeline.run({ clock }); clock.advance(10_000)
 * ```
 */
export class ManualClock implements Clock {
  private current: number
  private readonly listeners = new Set<() => void>()

  constructor(startMs = 0) {
    this.current = startMs
  }

  now(): number {
    return this.current
  }

  advance(ms: number): void {
    this.set(this.current + ms)
  }

  set(ms: number): void {
    if (ms < this.current) throw new SluiceError('JOB_ARGUMENT_INVALID', `ManualClock cannot go back from ${this.current} to ${ms}`)
    this.current = ms
    for (const l of this.listeners) l()
  }

  /** @internal the scheduler subscribes to be woken when time moves. */
  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

export function isManualClock(c: Clock): c is ManualClock {
  return c instanceof ManualClock
}
