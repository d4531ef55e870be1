/**
 * examples/translate/: its translation service on its own (translations, the latency it asks for,
 * the limit on requests served at once, refusals, clients that leave, closing), and the example
 * run as a user runs it, `sluice run examples/translate/job.ts`: the per-language counts of each
 * window, computed here from the generated input, and calls that really were batched. The
 * service's latency is injected where a test depends on it; no assertion reads the clock.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startTranslationService, translateText, type Language, type TranslationService, type TranslationServiceOptions } from '../examples/translate/service.ts'
import { textAt, type Text } from '../examples/translate/texts.ts'
import { PROCESS_DEADLINE_MS, TEST_DEADLINE_MS, root } from './support/cli.ts'

/** Waits for `condition` (checked every few ms), failing after a deadline meant only to end a hung test. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A service latency the test releases by hand: each request's wait is held until released. */
class HeldLatency {
  readonly held: { ms: number; release: () => void; signal: AbortSignal }[] = []
  readonly delay = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      this.held.push({ ms, release: resolve, signal })
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
}

const services: TranslationService[] = []
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()))
})
async function start(o: TranslationServiceOptions = {}): Promise<TranslationService> {
  const s = await startTranslationService(o)
  services.push(s)
  return s
}

function post(s: TranslationService, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${s.url}/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...init })
}

describe('examples/translate/service.ts', () => {
  it('translates each item word by word to its own language, passing unknown words through', async () => {
    const s = await start({ latencyMs: 0 })
    const items: { text: string; to: Language }[] = [
      { text: 'The cat eats the red apple.', to: 'fr' },
      { text: 'Alice reads the book near the sea today.', to: 'de' },
      { text: 'my friend sings again', to: 'es' },
      { text: 'Zebras dance', to: 'fr' },
    ]
    const r = await post(s, { items })
    expect(r.status).toBe(200)
    expect(await r.json()).toEqual({
      translations: ['Le chat mange le rouge pomme.', 'Alice liest der Buch bei der Meer heute.', 'mi amigo canta otra vez', 'Zebras dance'],
    })
    expect(items.map((i) => translateText(i.text, i.to))).toEqual(((await (await post(s, { items })).json()) as { translations: string[] }).translations)
    expect(s.stats).toMatchObject({ requests: 2, texts: 8, refused: 0 })
  })

  it('refuses what is not a translation request, with a reason, and serves nothing for it', async () => {
    const s = await start({ latencyMs: 0 })
    const wrongLanguage = await post(s, { items: [{ text: 'the cat', to: 'it' }] })
    expect(wrongLanguage.status).toBe(400)
    expect(((await wrongLanguage.json()) as { error: string }).error).toMatch(/items\[0\]\.to must be one of fr, de, es, got "it"/)
    expect((await post(s, { texts: ['the cat'] })).status).toBe(400)
    expect((await fetch(`${s.url}/translate`, { method: 'POST', body: 'not json' })).status).toBe(400)
    const get = await fetch(`${s.url}/translate`)
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST'])
    expect((await fetch(`${s.url}/other`, { method: 'POST', body: '{}' })).status).toBe(404)
    expect(s.stats).toMatchObject({ requests: 0, texts: 0, refused: 5 })
  })

  it('takes latencyMs per request plus perItemMs per text', async () => {
    const latency = new HeldLatency()
    const s = await start({ latencyMs: 40, perItemMs: 2.5, delay: latency.delay })
    const answers = [post(s, { items: [{ text: 'a', to: 'fr' }] }), post(s, { items: Array.from({ length: 10 }, () => ({ text: 'a', to: 'de' })) })]
    await eventually(() => latency.held.length === 2, 'both requests to wait out their latency')
    expect(latency.held.map((h) => h.ms).sort((a, b) => a - b)).toEqual([42.5, 65])
    // Nothing is answered before its latency is over.
    expect(s.stats.requests).toBe(0)
    for (const h of latency.held) h.release()
    expect((await Promise.all(answers)).map((r) => r.status)).toEqual([200, 200])
    expect(s.stats).toMatchObject({ requests: 2, texts: 11 })
  })

  it('serves at most maxConcurrent requests at once; the others wait their turn', async () => {
    const latency = new HeldLatency()
    const s = await start({ latencyMs: 10, maxConcurrent: 2, delay: latency.delay })
    const answers = Array.from({ length: 5 }, (_, i) => post(s, { items: [{ text: `the dog ${i}`, to: 'es' }] }))
    await eventually(() => s.stats.waiting === 3, 'three requests to wait')
    expect(latency.held.length).toBe(2)
    expect(s.stats.active).toBe(2)
    // A request done hands its turn to the next one waiting.
    latency.held[0].release()
    await eventually(() => latency.held.length === 3, 'a waiting request to get its turn')
    expect([s.stats.active, s.stats.waiting, s.stats.requests]).toEqual([2, 2, 1])
    for (let served = 1; served < 5; served++) {
      await eventually(() => latency.held.length > served, `request ${served + 1} to get its turn`)
      latency.held[served].release()
    }
    const bodies = await Promise.all(answers.map(async (r) => ((await (await r).json()) as { translations: string[] }).translations[0]))
    expect(bodies.sort()).toEqual(['el perro 0', 'el perro 1', 'el perro 2', 'el perro 3', 'el perro 4'])
    expect(s.stats).toMatchObject({ requests: 5, active: 0, waiting: 0, maxActive: 2, maxWaiting: 3 })
  })

  it('lets go of a request whose client left (a call that timed out) and gives its turn to the next', async () => {
    const latency = new HeldLatency()
    const s = await start({ latencyMs: 10, maxConcurrent: 1, delay: latency.delay })
    const client = new AbortController()
    const left = post(s, { items: [{ text: 'the cat', to: 'fr' }] }, { signal: client.signal })
    await eventually(() => latency.held.length === 1, 'the first request to be served')
    const next = post(s, { items: [{ text: 'the bird', to: 'fr' }] })
    await eventually(() => s.stats.waiting === 1, 'the second request to wait')
    client.abort()
    await expect(left).rejects.toThrow()
    await eventually(() => latency.held.length === 2, 'the second request to get the turn')
    expect(latency.held[0].signal.aborted).toBe(true)
    latency.held[1].release()
    expect(await (await next).json()).toEqual({ translations: ['le oiseau'] })
    expect(s.stats).toMatchObject({ requests: 1, abandoned: 1, active: 0 })
  })

  it('closes with requests in progress and waiting: their clients see the connection end', async () => {
    const latency = new HeldLatency()
    const s = await startTranslationService({ latencyMs: 10, maxConcurrent: 1, delay: latency.delay })
    const pending = [post(s, { items: [{ text: 'a', to: 'fr' }] }), post(s, { items: [{ text: 'b', to: 'fr' }] })]
    await eventually(() => latency.held.length === 1 && s.stats.waiting === 1, 'one request served and one waiting')
    await s.close()
    for (const p of pending) await expect(p).rejects.toThrow()
    await eventually(() => s.stats.active === 0 && s.stats.waiting === 0, 'both requests to let go')
    expect(s.stats).toMatchObject({ requests: 0, abandoned: 0, active: 0, waiting: 0 })
    await expect(fetch(`${s.url}/translate`, { method: 'POST', body: '{}' })).rejects.toThrow()
  })
})

/** `sluice run examples/translate/job.ts` with these flags and environment. */
function runJob(args: readonly string[], env: Record<string, string> = {}): { code: number; stdout: string[]; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'examples/translate/job.ts', '--no-server', ...args], {
    cwd: root, encoding: 'utf8', timeout: PROCESS_DEADLINE_MS, env: { ...process.env, ...env },
  })
  return { code: r.status ?? -1, stdout: r.stdout.split('\n').filter((l) => l.length > 0), stderr: r.stderr }
}

/** The job's output for `records` texts, counted here: texts per language and 10-second window. */
function expectedCounts(records: number, windowMs = 10_000): string[] {
  const counts = new Map<string, { language: string; windowStart: string; texts: number }>()
  for (let n = 0; n < records; n++) {
    const t: Text = textAt(n)
    const windowStart = new Date(t.ts - (t.ts % windowMs)).toISOString()
    const key = `${t.to} ${windowStart}`
    const c = counts.get(key) ?? { language: t.to, windowStart, texts: 0 }
    c.texts++
    counts.set(key, c)
  }
  return [...counts.values()].map((c) => JSON.stringify(c)).sort()
}

/** The service's own account, printed when the process exits. */
function served(stderr: string): { texts: number; requests: number } {
  const m = /translation service: (\d+) texts translated in (\d+) requests/.exec(stderr)
  if (m === null) throw new Error(`no service report in:\n${stderr}`)
  return { texts: Number(m[1]), requests: Number(m[2]) }
}

const RECORDS = 5000

describe('examples/translate/job.ts', { timeout: TEST_DEADLINE_MS }, () => {
  it('counts the texts of each language in each window exactly, from calls of batched texts', () => {
    const expected = expectedCounts(RECORDS)
    // Three languages in each of the five windows, in unequal shares.
    expect(expected.length).toBe(15)
    expect(new Set(expected.map((l) => (JSON.parse(l) as { texts: number }).texts)).size).toBeGreaterThan(3)

    const r = runJob([])
    expect(r.stderr).toMatch(new RegExp(`${RECORDS} records read`))
    expect(r.code).toBe(0)
    expect([...r.stdout].sort()).toEqual(expected)
    const s = served(r.stderr)
    // Every text was translated (a call that timed out and was retried would count its texts twice);
    // in batches: far fewer requests than texts.
    expect(s.texts).toBeGreaterThanOrEqual(RECORDS)
    expect(s.requests).toBeLessThan(RECORDS)
    expect(s.requests).toBeGreaterThanOrEqual(RECORDS / 10)
  })

  it('on worker threads: one service, started in the main thread, serves every subtask', () => {
    const r = runJob(['--parallelism', '2', '--workers', '2'], { TRANSLATE_MAX_BATCH: '25', TRANSLATE_CONCURRENCY: '8' })
    expect(r.stderr).toMatch(new RegExp(`${RECORDS} records read`))
    expect(r.code).toBe(0)
    expect([...r.stdout].sort()).toEqual(expectedCounts(RECORDS))
    expect(r.stderr.match(/translation service: http:/g)).toHaveLength(1)
    const s = served(r.stderr)
    expect(s.texts).toBeGreaterThanOrEqual(RECORDS)
    expect(s.requests).toBeLessThan(RECORDS)
  })

  it('refuses a setting that is not a number, naming it', () => {
    const r = runJob([], { TRANSLATE_CONCURRENCY: 'lots' })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/TRANSLATE_CONCURRENCY must be a whole number from 1 to 10000, got "lots"/)
    expect(r.stdout).toEqual([])
  })
})
