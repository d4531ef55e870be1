// A small translation service for the translate example: a real HTTP server on 127.0.0.1 (a free
// port) that translates word by word from a built-in dictionary. Each request takes `latencyMs`
// plus `perItemMs` per text, and at most `maxConcurrent` requests are served at once; the others
// wait their turn, as at a service with a fixed pool of workers — so the service can be the
// bottleneck of a job, and raising the job's concurrency past it only lengthens the queue.
//
//   POST /translate  {"items":[{"text":"the cat eats","to":"fr"}, ...]}
//   200              {"translations":["le chat mange", ...]}   (one per item, in order)
//
// Only node: built in; nothing to install.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export type Language = 'fr' | 'de' | 'es'
export const LANGUAGES: readonly Language[] = ['fr', 'de', 'es']

/** The body of POST /translate: texts, each with the language to translate it to. */
export interface TranslateRequest {
  readonly items: readonly { readonly text: string; readonly to: Language }[]
}
/** The answer: one translation per item, in the order of the items. */
export interface TranslateResponse {
  readonly translations: string[]
}

// English → French, German, Spanish, one word for one word (grammar is not the point).
const DICTIONARY: Readonly<Record<string, readonly [fr: string, de: string, es: string]>> = {
  the: ['le', 'der', 'el'], a: ['un', 'ein', 'un'], my: ['mon', 'mein', 'mi'], your: ['ton', 'dein', 'tu'],
  cat: ['chat', 'Katze', 'gato'], dog: ['chien', 'Hund', 'perro'], bird: ['oiseau', 'Vogel', 'pájaro'],
  friend: ['ami', 'Freund', 'amigo'], teacher: ['professeur', 'Lehrer', 'maestro'], child: ['enfant', 'Kind', 'niño'],
  book: ['livre', 'Buch', 'libro'], bread: ['pain', 'Brot', 'pan'], water: ['eau', 'Wasser', 'agua'],
  apple: ['pomme', 'Apfel', 'manzana'], letter: ['lettre', 'Brief', 'carta'], song: ['chanson', 'Lied', 'canción'],
  house: ['maison', 'Haus', 'casa'], garden: ['jardin', 'Garten', 'jardín'], city: ['ville', 'Stadt', 'ciudad'],
  sea: ['mer', 'Meer', 'mar'], train: ['train', 'Zug', 'tren'],
  eats: ['mange', 'isst', 'come'], reads: ['lit', 'liest', 'lee'], sees: ['voit', 'sieht', 've'],
  likes: ['aime', 'mag', 'quiere'], writes: ['écrit', 'schreibt', 'escribe'], sings: ['chante', 'singt', 'canta'],
  finds: ['trouve', 'findet', 'encuentra'], drinks: ['boit', 'trinkt', 'bebe'],
  big: ['grand', 'groß', 'grande'], small: ['petit', 'klein', 'pequeño'], red: ['rouge', 'rot', 'rojo'],
  new: ['nouveau', 'neu', 'nuevo'], old: ['vieux', 'alt', 'viejo'], good: ['bon', 'gut', 'bueno'],
  in: ['dans', 'in', 'en'], near: ['près de', 'bei', 'cerca de'], with: ['avec', 'mit', 'con'],
  and: ['et', 'und', 'y'], today: ["aujourd'hui", 'heute', 'hoy'], tomorrow: ['demain', 'morgen', 'mañana'],
  slowly: ['lentement', 'langsam', 'despacio'], again: ['encore', 'wieder', 'otra vez'],
}
const COLUMN: Readonly<Record<Language, 0 | 1 | 2>> = { fr: 0, de: 1, es: 2 }

/** The words the dictionary knows (the example's sentences are made of these and a few names). */
export const KNOWN_WORDS: readonly string[] = Object.keys(DICTIONARY)

/**
 * `text` translated to `to` word by word: a known word (in any case) becomes its translation,
 * capitalised when it was; anything else (names, numbers, punctuation) passes through.
 */
export function translateText(text: string, to: Language): string {
  const column = COLUMN[to]
  return text.replace(/[A-Za-z]+/g, (word) => {
    const entry = DICTIONARY[word.toLowerCase()]
    if (entry === undefined) return word
    const t = entry[column]
    return word[0] !== word[0].toLowerCase() ? t[0].toUpperCase() + t.slice(1) : t
  })
}

export interface TranslationServiceOptions {
  /** Time to serve one request, ms, once it has its turn. Default 20. */
  readonly latencyMs?: number
  /** Added per text in the request, ms (a batch costs more than one text, less than its texts one by one). Default 0. */
  readonly perItemMs?: number
  /** Requests served at once; more wait in arrival order. Default Infinity (no limit). */
  readonly maxConcurrent?: number
  /**
   * true: the service does not keep the process alive by itself (the server and its connections are
   * unref'd), for a service that lives as long as the job using it and no longer. Default false.
   */
  readonly unref?: boolean
  /** How the service waits out a request's latency; tests pass their own to hold requests. Default: a timer. */
  readonly delay?: (ms: number, signal: AbortSignal) => Promise<void>
}

/** What the service has done so far (a live view). */
export interface TranslationServiceStats {
  /** Requests answered with their translations. */
  requests: number
  /** Texts translated (in answered requests). */
  texts: number
  /** Requests refused as malformed (400, 404, 405, 413). */
  refused: number
  /** Requests whose client went away before the answer (e.g. a call timed out). */
  abandoned: number
  /** Requests being served now, and the most at once so far. */
  active: number
  maxActive: number
  /** Requests waiting for their turn now, and the most at once so far. */
  waiting: number
  maxWaiting: number
}

export interface TranslationService {
  /** Base URL, e.g. http://127.0.0.1:43117 (POST `${url}/translate`). */
  readonly url: string
  readonly stats: Readonly<TranslationServiceStats>
  /** Stops listening, drops requests in progress or waiting, and closes every connection. */
  close(): Promise<void>
}

const MAX_BODY_BYTES = 1 << 20

/**
 * Starts the service on 127.0.0.1, on a free port.
 * @example
 * ```ts
 * const service = await startTranslationService({ latencyMs: 50, maxConcurrent: 8 })
 * const r = await fetch(`${service.url}/translate`, { method: 'POST', body: JSON.stringify({ items: [{ text: 'the cat', to: 'fr' }] }) })
 * console.log(await r.json()) // { translations: [ 'le chat' ] }
 * await service.close()
 * ```
 */
export async function startTranslationService(options: TranslationServiceOptions = {}): Promise<TranslationService> {
  const latencyMs = nonNegative('latencyMs', options.latencyMs ?? 20)
  const perItemMs = nonNegative('perItemMs', options.perItemMs ?? 0)
  const maxConcurrent = options.maxConcurrent ?? Infinity
  if (!(maxConcurrent >= 1) || (maxConcurrent !== Infinity && !Number.isInteger(maxConcurrent))) {
    throw new RangeError(`maxConcurrent must be a whole number >= 1 or Infinity, got ${String(options.maxConcurrent)}`)
  }
  const delay = options.delay ?? ((ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }))
  const stats: TranslationServiceStats = { requests: 0, texts: 0, refused: 0, abandoned: 0, active: 0, maxActive: 0, waiting: 0, maxWaiting: 0 }
  const closing = new AbortController()
  // Requests waiting for a turn, first come first served; release() hands a turn over directly.
  const turns: (() => void)[] = []

  const acquire = async (): Promise<void> => {
    if (stats.active < maxConcurrent) {
      stats.active++
      stats.maxActive = Math.max(stats.maxActive, stats.active)
      return
    }
    stats.waiting++
    stats.maxWaiting = Math.max(stats.maxWaiting, stats.waiting)
    await new Promise<void>((resolve) => turns.push(resolve))
    stats.waiting--
  }
  const release = (): void => {
    const next = turns.shift()
    if (next !== undefined) next()
    else stats.active--
  }

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.url !== '/translate') return refuse(res, 404, `no such path: ${req.url ?? ''} (POST /translate)`)
    if (req.method !== 'POST') return refuse(res, 405, 'use POST /translate', { allow: 'POST' })
    const body = await readBody(req)
    if (body === null) return refuse(res, 413, `a request body is at most ${MAX_BODY_BYTES} bytes`)
    const items = parseItems(body)
    if (typeof items === 'string') return refuse(res, 400, items)
    // Aborted when the client goes away or the service closes: the request stops waiting.
    const gone = new AbortController()
    res.once('close', () => {
      if (!res.writableFinished) gone.abort()
    })
    const signal = AbortSignal.any([gone.signal, closing.signal])
    await acquire()
    try {
      if (signal.aborted) throw signal.reason
      await delay(latencyMs + perItemMs * items.length, signal)
      if (signal.aborted) throw signal.reason
      const answer: TranslateResponse = { translations: items.map((i) => translateText(i.text, i.to)) }
      stats.requests++
      stats.texts += items.length
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
    } catch {
      // Only an abort lands here; the connection is gone or is being closed.
      if (!closing.signal.aborted) stats.abandoned++
      res.destroy()
    } finally {
      release()
    }
  }

  const refuse = (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void => {
    stats.refused++
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ error: message }))
  }

  const server: Server = createServer((req, res) => void serve(req, res))
  if (options.unref === true) {
    server.unref()
    server.on('connection', (socket: Socket) => socket.unref())
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | null = null
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort()
        // Each waiting request gets a turn, sees the service closing, and gives the turn back.
        const waiting = turns.splice(0)
        stats.active += waiting.length
        for (const next of waiting) next()
        server.close((e) => (e === undefined ? resolve() : reject(e)))
        server.closeAllConnections()
      })
      return closed
    },
  }
}

/** The body as text, or null when it is longer than MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) return null
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The items of a request body, or what is wrong with it. */
function parseItems(body: string): TranslateRequest['items'] | string {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return 'the body is not JSON'
  }
  const items = (parsed as Partial<TranslateRequest> | null)?.items
  if (!Array.isArray(items)) return 'expected {"items": [{"text": "...", "to": "fr" | "de" | "es"}, ...]}'
  for (const [i, item] of items.entries()) {
    const { text, to } = (item ?? {}) as { text?: unknown; to?: unknown }
    if (typeof text !== 'string') return `items[${i}].text must be a string`
    if (!LANGUAGES.includes(to as Language)) return `items[${i}].to must be one of ${LANGUAGES.join(', ')}, got ${JSON.stringify(to)}`
  }
  return items as TranslateRequest['items']
}

function nonNegative(name: string, v: number): number {
  if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${name} must be a number >= 0, got ${String(v)}`)
  return v
}
