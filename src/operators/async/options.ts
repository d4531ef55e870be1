/**
 * Options of the asynchronous operators (`mapAsync`, `flatMapAsync`, `mapAsyncBatch`,
 * `lookupJoin`): how many calls may be in flight, result order, timeouts, retries. Checked when the
 * job is built (ASYNC_OPTIONS_INVALID names the option, the value and the range).
 */
import { SluiceError } from '../../errors.ts'
import type { OperatorErrorOptions } from '../types.ts'

/** What a call gets besides its record(s). */
export interface CallContext {
  /**
   * Aborted when the call times out (`timeoutMs`) or the job stops or fails: pass it to `fetch`,
   * a database driver or anything that takes one, so an abandoned call releases its resources.
   */
  readonly signal: AbortSignal
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number
}

/**
 * Retries of a failed or timed-out call: exponential backoff with jitter. The delay before retry
 * *n* is `min(maxBackoffMs, backoffMs · multiplier^(n-1))`, of which a random fraction up to
 * `jitter` is taken off, so clients that failed together do not retry together.
 */
export interface RetryOptions {
  /** Attempts in all, the first included (1: no retry). Default 3. */
  attempts?: number
  /** Delay before the first retry, ms. Default 100. */
  backoffMs?: number
  /** Longest delay, ms. Default 10 000. */
  maxBackoffMs?: number
  /** Growth of the delay per retry. Default 2. */
  multiplier?: number
  /** Fraction of each delay drawn at random, 0..1. Default 0.5. */
  jitter?: number
  /** Which failures are retried (the error a call rejected with, or the timeout's SluiceError ASYNC_TIMEOUT). Default: all. */
  retryOn?: (error: unknown) => boolean
}

/** Options of `mapAsync` and `flatMapAsync`. */
export interface AsyncOptions extends OperatorErrorOptions {
  /**
   * Calls in flight per subtask, 1..10 000. When all are in flight the operator takes no more
   * input, and its upstream is backpressured. Default 32.
   */
  concurrency?: number
  /**
   * true (default): results leave in the order their records came. false: as their calls complete,
   * but never past a watermark: a record that came before a watermark leaves before it.
   */
  ordered?: boolean
  /** An attempt not complete after this many ms is aborted (its signal fires) and fails with ASYNC_TIMEOUT. Default 30 000; 0: never. */
  timeoutMs?: number
  /** Retries of failed attempts (see RetryOptions); default none. `true`: the defaults. */
  retry?: RetryOptions | boolean
}

/** Options of `keyedStream.mapAsync` and `keyedStream.flatMapAsync`. */
export interface KeyedAsyncOptions extends AsyncOptions {
  /**
   * Calls for one key one at a time, in input order: a record's call starts once the previous
   * record of its key has left. Records of other keys still run concurrently. Default false.
   */
  keyOrder?: boolean
}

/** Options of `mapAsyncBatch`: a batch closes at `maxBatch` records or `maxWaitMs` after its first one. */
export interface AsyncBatchOptions extends AsyncOptions {
  /** Records per call, 1..100 000. Default 100. */
  maxBatch?: number
  /** How long a batch that is not full waits for more records, ms. Default 10. */
  maxWaitMs?: number
}

/** The options as the operator uses them. */
export interface ResolvedAsyncOptions {
  readonly concurrency: number
  readonly ordered: boolean
  readonly timeoutMs: number
  readonly retry: ResolvedRetry
  readonly maxBatch: number
  readonly maxWaitMs: number
  readonly keyOrder: boolean
}

export interface ResolvedRetry {
  readonly attempts: number
  readonly backoffMs: number
  readonly maxBackoffMs: number
  readonly multiplier: number
  readonly jitter: number
  readonly retryOn: ((error: unknown) => boolean) | null
}

export const DEFAULT_CONCURRENCY = 32
export const DEFAULT_TIMEOUT_MS = 30_000
export const DEFAULT_MAX_BATCH = 100
export const DEFAULT_MAX_WAIT_MS = 10

const NO_RETRY: ResolvedRetry = { attempts: 1, backoffMs: 100, maxBackoffMs: 10_000, multiplier: 2, jitter: 0.5, retryOn: null }

/** Checks and completes the options of operator `id` (`kind`: the method, for messages). */
export function resolveAsyncOptions(id: string, kind: string, o: (AsyncBatchOptions & KeyedAsyncOptions) | undefined, batched: boolean): ResolvedAsyncOptions {
  if (o !== undefined && (o === null || typeof o !== 'object')) invalid(id, kind, 'options', o, 'an object')
  const opts = o ?? {}
  const concurrency = whole(id, kind, 'concurrency', opts.concurrency, DEFAULT_CONCURRENCY, 1, 10_000)
  const timeoutMs = number(id, kind, 'timeoutMs', opts.timeoutMs, DEFAULT_TIMEOUT_MS, 0, 86_400_000)
  const maxBatch = batched ? whole(id, kind, 'maxBatch', opts.maxBatch, DEFAULT_MAX_BATCH, 1, 100_000) : 1
  const maxWaitMs = batched ? number(id, kind, 'maxWaitMs', opts.maxWaitMs, DEFAULT_MAX_WAIT_MS, 0, 3_600_000) : 0
  if (opts.ordered !== undefined && typeof opts.ordered !== 'boolean') invalid(id, kind, 'ordered', opts.ordered, 'true or false')
  if (opts.keyOrder !== undefined && typeof opts.keyOrder !== 'boolean') invalid(id, kind, 'keyOrder', opts.keyOrder, 'true or false')
  return { concurrency, ordered: opts.ordered ?? true, timeoutMs, retry: resolveRetry(id, kind, opts.retry), maxBatch, maxWaitMs, keyOrder: opts.keyOrder ?? false }
}

function resolveRetry(id: string, kind: string, r: RetryOptions | boolean | undefined): ResolvedRetry {
  if (r === undefined || r === false) return NO_RETRY
  if (r === true) return { ...NO_RETRY, attempts: 3 }
  if (r === null || typeof r !== 'object') return invalid(id, kind, 'retry', r, 'an object, true or false')
  if (r.retryOn !== undefined && typeof r.retryOn !== 'function') invalid(id, kind, 'retry.retryOn', r.retryOn, 'a function')
  const backoffMs = number(id, kind, 'retry.backoffMs', r.backoffMs, 100, 0, 3_600_000)
  return {
    attempts: whole(id, kind, 'retry.attempts', r.attempts, 3, 1, 1000),
    backoffMs,
    maxBackoffMs: number(id, kind, 'retry.maxBackoffMs', r.maxBackoffMs, Math.max(10_000, backoffMs), backoffMs, 86_400_000),
    multiplier: number(id, kind, 'retry.multiplier', r.multiplier, 2, 1, 100),
    jitter: number(id, kind, 'retry.jitter', r.jitter, 0.5, 0, 1),
    retryOn: r.retryOn ?? null,
  }
}

function whole(id: string, kind: string, name: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) invalid(id, kind, name, v, `a whole number from ${min} to ${max}`)
  return v as number
}

function number(id: string, kind: string, name: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) invalid(id, kind, name, v, `a number from ${min} to ${max}`)
  return v as number
}

function invalid(id: string, kind: string, name: string, v: unknown, what: string): never {
  const shown = typeof v === 'function' ? 'a function' : typeof v === 'string' ? JSON.stringify(v) : String(v)
  throw new SluiceError('ASYNC_OPTIONS_INVALID', `${kind} "${id}": ${name} must be ${what}, got ${shown}`)
}

/** The delay before retry `retry` (1 for the first retry), ms; `random` in [0, 1). */
export function backoffDelay(r: ResolvedRetry, retry: number, random: number): number {
  const base = Math.min(r.maxBackoffMs, r.backoffMs * r.multiplier ** (retry - 1))
  return base - base * r.jitter * random
}

/**
 * Records the operator holds beyond what its slots (and a filling batch) take: done and waiting
 * for their turn, or waiting for a slot. About one input batch, what it held over before it took
 * input by its room (InChannel.takeUpTo): with less, a slow first call in ordered mode idled the
 * other slots (every slot busy 49 % of the time instead of ≥ 80 % in test/dashboard/calls.browser.test.ts).
 */
export const HEADROOM = 1024

/**
 * Records the operator holds at most (in calls, waiting for a slot or a batch, done and waiting for
 * their turn): the slots' records, batched one batch more (so a batch fills while every slot is
 * busy instead of leaving short after maxWaitMs), and HEADROOM.
 */
export function capacityOf(o: ResolvedAsyncOptions): number {
  return (o.maxBatch > 1 ? (o.concurrency + 1) * o.maxBatch : o.concurrency) + HEADROOM
}
