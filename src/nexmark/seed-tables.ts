/**
 * The generator's per-seed tables, built once per seed and cached: the character pools that
 * strings are cut from, the hot urls and the channel cache. Their sizes are the generator's.
 */

const INV_2_32 = 1 / 4294967296

/** The draws the tables are made of: the generator's PRNG (Random32 in generator.ts). */
export interface Draws {
  reseed(key: number, lo: number, hi: number): void
  u32(): number
  int(n: number): number
}

/** How big the tables are: the length of the character pools, the channels and the hot channels. */
export interface TableSizes {
  readonly poolLength: number
  readonly channels: number
  readonly hotChannels: number
}

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

/** The tables of `seed` (whose stream key is `key`), drawn from `rnd` when not cached yet. */
export function seedTables(seed: number, key: number, rnd: Draws, sizes: TableSizes): SeedTables {
  let t = tablesBySeed.get(seed)
  if (t === undefined) {
    if (tablesBySeed.size >= MAX_CACHED_SEEDS) tablesBySeed.delete(tablesBySeed.keys().next().value!)
    t = buildSeedTables(key, rnd, sizes)
    tablesBySeed.set(seed, t)
  }
  return t
}

/**
 * `length` i.i.d. characters: `special` with probability 1/13 (none when 0), else a–z, as the
 * reference draws them. Several characters come from one 32-bit draw by repeated
 * multiply-and-take-the-integer-part, which keeps building the pools to a few ms.
 */
function charPool(rnd: Draws, length: number, special: number): string {
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

function buildSeedTables(key: number, rnd: Draws, sizes: TableSizes): SeedTables {
  // Event ids stay below 2^53, so high word -1 (0xffffffff) is a stream no event uses.
  rnd.reseed(key, 0, -1)
  const letters = charPool(rnd, sizes.poolLength, 0)
  const words = charPool(rnd, sizes.poolLength, 32)
  // Url path segments are the reference's str(5, '_'): 3 or 4 characters, '_' as the special.
  const segments = charPool(rnd, 1 << 16, 95)
  const segment = (): string => {
    const len = 3 + rnd.int(2)
    const offset = rnd.int(segments.length - len)
    return segments.slice(offset, offset + len)
  }
  const baseUrl = (): string => `https://www.nexmark.com/${segment()}/${segment()}/${segment()}/item.htm?query=1`
  const hotUrls = Array.from({ length: sizes.hotChannels }, () => baseUrl())
  const channelNames: string[] = new Array(sizes.channels)
  const channelUrls: string[] = new Array(sizes.channels)
  for (let i = 0; i < sizes.channels; i++) {
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
