/**
 * The calls of an asynchronous operator in a real browser (Debian's chromium through
 * playwright-core): a job run in-process and served with `serve()`, whose `translate` calls a slow
 * service (a timer of 40 ms, 4 calls in flight; every 25th call hangs until its 300 ms timeout and
 * is skipped), then `enrich` looks the words up behind a cache. The operator detail shows the
 * calls block with numbers (and the cache hit ratio for the lookup), and the diagnosis names the
 * slow service. Screenshot: test-artifacts/dashboard/calls.png. Waits only bound how long
 * something may take.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Browser, Page } from 'playwright-core'
import { ARTIFACTS, launchChromium, requireChromium } from '../support/browser.ts'
import { Pipeline, serve, type JobServer } from '../../src/index.ts'
import { blackholeSink, generatorSource } from '../../src/connectors/index.ts'
import type { JobHandle } from '../../src/api/pipeline.ts'

const tid = (id: string): string => `[data-testid="${id}"]`
const WAIT_MS = 30_000
const CONCURRENCY = 4

/** A service answering in 40 ms, except every 25th request, which hangs until aborted. */
async function translateWord(n: number, signal: AbortSignal): Promise<string> {
  await sleep(n % 25 === 0 ? 3_600_000 : 40, undefined, { signal })
  return `word-${n}`
}

let browser: Browser
let job: JobHandle
let server: JobServer

beforeAll(async () => {
  requireChromium()
  const p = new Pipeline('calls')
  p.source('words', generatorSource((n) => n))
    .mapAsync('translate', (n, call) => translateWord(n, call.signal), { concurrency: CONCURRENCY, timeoutMs: 300, onError: 'skip' })
    // A lookup of few keys behind a cache: most lookups hit.
    .lookupJoin('enrich', (w) => w.length, async (length: number) => length * 2, { cache: { maxEntries: 100 } })
    .to('out', blackholeSink())
  job = p.run()
  server = await serve(p, job, { port: 0 })
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await job?.stop()
  await server?.close()
})

describe('an asynchronous operator on the dashboard', () => {
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1440, height: 1400 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(`${server.url}#job=calls&op=translate`)
  })

  afterAll(async () => {
    await page?.close()
  })

  it('shows the calls block of the operator with numbers', async () => {
    const block = page.locator(tid('detail-calls'))
    await block.waitFor({ state: 'visible', timeout: WAIT_MS })
    const value = (k: string): Promise<string> => page.locator(`${tid(`calls-${k}`)} .v`).textContent().then((t) => (t ?? '').trim())
    await expect.poll(() => value('calls'), { timeout: WAIT_MS }).toMatch(/^[1-9][\d.]*k?\/s$/)
    expect(await value('in-flight')).toMatch(new RegExp(`^[0-${CONCURRENCY}] of ${CONCURRENCY}$`))
    await expect.poll(() => value('full'), { timeout: WAIT_MS }).toMatch(/^(8\d|9\d|100)%$/)
    await expect.poll(() => value('latency-p50-p99'), { timeout: WAIT_MS }).toMatch(/^\d[\d.]* ms · \d[\d.]* (ms|s)$/)
    await expect.poll(() => value('timeouts'), { timeout: WAIT_MS }).toMatch(/^[1-9][\d.]*\/s$|^0\.\d+\/s$/)
    expect(await value('retries')).toBe('0/s')
    expect(await value('failures')).toMatch(/\/s$/)
    // No lookup cache: no hit ratio.
    expect(await page.locator(tid('calls-cache-hits')).count()).toBe(0)
    // The charts draw from the samples.
    await expect.poll(async () => Number(await page.locator(`${tid('chart-calls-in-flight')} ${tid('series-inFlight')}`).getAttribute('data-points')), { timeout: WAIT_MS }).toBeGreaterThan(1)
    await block.screenshot({ path: join(ARTIFACTS, 'calls.png') })
    expect(pageErrors).toEqual([])
  })

  it('shows the cache hit ratio of a lookup join', async () => {
    await page.locator(tid('node-enrich')).click()
    await expect.poll(() => page.locator(tid('detail-panel')).getAttribute('data-operator'), { timeout: WAIT_MS }).toBe('enrich')
    const hits = page.locator(`${tid('calls-cache-hits')} .v`)
    await expect.poll(async () => ((await hits.count()) > 0 ? (await hits.textContent()) ?? '' : ''), { timeout: WAIT_MS }).toMatch(/^(9\d|100)%$/)
    await page.locator(tid('node-translate')).click()
    await expect.poll(() => page.locator(tid('detail-panel')).getAttribute('data-operator'), { timeout: WAIT_MS }).toBe('translate')
    expect(pageErrors).toEqual([])
  })

  it('the diagnosis names the slow service', async () => {
    const title = page.locator(`${tid('finding')}[data-kind="slow-service"] ${tid('finding-title')}`)
    await title.waitFor({ timeout: WAIT_MS })
    expect(await title.textContent()).toMatch(new RegExp(`^translate waits on its calls: p99 \\d[\\d.]* m?s, \\d of ${CONCURRENCY} in flight, [\\d.]+ timeouts/s(, [\\d.]+ failed records/s)?: raise concurrency \\(now ${CONCURRENCY}\\) or batch size; words upstream is backpressured$`))
    const kinds = await page.locator(tid('finding')).evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')))
    for (const wrong of ['bottleneck', 'source-bound', 'io-bound']) expect(kinds).not.toContain(wrong)
    expect(pageErrors).toEqual([])
  })

  it('sluice\'s /metrics has the operator\'s call series', async () => {
    const text = await (await fetch(new URL('metrics', server.url))).text()
    expect(text).toMatch(/^sluice_calls_total\{job="calls",operator="translate",subtask="0"\} [1-9]\d*$/m)
    expect(text).toMatch(new RegExp(`^sluice_call_capacity\\{job="calls",operator="translate",subtask="0"\\} ${CONCURRENCY}$`, 'm'))
    expect(text).toMatch(/^sluice_call_latency_seconds_count\{job="calls",operator="translate",subtask="0"\} [1-9]\d*$/m)
    expect(text).toMatch(/^sluice_call_cache_hits_total\{job="calls",operator="enrich",subtask="0"\} [1-9]\d*$/m)
    expect(text).not.toMatch(/^sluice_call_cache_hits_total\{job="calls",operator="translate"/m)
  })
})
