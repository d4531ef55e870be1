/**
 * Approximate state sizes for metrics: a sample of an operator's state entries is walked and sized
 * with V8's usual layouts (8-byte numbers and pointers, 2 bytes a string character, 16-24-byte
 * object headers), then scaled by the entry count. An estimate, cheap enough to run once a second.
 */

const MAX_NODES = 10_000

/** Roughly how many bytes `v` occupies on the heap (shared references counted once). */
export function approximateBytes(v: unknown): number {
  const seen = new Set<object>()
  let nodes = 0
  const walk = (x: unknown): number => {
    switch (typeof x) {
      case 'number':
        return 8
      case 'boolean':
      case 'undefined':
        return 4
      case 'bigint':
        return 16
      case 'string':
        return 16 + 2 * x.length
      case 'object': {
        if (x === null) return 4
        if (seen.has(x) || ++nodes > MAX_NODES) return 8
        seen.add(x)
        if (ArrayBuffer.isView(x)) return 64 + x.byteLength
        if (x instanceof Map) {
          let n = 48
          for (const [k, val] of x) n += 24 + walk(k) + walk(val)
          return n
        }
        if (x instanceof Set) {
          let n = 48
          for (const k of x) n += 16 + walk(k)
          return n
        }
        if (Array.isArray(x)) {
          let n = 32
          for (const e of x) n += 8 + (typeof e === 'object' && e !== null ? walk(e) : typeof e === 'string' ? walk(e) : 0)
          return n
        }
        let n = 24
        for (const k in x as Record<string, unknown>) n += 8 + walk((x as Record<string, unknown>)[k])
        return n
      }
      default:
        return 8
    }
  }
  return walk(v)
}

/** Estimated bytes of `entries` state entries from a sample of them. */
export function estimateStateBytes(sample: readonly unknown[], entries: number): number {
  if (sample.length === 0 || entries === 0) return 0
  let total = 0
  for (const e of sample) total += approximateBytes(e)
  return Math.round((total / sample.length) * entries)
}
