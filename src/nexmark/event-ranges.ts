/** Ranges of event numbers, to generate one stream in parts (on several threads or processes). */
import { invalid } from './generator-config.ts'

/**
 * Splits event numbers `[0, total)` into `parts` contiguous ranges whose sizes differ by at most
 * one (earlier ranges get the extra events). Generating every range, in any order or place,
 * gives exactly the events of one sequential run.
 *
 * @example
 * ```ts
 * splitEventRange(10, 3) // [{first:0,count:4},{first:4,count:3},{first:7,count:3}]
 * ```
 */
export function splitEventRange(total: number, parts: number): Array<{ first: number; count: number }> {
  if (!Number.isSafeInteger(total) || total < 0) throw invalid(`total events must be a non-negative integer, got ${total}`)
  if (!Number.isSafeInteger(parts) || parts < 1) throw invalid(`parts must be a positive integer, got ${parts}`)
  const base = Math.floor(total / parts)
  const extra = total % parts
  const ranges: Array<{ first: number; count: number }> = []
  let first = 0
  for (let i = 0; i < parts; i++) {
    const count = base + (i < extra ? 1 : 0)
    ranges.push({ first, count })
    first += count
  }
  return ranges
}
