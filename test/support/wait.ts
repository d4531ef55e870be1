/** Waiting for events in tests: poll a condition, fail only when it never holds. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Polls `f` until it gives a value (not undefined) and returns it; throws naming `what` only if
 * none came within `ms` (a generous deadline: waiting for an event, never for a time).
 */
export async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 15_000, everyMs = 20): Promise<T> {
  const end = performance.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}
