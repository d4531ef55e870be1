/**
 * Waits until `cond` holds, checking after each turn of the event loop (1 ms timers), so tests
 * wait for the engine to reach a state instead of sleeping a fixed time. Fails after ~`limit`
 * turns (counted in turns, not milliseconds: a loaded machine gets as many checks).
 *
 * @example
 * ```ts
 * const sink = memorySink<number>()
 * const p = new Pipeline('until')
 * p.source('n', fromArray([1, 2, 3])).to('out', sink)
 * const job = p.run()
 * await until(() => sink.records.length >= 2)
 * await job.done
 * ```
 */
export async function until(cond: () => boolean, limit = 5000): Promise<void> {
  for (let i = 0; i < limit && !cond(); i++) await new Promise((r) => setTimeout(r, 1))
  if (!cond()) throw new Error('condition not reached')
}
