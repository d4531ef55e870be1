/**
 * Key groups: the unit in which keyed state is partitioned and (later) redistributed. A key
 * hashes to one of `maxParallelism` key groups; a contiguous range of key groups belongs to each
 * subtask (Flink's assignment), so changing parallelism moves whole key groups.
 *
 * The hash must be the same in every thread and every process, so it never uses identity or
 * engine-internal hashes: numbers hash by value (integers by a 32-bit mix of their two halves,
 * other doubles by their bits), strings by FNV-1a over UTF-16 code units.
 */
export const DEFAULT_MAX_PARALLELISM = 128

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return mix32(h)
}

export function hashNumber(n: number): number {
  if (Number.isInteger(n) && n >= -2147483648 && n <= 2147483647) return mix32(n | 0)
  f64[0] = n === 0 ? 0 : n // -0 and 0 are one key
  return mix32(u32[0] ^ Math.imul(u32[1], 0x9e3779b1))
}

/** A stable hash of a key: numbers, strings, booleans, bigints, null/undefined; others by JSON. */
export function hashKey(key: unknown): number {
  switch (typeof key) {
    case 'number':
      return hashNumber(key)
    case 'string':
      return hashString(key)
    case 'boolean':
      return key ? 1 : 2
    case 'bigint':
      return hashString(key.toString())
    case 'undefined':
      return 3
    default:
      return key === null ? 4 : hashString(JSON.stringify(key) ?? String(key))
  }
}

export function keyGroupOf(key: unknown, maxParallelism: number): number {
  return hashKey(key) % maxParallelism
}

/** The subtask owning a key group: key groups are split into `parallelism` contiguous ranges. */
export function subtaskOfKeyGroup(keyGroup: number, maxParallelism: number, parallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism)
}

/**
 * The key groups subtask `subtask` of `parallelism` owns: [start, end), the range
 * subtaskOfKeyGroup assigns to it (start = ceil(subtask * maxParallelism / parallelism)).
 */
export function keyGroupRange(subtask: number, maxParallelism: number, parallelism: number): { start: number; end: number } {
  return {
    start: Math.ceil((subtask * maxParallelism) / parallelism),
    end: Math.ceil(((subtask + 1) * maxParallelism) / parallelism),
  }
}

/** A filter accepting the key groups of one subtask, for restoring state at a new parallelism. */
export function ownsKeyGroups(subtask: number, maxParallelism: number, parallelism: number): (keyGroup: number) => boolean {
  const { start, end } = keyGroupRange(subtask, maxParallelism, parallelism)
  return (g) => g >= start && g < end
}
