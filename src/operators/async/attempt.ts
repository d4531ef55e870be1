/** One attempt of an asynchronous call, and the checks of what it resolved with. */
import { SluiceError } from '../../errors.ts'
import type { HeldRecord } from './held-records.ts'
import { RecordFailure } from './record-failure.ts'

/** One attempt of a call, in flight, then perhaps waiting to be retried. */
export class Attempt {
  prev: Attempt | null = null
  next: Attempt | null = null
  settled = false
  ok = false
  value: unknown = undefined
  startedAt = 0
  deadline = Number.POSITIVE_INFINITY
  retryAt = 0
  /** Made when the call first reads its signal (most calls never do: a signal costs ~0.3 µs and GC). */
  private controller: AbortController | null = null
  private abortReason: unknown = undefined
  private aborted = false

  /** The attempt's AbortSignal (already aborted when the attempt was, before it was asked for). */
  signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.abortReason)
    }
    return this.controller.signal
  }

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.abortReason = reason
    this.controller?.abort(reason)
  }

  constructor(
    readonly records: HeldRecord[],
    readonly attempt: number,
  ) {}
}

/** Why a call's value is not what the operator needs, or null when it is. */
export function checkResult(kind: 'map' | 'flatMap' | 'batch', method: string, id: string, v: unknown, n: number): SluiceError | null {
  if (kind === 'batch' && (!Array.isArray(v) || v.length !== n)) {
    return new SluiceError('ASYNC_RESULT_INVALID', `${method} "${id}": a call for ${n} records must resolve with an array of ${n} results, in order; it resolved with ${Array.isArray(v) ? `an array of ${v.length}` : describeValue(v)}`)
  }
  if (kind === 'flatMap' && !(v instanceof RecordFailure) && (v === null || v === undefined || typeof (v as Iterable<unknown>)[Symbol.iterator] !== 'function' || typeof v === 'string')) {
    return new SluiceError('ASYNC_RESULT_INVALID', `${method} "${id}": a call must resolve with an array (or other iterable) of results; it resolved with ${describeValue(v)}`)
  }
  return null
}

export function safeRetryOn(retryOn: (e: unknown) => boolean, e: unknown): boolean {
  try {
    return retryOn(e) === true
  } catch {
    return false
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`
  return typeof v === 'object' ? 'an object that is not iterable' : `${typeof v} ${String(v)}`
}

/** What a call sees of its attempt (CallContext): the signal is made only if the call reads it. */
export class AttemptContext {
  constructor(private readonly a: Attempt) {}

  get signal(): AbortSignal {
    return this.a.signal()
  }

  get attempt(): number {
    return this.a.attempt
  }
}
