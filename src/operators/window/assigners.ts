/**
 * Window assigners. Time windows are aligned to the epoch (plus an optional offset): a 10 s
 * tumbling window starts at a multiple of 10 000 ms. Windows are half-open [start, end) and fire
 * when the watermark (or processing time) reaches end − 1.
 */
import { SluiceError } from '../../errors.ts'

export type TimeDomain = 'event' | 'processing'

export interface TimeWindow {
  readonly start: number
  readonly end: number
}

export type WindowAssigner =
  | { readonly kind: 'tumbling'; readonly sizeMs: number; readonly offsetMs: number; readonly time: TimeDomain }
  | { readonly kind: 'sliding'; readonly sizeMs: number; readonly slideMs: number; readonly offsetMs: number; readonly time: TimeDomain }
  | { readonly kind: 'session'; readonly gapMs: number; readonly time: TimeDomain }
  | { readonly kind: 'global'; readonly count: number }

export interface TimeWindowOptions {
  offsetMs?: number
  /** 'event' (default) or 'processing'. */
  time?: TimeDomain
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0 || !Number.isInteger(v)) {
    throw new SluiceError('WINDOW_INVALID', `${name} must be a positive whole number of milliseconds, got ${v}`)
  }
  return v
}

function domain(options: TimeWindowOptions | undefined): TimeDomain {
  const t = options?.time ?? 'event'
  if (t !== 'event' && t !== 'processing') {
    throw new SluiceError('WINDOW_INVALID', `window time must be 'event' or 'processing', got ${String(t)}`)
  }
  return t
}

/**
 * Tumbling windows of `sizeMs`: back to back, each record in exactly one.
 * @example
 * ```ts
 * declare const bids: Stream<Bid>
 * bids.keyBy((b) => b.auction).window(tumbling(10_000)).aggregate('count', count())
 * ```
 */
export function tumbling(sizeMs: number, options?: TimeWindowOptions): WindowAssigner {
  return { kind: 'tumbling', sizeMs: positive('window size', sizeMs), offsetMs: options?.offsetMs ?? 0, time: domain(options) }
}

/** Sliding windows of `sizeMs` every `slideMs`; computed from panes so each record touches one pane. */
export function sliding(sizeMs: number, slideMs: number, options?: TimeWindowOptions): WindowAssigner {
  positive('window size', sizeMs)
  positive('window slide', slideMs)
  if (slideMs > sizeMs) {
    throw new SluiceError('WINDOW_INVALID', `window slide (${slideMs} ms) must not exceed its size (${sizeMs} ms)`)
  }
  return { kind: 'sliding', sizeMs, slideMs, offsetMs: options?.offsetMs ?? 0, time: domain(options) }
}

/** Session windows: records closer than `gapMs` merge into one window [first, last + gap). */
export function session(gapMs: number, options?: { time?: TimeDomain }): WindowAssigner {
  return { kind: 'session', gapMs: positive('session gap', gapMs), time: domain(options) }
}

/** One window per key that fires (and is purged) every `count` records. */
export function globalWindow(options: { count: number }): WindowAssigner {
  if (!Number.isInteger(options.count) || options.count <= 0) {
    throw new SluiceError('WINDOW_INVALID', `count trigger must be a positive whole number, got ${options.count}`)
  }
  return { kind: 'global', count: options.count }
}

/** Start of the aligned window of length `size` containing `t`. */
export function alignedStart(t: number, size: number, offset: number): number {
  const r = (t - offset) % size
  return t - (r < 0 ? r + size : r)
}

export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}
