/**
 * The generator's per-seed tables, built once per seed and cached: the character pools that
 * strings are cut from, the hot urls and the channel cache.
 */
import { INV_2_32, Random32, seedKey } from './random32.ts'

export const NUM_CHANNELS = 10_000
/**
 * Length of the per-seed character pools. Flink's extra pool is 1 MiB; 256 KiB gives as many
 * distinct substrings as any run needs, builds 4x faster and stays in L2 for serializers.
 */
export const POOL_LENGTH = 1 << 18
export const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple']

/** Per-seed tables, built once: the string pools, hot urls and the channel cache. */
interface SeedTables {
  /** a–z only: `extra` is a substring of it. */
  letters: string
  /** space with probability 1/13, else a–z: `str()` is a trimmed substring of it. */
  words: string
  hotUrls: string[]
  channelNames: string[]
  channelUrls: string[]
}

const tablesBySeed = new Map<number, SeedTables>()
const MAX_CACHED_SEEDS = 8

export function seedTables(seed: number): SeedTables {
  let t = tablesBySeed.get(seed)
  if (t === undefined) {
    if (tablesBySeed.size >= MAX_CACHED_SEEDS) tablesBySeed.delete(tablesBySeed.keys().next().value!)
    t = buildSeedTables(seed)
    tablesBySeed.set(seed, t)
  }
  return t
}

/**
 * `length` i.i.d. characters: `special` with probability 1/13 (none when 0), else a–z, as the
 * reference draws them. Several characters come from one 32-bit draw by repeated
 * multiply-and-take-the-integer-part, which keeps building the pools to a few ms.
 */
function charPool(rnd: Random32, length: number, special: number): string {
  const buf = Buffer.allocUnsafe(length)
  const alphabet = special === 0 ? 26 : 26 * 13
  const perDraw = special === 0 ? 6 : 3 // alphabet^perDraw stays below 2^32
  let i = 0
  while (i < length) {
    let x = rnd.u32()
    for (let j = 0; j < perDraw && i < length; j++) {
      x *= alphabet
      const c = Math.floor(x * INV_2_32)
      x -= c * 4294967296
      buf[i++] = c < 26 && special !== 0 ? special : 97 + (c % 26)
    }
  }
  return buf.toString('latin1')
}

function buildSeedTables(seed: number): SeedTables {
  const rnd = new Random32()
  // Event ids stay below 2^53, so high word -1 (0xffffffff) is a stream no event uses.
  rnd.reseed(seedKey(seed), 0, -1)
  const letters = charPool(rnd, POOL_LENGTH, 0)
  const words = charPool(rnd, POOL_LENGTH, 32)
  // Url path segments are the reference's str(5, '_'): 3 or 4 characters, '_' as the special.
  const segments = charPool(rnd, 1 << 16, 95)
  const segment = (): string => {
    const len = 3 + rnd.int(2)
    const offset = rnd.int(segments.length - len)
    return segments.slice(offset, offset + len)
  }
  const baseUrl = (): string => `https://www.nexmark.com/${segment()}/${segment()}/${segment()}/item.htm?query=1`
  const hotUrls = HOT_CHANNELS.map(() => baseUrl())
  const channelNames: string[] = new Array(NUM_CHANNELS)
  const channelUrls: string[] = new Array(NUM_CHANNELS)
  for (let i = 0; i < NUM_CHANNELS; i++) {
    let url = baseUrl()
    if (rnd.int(10) > 0) url += `&channel_id=${Math.abs(reverseBits32(i))}`
    channelNames[i] = `channel-${i}`
    channelUrls[i] = url
  }
  return { letters, words, hotUrls, channelNames, channelUrls }
}

/** Java's Integer.reverse: the 32 bits of `x` in reverse order, as an int32. */
function reverseBits32(x: number): number {
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1)
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2)
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4)
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8)
  return (x >>> 16) | (x << 16)
}
