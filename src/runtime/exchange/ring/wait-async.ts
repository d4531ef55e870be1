/**
 * Parking a thread on a shared Int32 word without blocking it: Atomics.waitAsync plus a
 * keep-alive timer.
 *
 * Node 20 does not count a pending Atomics.waitAsync as work for the event loop: a worker (or the
 * main thread) whose only pending thing is a waitAsync exits, and the waiter's own timeout never
 * fires. So each wait holds a ref'd timer until it settles. Cost: one timer per wait, and waits
 * only happen when a ring is empty or full.
 */

import { SluiceError } from '../../../errors.ts'

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
type WaitAsync = (a: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult

// lib ES2022 has no typing for waitAsync (ES2024); Node 20 has the function.
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync

if (waitAsync === undefined) throw new SluiceError('NODE_UNSUPPORTED', `Atomics.waitAsync is missing in Node.js ${process.version}: Sluice needs Node.js >= 20.19`)

export const RESOLVED: Promise<void> = Promise.resolve()

/** setTimeout's largest delay; longer waits re-arm. */
const MAX_TIMER_MS = 0x7fffffff

/**
 * Resolves once `a[index]` is notified, no longer equals `expected`, or `timeoutMs` passed
 * (Infinity: never times out). Never rejects.
 */
export function waitForChange(a: Int32Array, index: number, expected: number, timeoutMs: number): Promise<void> {
  const r = waitAsync!(a, index, expected, timeoutMs)
  if (!r.async) return RESOLVED
  return new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = performance.now() + timeoutMs
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      resolve()
    }
    const arm = (): void => {
      const left = deadline - performance.now()
      if (left <= 0) return done()
      timer = setTimeout(left > MAX_TIMER_MS ? arm : done, Math.min(left, MAX_TIMER_MS))
    }
    arm()
    void r.value.then(done)
  })
}
