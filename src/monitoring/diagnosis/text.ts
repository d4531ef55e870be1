/** How findings write names and numbers. */
export const cap = (s: string): string => s[0].toUpperCase() + s.slice(1)
/** "`a`", "`a` and `b`", "`a`, `b` and `c`". */
export function names(ids: readonly string[]): string {
  const quoted = ids.map((id) => `\`${id}\``)
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`
}

/** Whole numbers from 100 up, one decimal from 1, two below. */
export function round(n: number): number {
  const a = Math.abs(n)
  return a >= 100 ? Math.round(n) : a >= 1 ? Math.round(n * 10) / 10 : Math.round(n * 100) / 100
}
