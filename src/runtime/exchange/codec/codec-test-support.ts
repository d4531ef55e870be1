/**
 * Seeded random schemas, records and strings for the codec property tests (test-only). A failing
 * case names its seed, so it can be replayed.
 */
import type { FieldType, RecordSchema, SchemaField } from '../../../graph/schema.ts'
import { recordSchema } from '../../../graph/schema.ts'
import { SeededRandom } from '../../../testing/random.ts'

/** Seeded randomness for property tests, with helpers for ranges. */
export class Random extends SeededRandom {
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  chance(p: number): boolean {
    return this.float() < p
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]
  }
}

const TYPES: readonly FieldType[] = ['number', 'int', 'string', 'boolean']
const NAME_PARTS = ['a', 'price', 'channel', 'x_1', 'dateTime', 'note', 'é', '名前', 'with space', '1', '42', 'constructor', 'toString', '$', 'bid.price']

export function randomSchema(rnd: Random): RecordSchema<Record<string, unknown>> {
  const count = 1 + rnd.int(9)
  const spec: Record<string, FieldType | { type: FieldType; nullable: boolean }> = {}
  for (let i = 0; i < count; i++) {
    const name = `${rnd.pick(NAME_PARTS)}${rnd.chance(0.5) ? i : ''}`
    const type = rnd.pick(TYPES)
    spec[name] = rnd.chance(0.4) ? { type, nullable: rnd.chance(0.8) } : type
  }
  return recordSchema(spec) as unknown as RecordSchema<Record<string, unknown>>
}

const SPECIAL_NUMBERS = [0, -0, NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE,
  Number.EPSILON, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, 0.1, -1.5e-300, 1 / 3]
const SPECIAL_INTS = [0, 1, -1, 2147483647, -2147483648, 65535, -65536, 127, -128]

export function randomNumber(rnd: Random): number {
  switch (rnd.int(4)) {
    case 0: return rnd.pick(SPECIAL_NUMBERS)
    case 1: return rnd.int(2000) - 1000
    case 2: return (rnd.float() - 0.5) * 10 ** (rnd.int(40) - 20)
    default: return new Float64Array(new Uint32Array([rnd.u32(), rnd.u32()]).buffer)[0]
  }
}

export function randomInt(rnd: Random): number {
  return rnd.chance(0.3) ? rnd.pick(SPECIAL_INTS) : (rnd.u32() | 0)
}

const ALPHABETS: readonly string[][] = [
  ['a', 'b', 'Z', '0', ' ', '-', '~', '\u0000', '\n', '"'],
  ['é', 'ß', 'ñ', 'ø', '\u00ff', '\u0080'],
  ['中', '文', '日', '本', '한', 'Ω', '\u2028', '\ufffd', '\uffff'],
  ['😀', '👍🏽', '𝄞', '🇫🇷', '\u{10ffff}'],
  // Lone surrogates: high, low, and a low before a high (not a pair).
  ['\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800'],
]

/** A string of up to `maxLength` code units, mostly ASCII, sometimes any of the alphabets above. */
export function randomString(rnd: Random, maxLength = 40, allowLoneSurrogates = true): string {
  const len = rnd.int(maxLength + 1)
  const mixed = rnd.chance(0.3)
  const limit = allowLoneSurrogates ? ALPHABETS.length : ALPHABETS.length - 1
  let s = ''
  while (s.length < len) {
    const alphabet = mixed ? ALPHABETS[rnd.int(limit)] : ALPHABETS[0]
    s += rnd.chance(0.7) ? String.fromCharCode(97 + rnd.int(26)) : rnd.pick(alphabet)
  }
  return s
}

function randomValue(rnd: Random, f: SchemaField, pool: readonly string[]): unknown {
  if (f.nullable && rnd.chance(0.2)) return rnd.chance(0.8) ? null : undefined
  switch (f.type) {
    case 'number': return randomNumber(rnd)
    case 'int': return randomInt(rnd)
    case 'boolean': return rnd.chance(0.5)
    case 'string': return rnd.chance(0.5) ? rnd.pick(pool) : randomString(rnd)
  }
}

/** Records for `schema`; strings repeat often (a pool) so dictionaries get exercised. */
export function randomRecords(rnd: Random, schema: RecordSchema<Record<string, unknown>>, n: number): Record<string, unknown>[] {
  const pool: string[] = []
  for (let i = 0, k = 1 + rnd.int(8); i < k; i++) pool.push(randomString(rnd, 12))
  const records: Record<string, unknown>[] = []
  for (let i = 0; i < n; i++) {
    const r: Record<string, unknown> = {}
    for (const f of schema.fields) r[f.name] = randomValue(rnd, f, pool)
    records.push(r)
  }
  return records
}

export function randomTimes(rnd: Random, n: number): number[] {
  const mode = rnd.int(3)
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    times.push(mode === 0 ? Number.NEGATIVE_INFINITY : mode === 1 ? 1_767_225_600_000 + rnd.int(1e6) : rnd.pick([Number.NEGATIVE_INFINITY, -0, 0.5, 1e15, Number.POSITIVE_INFINITY]))
  }
  return times
}

/** What a record of `schema` decodes to: schema order, undefined → null, int -0 → 0, extra properties dropped. */
export function expectedRecord(schema: RecordSchema<unknown>, r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of schema.fields) {
    let v = r[f.name]
    if (v === undefined) v = null
    if (f.type === 'int' && typeof v === 'number') v = v | 0
    out[f.name] = v
  }
  return out
}
