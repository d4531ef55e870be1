// The example's input: short English sentences, each with a target language and an event time,
// generated from their number alone (no file to read, the same on every run and in every thread).
import type { Language } from './service.ts'

/** A text to translate; `ts` is its event time. */
export interface Text { id: number; text: string; to: Language; ts: number }

/** The generated texts' event time: from 2025-01-01T00:00Z, one text every 10 ms. */
export const EPOCH_MS = Date.UTC(2025, 0, 1)
export const STEP_MS = 10

const NAMES = ['Alice', 'Bruno', 'Chen', 'Dara', 'Emil', 'Fatou']
const SUBJECTS = ['the cat', 'the dog', 'my friend', 'the teacher', 'a child', 'the bird', ...NAMES]
const THINGS = ['book', 'apple', 'letter', 'house', 'garden', 'train']
/** Each verb with what it goes with. */
const VERBS: readonly (readonly [string, readonly string[]])[] = [
  ['eats', ['bread', 'apple']], ['drinks', ['water']], ['reads', ['book', 'letter']], ['writes', ['book', 'letter', 'song']],
  ['sings', ['song']], ['sees', THINGS], ['likes', THINGS], ['finds', THINGS],
]
const ADJECTIVES = ['big', 'small', 'red', 'new', 'old', 'good']
const PLACES = ['in the garden', 'near the sea', 'in the city', 'with my friend', 'in the house']
const TIMES = ['today', 'tomorrow', 'slowly', 'again']

/**
 * Text number `n`: the same for the same `n` on every run and in every thread (the source replays
 * from a checkpoint by number). About half go to French, 30 % to German, 20 % to Spanish.
 */
export function textAt(n: number): Text {
  const random = seeded(n)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]
  const r = random()
  const to: Language = r < 0.5 ? 'fr' : r < 0.8 ? 'de' : 'es'
  const subject = pick(SUBJECTS)
  const [verb, objects] = pick(VERBS)
  let text = `${subject[0].toUpperCase()}${subject.slice(1)} ${verb} the `
  if (random() < 0.5) text += `${pick(ADJECTIVES)} `
  text += pick(objects)
  if (random() < 0.4) text += ` ${pick(PLACES)}`
  if (random() < 0.3) text += ` ${pick(TIMES)}`
  return { id: n, text: `${text}.`, to, ts: EPOCH_MS + n * STEP_MS }
}

/** mulberry32 seeded from `n`: a small, fast generator whose draws depend only on `n`. */
function seeded(n: number): () => number {
  let s = Math.imul(n ^ 0x5bd1e995, 0x9e3779b1)
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
