/**
 * The dashboard's sources panel in a real browser (Debian's chromium through playwright-core): a
 * job whose source reports partitions and connections (test/fixtures/lagging-job.ts) shows every
 * partition with its position and a growing lag, the lag trend, and the reconnecting subtask with
 * its last error, the password masked; a job without broker sources keeps the panel hidden.
 * Screenshot: test-artifacts/dashboard/sources.png. Waits only bound how long something may take.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { ARTIFACTS, launchChromium, requireChromium } from '../support/browser.ts'
import type { JobHandle } from '../../src/api/pipeline.ts'
import { JobMonitor } from '../../src/monitoring/job-monitor.ts'
import { laggingJob } from '../fixtures/lagging-job.ts'
import { startMonitoredJob, type MonitoredJob } from '../support/monitored-job.ts'

const tid = (id: string): string => `[data-testid="${id}"]`
const WAIT_MS = 30_000

let browser: Browser
let job: JobHandle
let monitor: JobMonitor
let plain: MonitoredJob
let dir: string

beforeAll(async () => {
  requireChromium()
  dir = mkdtempSync(join(tmpdir(), 'sluice-sources-'))
  const p = laggingJob('lagging')
  job = p.run()
  monitor = new JobMonitor('lagging', p, job, { intervalMs: 250, log: () => {} }).start()
  // A job without broker sources, on its own server, with the lagging job added beside it.
  plain = await startMonitoredJob('plain', dir, 500)
  plain.server.add(monitor)
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await job?.stop()
  monitor?.stop()
  await plain?.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe('sources panel', () => {
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1440, height: 1400 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(`${plain.server.url}#job=lagging`)
  })

  afterAll(async () => {
    await page?.close()
  })

  it('lists every partition with its subtask, position and a lag that grows', async () => {
    await page.locator(tid('sources-panel')).waitFor({ state: 'visible', timeout: WAIT_MS })
    const rows = page.locator(`${tid('source')}[data-source="orders"] ${tid('partition-row')}`)
    await expect.poll(() => rows.count(), { timeout: WAIT_MS }).toBe(4)
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-partition')))).toEqual(['orders/0', 'orders/2', 'orders/1', 'orders/3'])
    // Lags are positive, and the lag rate shows the growth (▲, in red) once the window has two samples.
    await expect.poll(async () => (await rows.locator(tid('partition-lag')).allTextContents()).every((t) => /^[1-9][\d.]*k?$/.test(t.trim())), { timeout: WAIT_MS }).toBe(true)
    await expect.poll(async () => (await rows.locator(tid('partition-lag-rate')).allTextContents()).some((t) => t.startsWith('▲ +')), { timeout: WAIT_MS }).toBe(true)
    for (const text of await rows.locator('td:nth-child(3)').allTextContents()) expect(text).toMatch(/^offset \d+$/)
    expect(await page.locator(`${tid('source-lag')} .v`).textContent()).toMatch(/ records$/)
    expect(await page.locator(`${tid('source-worst')} .v`).textContent()).toMatch(/^orders\/\d \(/)
  })

  it('draws the lag trend from the samples', async () => {
    await page.locator(`${tid('source-trend')} svg.lag-trend path`).waitFor({ state: 'attached', timeout: WAIT_MS })
    const d = await page.locator(`${tid('source-trend')} svg.lag-trend path`).getAttribute('d')
    expect((d ?? '').split('L').length).toBeGreaterThan(1)
  })

  it('shows each connector subtask\'s state, and the last error of the reconnecting one with its password masked', async () => {
    const rows = page.locator(tid('connection-row'))
    await expect.poll(() => rows.count(), { timeout: WAIT_MS }).toBe(2)
    expect(await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-subtask'), e.getAttribute('data-state')]))).toEqual([['0', 'connected'], ['1', 'reconnecting']])
    expect(await rows.nth(1).locator(tid('connection-error')).textContent()).toBe('connect ECONNREFUSED redis://app:***@127.0.0.1:1/orders')
    expect(await page.locator(tid('sources-down')).textContent()).toBe('1 not connected')
    expect(await page.content()).not.toContain('s3cret')
    await page.locator(tid('sources-panel')).screenshot({ path: join(ARTIFACTS, 'sources.png') })
    expect(pageErrors).toEqual([])
  })

  it('the diagnosis panel says the job falls behind `orders` and names the reconnecting reader', async () => {
    const lag = page.locator(`${tid('finding')}[data-kind="source-lag"] ${tid('finding-title')}`)
    await lag.waitFor({ timeout: WAIT_MS })
    expect(await lag.textContent()).toMatch(/^the job is falling behind orders: lag \+.* records\/s .*; its reader is reconnecting \(connect ECONNREFUSED redis:\/\/app:\*\*\*@127\.0\.0\.1:1\/orders\)$/)
    await page.locator(`${tid('finding')}[data-kind="connection"]`).waitFor({ timeout: WAIT_MS })
    expect(await page.content()).not.toContain('s3cret')
  })

  it('stays hidden for a job without broker sources or connections', async () => {
    await page.goto(`${plain.server.url}#job=plain`)
    await page.locator(tid('job-status')).filter({ hasText: 'running' }).waitFor({ timeout: WAIT_MS })
    // The view for `plain` has been rendered once the graph shows its operators.
    await page.locator('[data-testid="graph"] g.node[data-id="sum"]').waitFor({ timeout: WAIT_MS })
    expect(await page.locator(tid('sources-panel')).isHidden()).toBe(true)
    expect(pageErrors).toEqual([])
  })
})
