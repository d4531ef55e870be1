/**
 * Cross-site requests in a real browser (Debian's chromium through playwright-core): a page of
 * another origin that POSTs to the monitoring server (no-cors fetch, a CORS fetch with the CSRF
 * header, a form into an iframe) neither stops the job nor writes a savepoint, and cannot read the
 * CSRF value; the dashboard the server serves still reads its job and can POST with it. Waits are
 * for events (the page's requests answered), never for a fixed time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { launchChromium, requireChromium } from '../support/browser.ts'
import type { JobHandle } from '../../src/api/pipeline.ts'
import type { MonitoringServer } from '../../src/server/server.ts'
import { startMonitoredJob, type MonitoredJob } from '../support/monitored-job.ts'


let browser: Browser
let dir: string
let job: JobHandle
let started: MonitoredJob | undefined
let server: MonitoringServer
let attacker: Server
let attackerPort: number

/** The attacker's page: every way a page can send a POST to `target` without reading its answer first. */
function attackPage(target: string, pwned: string): string {
  const url = `${target}api/v1/jobs/victim/savepoints?stop=true&dir=${encodeURIComponent(pwned)}`
  return `<!doctype html><meta charset="utf-8"><title>innocent</title>
<iframe name="sink"></iframe>
<form id="f" method="POST" target="sink" action="${url}"></form>
<script>
window.results = (async () => {
  const out = {}
  // The request the reviewer sent: opaque answer, but the request goes out.
  try { await fetch(${JSON.stringify(url)}, { method: 'POST', mode: 'no-cors' }); out.noCors = 'answered' } catch (e) { out.noCors = 'error' }
  // Reading the CSRF value cross-origin: no CORS header, so the read fails.
  try { const r = await fetch(${JSON.stringify(`${target}api/v1/csrf`)}); out.csrfRead = await r.text() } catch (e) { out.csrfRead = 'blocked' }
  // A custom header needs a preflight, which the server refuses.
  try { await fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'X-Sluice-CSRF': 'guess' } }); out.withHeader = 'sent' } catch (e) { out.withHeader = 'blocked' }
  // A plain form post into a frame; the frame's load event says the answer came.
  await new Promise((resolve) => { document.querySelector('iframe').addEventListener('load', resolve, { once: true }); document.getElementById('f').submit() })
  out.form = 'answered'
  return out
})()
</script>`
}

beforeAll(async () => {
  requireChromium()
  dir = mkdtempSync(join(tmpdir(), 'sluice-cross-site-'))
  started = await startMonitoredJob('victim', dir, 10_000)
  ;({ job, server } = started)
  attacker = createServer((req, res) => {
    // /?target=<the sluice server's URL>
    const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? ''
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    res.end(attackPage(target, join(dir, 'pwned')))
  })
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()))
  attackerPort = (attacker.address() as { port: number }).port
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await started?.close()
  await new Promise<void>((r) => (attacker === undefined ? r() : attacker.close(() => r())))
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

const savepointsTaken = (): number => (job.checkpoints()?.history ?? []).filter((r) => r.kind === 'savepoint').length

describe('a page of another origin', () => {
  // Same site, another port (Sec-Fetch-Site: same-site), and another site altogether.
  for (const [what, pageHost] of [['127.0.0.1 on another port', '127.0.0.1'], ['another site (localhost)', 'localhost']] as const) {
    it(`cannot stop the job or write a savepoint: ${what}`, async () => {
      const page = await browser.newPage()
      try {
        const serverUrl = `http://127.0.0.1:${server.port}/`
        await page.goto(`http://${pageHost}:${attackerPort}/?target=${encodeURIComponent(serverUrl)}`)
        const results = await page.evaluate(() => (globalThis as unknown as { results: Promise<Record<string, string>> }).results)
        // Every request went out and was answered (or blocked by the browser) before these checks.
        expect(results).toEqual({ noCors: 'answered', csrfRead: 'blocked', withHeader: 'blocked', form: 'answered' })
        expect(job.status()).toBe('running')
        expect(savepointsTaken()).toBe(0)
        expect(existsSync(join(dir, 'pwned'))).toBe(false)
        expect(existsSync(join(dir, 'chk', 'savepoints')) ? readdirSync(join(dir, 'chk', 'savepoints')) : []).toEqual([])
      } finally {
        await page.close()
      }
    })
  }
})

describe('the dashboard the server serves (same origin)', () => {
  it('shows the job, and can POST a savepoint with the CSRF value it reads', async () => {
    const page = await browser.newPage()
    try {
      await page.goto(server.url)
      await expect.poll(async () => ((await page.locator('[data-testid="job-status"]').textContent()) ?? '').trim(), { timeout: 20_000 }).toBe('running')
      // The dashboard's own client (api.js), as a button would use it; a string, so that no
      // transform of this file rewrites the import.
      const answer = (await page.evaluate("import('./api.js').then((api) => api.postJson('jobs/victim/savepoints?dir=from-dashboard'))")) as { path: string; stopped: boolean }
      expect(answer.stopped).toBe(false)
      expect(answer.path).toContain(join(dir, 'chk', 'savepoints', 'from-dashboard', 'savepoint-'))
      expect(existsSync(answer.path)).toBe(true)
      expect(job.status()).toBe('running')
    } finally {
      await page.close()
    }
  })
})
