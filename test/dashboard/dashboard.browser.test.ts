/**
 * The dashboard in a real browser (Debian's chromium through playwright-core) against real jobs
 * started with the CLI: Nexmark q5 (unbounded) and a wide job (102 operators × 4 subtasks).
 * Screenshots go to test-artifacts/dashboard/. No assertion on wall-clock time: waits only bound
 * how long to wait for something that must happen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { ARTIFACTS, launchChromium, requireChromium } from '../support/browser.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface GraphNode { id: string; label: string; kind: string; parallelism: number; task: number }
interface GraphEdge { from: string; to: string; partitioning: string; chained: boolean; recordsPerSecond: number }
interface JobView {
  id: string; name: string; status: string
  graph: { nodes: GraphNode[]; edges: GraphEdge[] }
  operators: { id: string; parallelism: number; hotKeys: unknown[] | null; hotKeysSampled?: number | null; subtasks: unknown[] }[]
}
interface Finding { kind: string; severity: string; title: string; evidence: Record<string, unknown> }

// ---------- the CLI as a child process ----------

interface Cli { child: ChildProcess; url: string; stderr: () => string }
const children = new Set<ChildProcess>()
process.once('exit', () => { for (const c of children) c.kill('SIGKILL') })

/** Starts `node bin/sluice.js ...args` and resolves with the dashboard URL it prints on stderr. */
function startCli(args: string[]): Promise<Cli> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/sluice.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let err = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Dashboard: <url>" line on stderr within 45 s from sluice ${args.join(' ')}; stderr:\n${err}`)), 45_000)
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (d: string) => {
      err += d
      const m = /Dashboard: (http:\/\/\S+\/)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve({ child, url: m[1], stderr: () => err })
      }
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`sluice ${args.join(' ')} exited (${code ?? signal}) before printing the dashboard URL; stderr:\n${err}`))
    })
  })
}

/** SIGTERM (the CLI stops the job and its server), SIGKILL if it lingers. */
async function stopCli(cli: Cli | undefined): Promise<void> {
  if (!cli || cli.child.exitCode !== null || cli.child.signalCode !== null) return
  const exited = new Promise<void>((r) => cli.child.once('exit', () => r()))
  cli.child.kill('SIGTERM')
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

async function api<T>(base: string, path: string): Promise<T> {
  const res = await fetch(new URL(`api/v1/${path}`, base))
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

// ---------- page helpers ----------

const tid = (id: string): string => `[data-testid="${id}"]`
const NODES = '[data-testid="graph"] g.node'

async function nodeIds(page: Page): Promise<string[]> {
  return page.locator(NODES).evaluateAll((els) => els.map((e) => e.getAttribute('data-id') ?? ''))
}

async function text(page: Page, testid: string): Promise<string> {
  return ((await page.locator(tid(testid)).textContent()) ?? '').trim()
}

/** Pairs of operator boxes that overlap on screen. */
async function overlaps(page: Page): Promise<number> {
  const boxes = await page.locator(`${NODES} rect.node-box`).evaluateAll((els) => els.map((e) => {
    const r = e.getBoundingClientRect()
    return { x: r.left, y: r.top, w: r.width, h: r.height }
  }))
  let n = 0
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]
      const b = boxes[j]
      if (a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5) n++
    }
  }
  return n
}

/** Operator boxes not wholly inside the graph's viewport (nor the window). */
async function nodesOutsideView(page: Page): Promise<string[]> {
  const vp = (await page.locator(tid('graph-viewport')).boundingBox())!
  const win = page.viewportSize()!
  const boxes = await page.locator(NODES).evaluateAll((els) => els.map((e) => {
    const r = e.querySelector('rect.node-box')!.getBoundingClientRect()
    return { id: e.getAttribute('data-id') ?? '', x: r.left, y: r.top, w: r.width, h: r.height }
  }))
  return boxes.filter((b) => b.x < vp.x - 1 || b.x + b.w > vp.x + vp.width + 1 || b.y < vp.y - 1 || b.y + b.h > vp.y + vp.height + 1 || b.x + b.w > win.width).map((b) => b.id)
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) })
}

let browser: Browser

beforeAll(async () => {
  requireChromium()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
})

describe('dashboard on a running Nexmark q5 job', () => {
  let cli: Cli
  let page: Page
  let view: JobView
  const pageErrors: string[] = []

  beforeAll(async () => {
    cli = await startCli(['nexmark', 'run', '--query', 'q5', '--events', '0', '--rate', '200000', '--discard', '--port', '0'])
    const { jobs } = await api<{ jobs: { id: string }[] }>(cli.url, 'jobs')
    expect(jobs.length).toBeGreaterThan(0)
    view = await api<JobView>(cli.url, `jobs/${encodeURIComponent(jobs[0].id)}`)
    page = await browser.newPage({ viewport: { width: 1440, height: 960 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(cli.url)
  })

  afterAll(async () => {
    await page?.close()
    await stopCli(cli)
  })

  it('shows the job in the header and every q5 operator in the graph', async () => {
    await page.locator(NODES).first().waitFor({ timeout: 20_000 })
    await expect.poll(() => text(page, 'job-name'), { timeout: 10_000 }).toBe(view.name)
    await expect.poll(() => text(page, 'job-status'), { timeout: 10_000 }).toBe('running')
    expect(await page.locator(tid('job-status')).getAttribute('data-status')).toBe('running')
    expect(await text(page, 'job-uptime')).toMatch(/^\d+(s|m \d\ds)/)
    expect(await text(page, 'job-throughput')).toMatch(/\/s$/)
    // The picker names a job by its id and, when it differs, its name ("q5 · nexmark-q5 (running)").
    expect(view.name).not.toBe(view.id)
    expect(await text(page, 'job-select')).toBe(`${view.id} · ${view.name} (running)`)

    // The graph's operators are exactly the API's, each coloured by a known state.
    const apiIds = view.graph.nodes.map((n) => n.id)
    expect(apiIds).toEqual(expect.arrayContaining(['nexmark', 'q5-auction', 'q5-count', 'q5', 'results']))
    expect((await nodeIds(page)).sort()).toEqual([...apiIds].sort())
    for (const id of apiIds) {
      const node = page.locator(tid(`node-${id}`))
      await expect.poll(() => node.getAttribute('data-state'), { timeout: 10_000 }).toMatch(/^(busy|waiting|backpressured|idle)$/)
      expect(await node.textContent()).toContain(id)
    }
    // Edges: one path per API edge; exchanges labelled with their partitioning, chained ones dashed.
    const edges = page.locator('[data-testid="graph"] path.edge')
    expect(await edges.count()).toBe(view.graph.edges.length)
    for (const e of view.graph.edges) {
      const path = page.locator(tid(`edge-${e.from}-${e.to}`))
      expect(await path.getAttribute('class')).toContain(e.chained ? 'chained' : 'exchange')
      const label = await text(page, `edge-label-${e.from}-${e.to}`)
      expect(label).toMatch(/\/s$/)
      if (e.partitioning !== 'forward') expect(label).toContain(e.partitioning)
    }
    expect(view.graph.edges.some((e) => e.partitioning === 'hash')).toBe(true)
    await shot(page, 'q5-overview')
  })

  it('updates every second without reloading', async () => {
    await page.evaluate(() => { (globalThis as unknown as { sluiceMarker: number }).sluiceMarker = 42 })
    const before = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document
      return { tput: d.querySelector('[data-testid="job-throughput"]')?.textContent, rates: Array.from(d.querySelectorAll('[data-testid="graph"] g.node'), (n) => n.getAttribute('data-rate')).join('|') }
    })
    // Throughput text or some operator's records/s must change (values arrive over SSE each second).
    await page.waitForFunction((b) => {
      const d = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null; querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document
      const tput = d.querySelector('[data-testid="job-throughput"]')?.textContent
      const rates = Array.from(d.querySelectorAll('[data-testid="graph"] g.node'), (n) => n.getAttribute('data-rate')).join('|')
      return tput !== b.tput || rates !== b.rates
    }, before, { timeout: 15_000 })
    const uptime = await text(page, 'job-uptime')
    await expect.poll(() => text(page, 'job-uptime'), { timeout: 10_000 }).not.toBe(uptime)
    expect(await page.evaluate(() => (globalThis as unknown as { sluiceMarker?: number }).sluiceMarker)).toBe(42)
    expect(await page.locator(tid('conn-status')).getAttribute('data-conn')).toBe('live')
    expect(await page.locator(tid('banner')).isHidden()).toBe(true)
  })

  it('opens an operator\'s detail panel with live charts, subtasks and hot keys', async () => {
    const op = 'q5-count'
    const apiOp = view.operators.find((o) => o.id === op)!
    await page.locator(tid(`node-${op}`)).click()
    const panel = page.locator(tid('detail-panel'))
    await panel.waitFor({ timeout: 5_000 })
    expect(await panel.getAttribute('data-operator')).toBe(op)
    expect(await text(page, 'detail-id')).toBe(op)
    expect(await page.locator(tid(`node-${op}`)).getAttribute('class')).toContain('selected')
    expect(await text(page, 'detail-state')).toMatch(/^(busy|waiting|backpressured|idle)$/)
    expect(page.url()).toContain(`op=${op}`)

    for (const c of ['throughput', 'latency', 'load', 'queue', 'watermark']) {
      await expect(page.locator(tid(`chart-${c}`)).count()).resolves.toBe(1)
    }
    // History plus live snapshots: the throughput and busy lines have points, and they grow.
    const pointsOf = async (chart: string, series: string): Promise<number> =>
      Number(await page.locator(`${tid(`chart-${chart}`)} ${tid(`series-${series}`)}`).getAttribute('data-points'))
    await expect.poll(() => pointsOf('throughput', 'in'), { timeout: 10_000 }).toBeGreaterThan(1)
    await expect.poll(() => pointsOf('load', 'busy'), { timeout: 10_000 }).toBeGreaterThan(1)
    const n = await pointsOf('throughput', 'in')
    await expect.poll(() => pointsOf('throughput', 'in'), { timeout: 10_000 }).toBeGreaterThan(n)
    const d = await page.locator(`${tid('chart-throughput')} ${tid('series-in')}`).getAttribute('d')
    expect(d).toMatch(/^M[\d.]+,[\d.]+L/)

    // KPIs carry values, one subtask row per subtask, hot keys for this keyed operator.
    expect(await text(page, 'kpi-in')).toMatch(/\/s$/)
    expect(await page.locator(`${tid('subtask-table')} tbody tr`).count()).toBe(apiOp.parallelism)
    // A keyed operator shows its hot keys, or says that none stands out (the API's list is empty).
    await expect.poll(async () => (await page.locator(`${tid('hot-keys')} tbody tr`).count()) + (await page.locator(tid('hot-keys-empty')).count()), { timeout: 10_000 }).toBeGreaterThan(0)
    const keys = (await api<JobView>(cli.url, `jobs/${encodeURIComponent(view.id)}`)).operators.find((o) => o.id === op)?.hotKeys
    expect(Array.isArray(keys)).toBe(true)
    if (await page.locator(tid('hot-keys-empty')).count() > 0) expect(await text(page, 'hot-keys-empty')).toMatch(/No key stands out|Too few samples yet/)
    // With the sample size behind them, as the API gives it.
    const sampled = (await api<JobView>(cli.url, `jobs/${encodeURIComponent(view.id)}`)).operators.find((o) => o.id === op)?.hotKeysSampled
    expect(typeof sampled).toBe('number')
    expect(await text(page, 'hot-keys-sample')).toMatch(/^from [\d,.]+[kKMG]? sampled records? \(every 64th through the keyBy\)$/)
    await shot(page, 'q5-detail')

    // Another operator replaces the panel; Escape closes it.
    await page.locator(tid('node-nexmark')).click()
    await expect.poll(() => panel.getAttribute('data-operator')).toBe('nexmark')
    await page.keyboard.press('Escape')
    await page.locator(tid('detail-panel')).waitFor({ state: 'detached', timeout: 5_000 })
    await page.locator(tid('job-overview')).waitFor({ timeout: 5_000 })
  })

  it('renders the diagnosis findings of the API', async () => {
    const panel = page.locator(tid('diagnosis-panel'))
    await panel.locator(tid('finding')).first().waitFor({ timeout: 15_000 })
    // The page polls the diagnosis every few seconds: its kinds settle to the API's.
    const pageKinds = async (): Promise<string> =>
      (await panel.locator(tid('finding')).evaluateAll((els) => els.map((e) => e.getAttribute('data-kind') ?? ''))).sort().join(',')
    await expect.poll(async () => {
      const { findings } = await api<{ findings: Finding[] }>(cli.url, `jobs/${view.id}/diagnosis`)
      return (await pageKinds()) === findings.map((f) => f.kind).sort().join(',')
    }, { timeout: 20_000, interval: 500 }).toBe(true)
    const first = panel.locator(tid('finding')).first()
    expect(await first.getAttribute('data-severity')).toMatch(/^(critical|warning|info)$/)
    expect(((await first.locator(tid('finding-title')).textContent()) ?? '').length).toBeGreaterThan(10)
    expect(await first.locator(tid('finding-recommendation')).count()).toBe(1)
    if ((await first.locator(tid('finding-evidence')).count()) > 0) {
      expect(await first.locator(`${tid('finding-evidence')} dt`).count()).toBeGreaterThan(0)
      // Labels in words with units ("thread busy" · "840 ms/s"), not the API's keys (threadBusyMsPerSecond, worker -1).
      const labels = await panel.locator(`${tid('finding-evidence')} dt`).allTextContents()
      for (const l of labels) expect(l).not.toMatch(/[a-z][A-Z]/)
      expect(await panel.locator(`${tid('finding-evidence')} dd`).allTextContents()).not.toContain('-1')
    }
    // The header's top finding: a title with a severity colour.
    const top = page.locator(tid('top-finding'))
    expect(await top.getAttribute('data-severity')).toMatch(/^(critical|warning|info)$/)
    expect(((await top.textContent()) ?? '').length).toBeGreaterThan(10)
    await panel.screenshot({ path: join(ARTIFACTS, 'q5-diagnosis.png') })
  })

  it('renders the alerts and exceptions panels from the API', async () => {
    const alerts = await api<{ objectives: unknown[]; alerts: { state: string }[] }>(cli.url, `jobs/${view.id}/alerts`)
    const exceptions = await api<{ exceptions: unknown[] }>(cli.url, `jobs/${view.id}/exceptions`)
    const firing = alerts.alerts.filter((a) => a.state === 'firing').length
    await expect.poll(() => text(page, 'alerts-count'), { timeout: 10_000 }).toBe(String(firing))
    if (alerts.alerts.length === 0) expect(await page.locator(tid('alerts-empty')).count()).toBe(1)
    await expect.poll(() => text(page, 'exceptions-count'), { timeout: 10_000 }).toBe(String(exceptions.exceptions.length))
    expect(await page.locator(`${tid('exceptions-panel')} ${tid('exception')}`).count()).toBe(exceptions.exceptions.length)
    if (exceptions.exceptions.length === 0) expect(await page.locator(tid('exceptions-empty')).count()).toBe(1)
    // This job takes no checkpoints: no checkpoint panel.
    expect(await page.locator(tid('checkpoints-panel')).isHidden()).toBe(true)
  })

  it('falls back to polling every second when the event stream fails', async () => {
    const p2 = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    try {
      const errors: string[] = []
      p2.on('pageerror', (e) => errors.push(e.message))
      await p2.route('**/events*', (route) => route.abort())
      const polls: string[] = []
      p2.on('request', (r) => { if (new URL(r.url()).pathname === `/api/v1/jobs/${view.id}`) polls.push(r.url()) })
      await p2.goto(`${cli.url}#job=${encodeURIComponent(view.id)}`)
      await p2.locator(NODES).first().waitFor({ timeout: 20_000 })
      await expect.poll(() => p2.locator(tid('conn-status')).getAttribute('data-conn'), { timeout: 15_000 }).toBe('polling')
      const before = polls.length
      const tput = await text(p2, 'job-throughput')
      await expect.poll(() => polls.length, { timeout: 10_000 }).toBeGreaterThan(before + 1)
      await expect.poll(() => text(p2, 'job-throughput'), { timeout: 10_000 }).not.toBe(tput)
      expect(await p2.locator(tid('banner')).isHidden()).toBe(true)
      expect(errors).toEqual([])
    } finally {
      await p2.close()
    }
  })

  it('opens with the whole graph in view, and fits it again when the window resizes', async () => {
    // 1100 px: the plain layout is wider than the view, but fits at a legible scale.
    const p2 = await browser.newPage({ viewport: { width: 1100, height: 800 } })
    try {
      await p2.goto(cli.url)
      await expect.poll(() => p2.locator(NODES).count(), { timeout: 20_000 }).toBe(view.graph.nodes.length)
      const graphEl = p2.locator(tid('graph'))
      expect(await graphEl.getAttribute('data-bands')).toBe('1')
      expect(await nodesOutsideView(p2)).toEqual([])
      const scaleAtOpen = Number(await graphEl.getAttribute('data-scale'))
      expect(scaleAtOpen).toBeLessThan(1)
      // Wider: refitted larger, still all in view.
      await p2.setViewportSize({ width: 1400, height: 800 })
      await expect.poll(async () => Number(await graphEl.getAttribute('data-scale')), { timeout: 5_000 }).toBeGreaterThan(scaleAtOpen)
      expect(await nodesOutsideView(p2)).toEqual([])
      // Too narrow to fit legibly: cut into rows, still all in view.
      await p2.setViewportSize({ width: 640, height: 800 })
      await expect.poll(async () => Number(await graphEl.getAttribute('data-bands')), { timeout: 5_000 }).toBeGreaterThan(1)
      expect(await nodesOutsideView(p2)).toEqual([])
      await shot(p2, 'q5-narrow')
      // Once the user zooms, a resize leaves the scale alone.
      await p2.locator(tid('zoom-in')).click()
      const zoomed = await graphEl.getAttribute('data-scale')
      await p2.setViewportSize({ width: 700, height: 800 })
      // Two frames: the resize handler refits (or not) on the next one.
      await p2.evaluate(() => new Promise((r) => {
        const raf = (globalThis as unknown as { requestAnimationFrame(f: () => void): void }).requestAnimationFrame
        raf(() => raf(() => r(null)))
      }))
      expect(await graphEl.getAttribute('data-scale')).toBe(zoomed)
    } finally {
      await p2.close()
    }
  })

  it('names an unknown #job=<id> and shows the first job instead', async () => {
    const p2 = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    try {
      await p2.goto(`${cli.url}#job=no-such-job`)
      await p2.locator(NODES).first().waitFor({ timeout: 20_000 })
      const banner = p2.locator(tid('banner'))
      expect(await banner.isVisible()).toBe(true)
      expect(await banner.textContent()).toContain('no-such-job')
      await expect.poll(() => text(p2, 'job-name'), { timeout: 10_000 }).toBe(view.name)
    } finally {
      await p2.close()
    }
  })

  it('keeps the last values and shows a retrying banner when the job stops and the server goes away', async () => {
    const name = await text(page, 'job-name')
    await stopCli(cli)
    const banner = page.locator(tid('banner'))
    await banner.waitFor({ state: 'visible', timeout: 20_000 })
    expect(await banner.textContent()).toMatch(/unreachable.*retrying/i)
    expect(await page.locator(tid('conn-status')).getAttribute('data-conn')).toBe('down')
    // Last values kept: header, status of the stopped job, the whole graph.
    expect(await text(page, 'job-name')).toBe(name)
    expect(await text(page, 'job-status')).toMatch(/^(stopped|finished)$/)
    expect((await nodeIds(page)).length).toBe(view.graph.nodes.length)
    await shot(page, 'q5-server-gone')
    expect(pageErrors).toEqual([])
  })
})

describe('dashboard on a server that requires a token', () => {
  const TOKEN = 's3cret-token'
  let cli: Cli
  const pages: Page[] = []

  beforeAll(async () => {
    cli = await startCli(['nexmark', 'run', '--query', 'q5', '--events', '0', '--rate', '200000', '--discard', '--port', '0', '--token', TOKEN])
  })

  afterAll(async () => {
    for (const p of pages) await p.close()
    await stopCli(cli)
  })

  it('serves the dashboard files without the token (a page cannot add it to its scripts and styles)', async () => {
    for (const f of ['app.js', 'graph.js', 'style.css']) {
      const res = await fetch(new URL(f, cli.url))
      expect(res.status, `GET /${f} without the token; the browser requests the dashboard's module scripts and CSS without ?token=`).toBe(200)
    }
    expect((await fetch(new URL('api/v1/jobs', cli.url))).status).toBe(401)
  })

  it('with ?token=T: loads, sends the token as a bearer header and on the event stream, and goes live', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    pages.push(page)
    const seen: { url: string; auth: string | undefined }[] = []
    const failed: string[] = []
    page.on('request', (r) => { if (r.url().includes('/api/v1/')) seen.push({ url: r.url(), auth: r.headers().authorization }) })
    page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`) })
    await page.goto(`${cli.url}?token=${TOKEN}`)
    await page.locator(NODES).first().waitFor({ timeout: 20_000 })
    await expect.poll(() => page.locator(tid('conn-status')).getAttribute('data-conn'), { timeout: 15_000 }).toBe('live')
    expect(seen.some((r) => r.url.includes('/events'))).toBe(true)
    for (const r of seen) {
      if (r.url.includes('/events')) expect(new URL(r.url).searchParams.get('token')).toBe(TOKEN)
      else expect(r.auth).toBe(`Bearer ${TOKEN}`)
    }
    expect(failed).toEqual([])
  })

  it('without the token: says that a token is needed', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
    pages.push(page)
    const res = await page.goto(cli.url)
    if (res?.status() === 401) {
      // The server may keep the page itself behind the token: its answer must then say so.
      expect(await res.text()).toMatch(/token/i)
    } else {
      const banner = page.locator(tid('banner'))
      await banner.waitFor({ state: 'visible', timeout: 15_000 })
      expect(await banner.textContent()).toMatch(/unauthorized.*token/i)
      await shot(page, 'token-missing')
    }
  })
})

describe('dashboard on a wide job: 102 operators × 4 subtasks', () => {
  let cli: Cli
  let page: Page
  let view: JobView
  const pageErrors: string[] = []

  beforeAll(async () => {
    cli = await startCli(['run', 'test/dashboard/fixtures/wide-job.ts', '--port', '0'])
    view = await api<JobView>(cli.url, 'jobs/wide')
    page = await browser.newPage({ viewport: { width: 1440, height: 960 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(`${cli.url}#job=wide`)
  })

  afterAll(async () => {
    await page?.close()
    await stopCli(cli)
  })

  it('lays the graph out without overlaps, scrolls and zooms', async () => {
    expect(view.graph.nodes.length).toBe(102)
    await expect.poll(() => page.locator(NODES).count(), { timeout: 20_000 }).toBe(102)
    // A job named as its id: the picker names it once.
    expect(view.name).toBe(view.id)
    expect(await text(page, 'job-select')).toBe('wide (running)')
    expect((await nodeIds(page)).sort()).toEqual(view.graph.nodes.map((n) => n.id).sort())
    // Every parallel operator shows its 4 subtasks.
    const cells = await page.locator(tid('node-m50')).locator('rect.st').count()
    expect(cells).toBe(4)
    // Bounded DOM: a few elements per operator, not per record or per pixel.
    const svgElements = await page.locator('[data-testid="graph"] *').count()
    expect(svgElements).toBeLessThan(102 * 25)
    const buildMs = await page.locator(tid('graph')).getAttribute('data-build-ms')
    console.log(`wide graph: ${svgElements} SVG elements, built in ${buildMs} ms (layout + SVG, in the page)`)

    // No two operator boxes overlap, in the automatic layout (a long pipeline is cut into rows)
    // and in the plain left-to-right one.
    const graphEl = page.locator(tid('graph'))
    expect(Number(await graphEl.getAttribute('data-bands'))).toBeGreaterThan(1)
    expect(await overlaps(page)).toBe(0)
    await shot(page, 'wide-start')
    await page.locator(tid('layout-wrap')).click()
    expect(await graphEl.getAttribute('data-bands')).toBe('1')
    expect(await overlaps(page)).toBe(0)
    // Nodes sit left to right by topological depth: numbers, m0, m1, ..., m99, out.
    const xs = await page.locator(`${NODES} rect.node-box`).evaluateAll((els) => els.map((e) => e.getBoundingClientRect().left))
    const ids = await nodeIds(page)
    const x = new Map(ids.map((id, i) => [id, xs[i]]))
    for (let i = 1; i < 100; i++) expect(x.get(`m${i}`)!).toBeGreaterThan(x.get(`m${i - 1}`)!)
    await page.locator(tid('layout-wrap')).click()
    expect(Number(await graphEl.getAttribute('data-bands'))).toBeGreaterThan(1)

    // Scrollable: the graph is larger than its viewport, and scrolling moves it.
    const vp = page.locator(tid('graph-viewport'))
    const dims = await vp.evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth, sh: el.scrollHeight, ch: el.clientHeight }))
    expect(dims.sh > dims.ch || dims.sw > dims.cw).toBe(true)
    await vp.evaluate((el) => { el.scrollTop = 400; el.scrollLeft = 400 })
    expect(await vp.evaluate((el) => el.scrollTop + el.scrollLeft)).toBeGreaterThan(0)

    // Zoom: fit shrinks the whole graph into the viewport; + zooms back in.
    const scale0 = Number(await graphEl.getAttribute('data-scale'))
    await page.locator(tid('zoom-fit')).click()
    const scaleFit = Number(await graphEl.getAttribute('data-scale'))
    expect(scaleFit).toBeLessThan(scale0)
    const fitDims = await vp.evaluate((el) => ({ sw: el.scrollWidth, cw: el.clientWidth, sh: el.scrollHeight, ch: el.clientHeight }))
    expect(fitDims.sw).toBeLessThanOrEqual(fitDims.cw + 1)
    expect(fitDims.sh).toBeLessThanOrEqual(fitDims.ch + 1)
    await shot(page, 'wide-fit')
    await page.locator(tid('zoom-in')).click()
    expect(Number(await graphEl.getAttribute('data-scale'))).toBeGreaterThan(scaleFit)
    await page.locator(tid('zoom-reset')).click()
    expect(Number(await graphEl.getAttribute('data-scale'))).toBe(1)

    // Finding an operator scrolls it into view and opens it.
    await page.locator(tid('graph-find')).fill('m99')
    await page.locator(tid('graph-find')).press('Enter')
    await expect.poll(() => page.locator(tid('detail-panel')).getAttribute('data-operator'), { timeout: 5_000 }).toBe('m99')
    const vpBox = (await vp.boundingBox())!
    const nodeBox = (await page.locator(`${tid('node-m99')} rect.node-box`).boundingBox())!
    expect(nodeBox.x).toBeGreaterThanOrEqual(vpBox.x - 1)
    expect(nodeBox.x + nodeBox.width).toBeLessThanOrEqual(vpBox.x + vpBox.width + 1)
    expect(nodeBox.y).toBeGreaterThanOrEqual(vpBox.y - 1)
    expect(nodeBox.y + nodeBox.height).toBeLessThanOrEqual(vpBox.y + vpBox.height + 1)
    expect(await page.locator(`${tid('subtask-table')} tbody tr`).count()).toBe(4)
    await expect.poll(async () => Number(await page.locator(`${tid('chart-throughput')} ${tid('series-in')}`).getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(0)
    await shot(page, 'wide-m99')
    expect(pageErrors).toEqual([])
  })
})

describe('dashboard on a job with checkpoints that resumed from one', () => {
  interface CheckpointRecord { id: number; kind: string; status: string; triggeredAt: number; durationMs: number; sizeBytes: number | null; failure: string | null }
  interface Checkpoints { completed: number; failed: number; restarts: number; restoredFrom: number | null; restore: { checkpointId: number } | null; history: CheckpointRecord[] }
  let dir: string
  let cli: Cli
  let page: Page
  let restoredFrom: number
  const pageErrors: string[] = []
  const args = (): string[] => ['nexmark', 'run', '--query', 'q5', '--events', '0', '--rate', '200000', '--discard', '--port', '0', '--checkpoint-dir', dir, '--checkpoint-interval', '200ms']

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-chk-'))
    // A first run takes checkpoints and is stopped (a stopped job keeps them)...
    const first = await startCli(args())
    try {
      const end = performance.now() + 30_000
      while ((await api<Checkpoints>(first.url, 'jobs/q5/checkpoints')).completed === 0) {
        if (performance.now() > end) throw new Error(`no completed checkpoint within 30 s; stderr:\n${first.stderr()}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    } finally {
      await stopCli(first)
    }
    // ... and the same command resumes from the newest.
    cli = await startCli(args())
    expect(cli.stderr()).toMatch(/resuming from checkpoint \d+/)
    restoredFrom = Number(/resuming from checkpoint (\d+)/.exec(cli.stderr())?.[1])
    page = await browser.newPage({ viewport: { width: 1440, height: 1200 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(`${cli.url}#job=q5`)
  }, 90_000)

  afterAll(async () => {
    await page?.close()
    await stopCli(cli)
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('shows the checkpoints panel: summary, duration and size bars, and a history of completed checkpoints', async () => {
    const panel = page.locator(tid('checkpoints-panel'))
    await panel.waitFor({ state: 'visible', timeout: 20_000 })
    const rows = panel.locator(`${tid('checkpoint-history')} ${tid('checkpoint-row')}`)
    await expect.poll(() => panel.locator(`${tid('checkpoint-row')}[data-status="completed"]`).count(), { timeout: 20_000 }).toBeGreaterThan(0)

    // The table is the API's history, newest first.
    const fromApi = await api<Checkpoints>(cli.url, 'jobs/q5/checkpoints')
    expect(fromApi.restoredFrom).toBe(restoredFrom)
    expect(fromApi.history.length).toBeGreaterThan(0)
    // One snapshot of the table (it is re-rendered as checkpoints complete).
    const table = await rows.evaluateAll((els) => els.map((e) => ({
      id: Number(e.getAttribute('data-id')),
      status: e.getAttribute('data-status'),
      className: e.getAttribute('class') ?? '',
      cells: Array.from((e as unknown as { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> }).querySelectorAll('td'), (td) => (td.textContent ?? '').trim()),
    })))
    const ids = table.map((r) => r.id)
    expect(ids.length).toBeGreaterThan(0)
    expect(ids).toEqual([...ids].sort((a, b) => b - a))
    // Checkpoint ids continue after the one the run resumed from.
    expect(Math.min(...ids)).toBeGreaterThan(restoredFrom)
    for (const r of table) {
      expect(r.cells[0]).toBe(`#${r.id}`)
      expect(r.cells[1]).toBe('checkpoint')
      expect(r.cells[2]).toBe(r.status)
      expect(r.cells[4]).toMatch(/^[\d.]+ (ms|s|min)$/)   // duration
      if (r.status === 'completed') {
        expect(r.cells[5]).toMatch(/^[\d.]+ (B|KiB|MiB|GiB)$/)  // size
        expect(r.cells[10]).toBe('')
      } else {
        // Failed ones are highlighted and say why.
        expect(r.className).toContain('failed')
        expect(r.cells[10].length).toBeGreaterThan(0)
      }
    }
    expect(table.some((r) => r.status === 'completed')).toBe(true)

    // Summary: counts from the job view, the last checkpoint's figures, where the run came from.
    expect(Number(await text(page, 'checkpoints-count'))).toBeGreaterThan(0)
    expect(Number((await page.locator(`${tid('ckpt-completed')} .v`).textContent())?.replace(/\D/g, ''))).toBeGreaterThan(0)
    expect(await page.locator(`${tid('ckpt-failed')} .v`).textContent()).toMatch(/^\d+$/)
    expect(await page.locator(`${tid('ckpt-restarts')} .v`).textContent()).toBe('0')
    expect(await page.locator(`${tid('ckpt-duration')} .v`).textContent()).toMatch(/^[\d.]+ (ms|s)$/)
    expect(await page.locator(`${tid('ckpt-size')} .v`).textContent()).toMatch(/^[\d.]+ (B|KiB|MiB|GiB)$/)
    for (const k of ['alignment', 'start-delay', 'sync']) expect(await page.locator(`${tid(`ckpt-${k}`)} .v`).textContent()).toMatch(/^[\d.]+ (ms|s)$/)
    expect(await page.locator(`${tid('ckpt-restored')} .v`).textContent()).toContain(`checkpoint ${restoredFrom}`)

    // One bar per checkpoint that has a value (every completed one has a duration and a size).
    const bars = async (chart: string): Promise<number> => Number(await page.locator(tid(chart)).getAttribute('data-bars'))
    expect(await bars('checkpoint-chart-duration')).toBeGreaterThan(0)
    expect(await bars('checkpoint-chart-size')).toBeGreaterThan(0)
    expect(await page.locator(`${tid('checkpoint-chart-duration')} rect.bar`).count()).toBe(await bars('checkpoint-chart-duration'))
    await panel.screenshot({ path: join(ARTIFACTS, 'checkpoints-panel.png') })
  })

  it('lists the restore in the exceptions panel with its kind, and the new rows arrive without a reload', async () => {
    const restore = page.locator(`${tid('exceptions-panel')} ${tid('exception')}[data-kind="restore"]`)
    await restore.first().waitFor({ timeout: 15_000 })
    expect(await restore.count()).toBe(1)
    expect(await restore.locator(tid('exception-kind')).textContent()).toBe('restore')
    expect(await restore.textContent()).toContain(`restored from checkpoint ${restoredFrom} (taken `)
    // A restore is an event, not trouble: the badge counts it but is not red.
    expect(await text(page, 'exceptions-count')).toBe('1')
    expect(await page.locator(tid('exceptions-count')).getAttribute('class')).not.toContain('hot')

    // The history grows as the job keeps checkpointing.
    const newest = async (): Promise<number> => Number(await page.locator(tid('checkpoint-row')).first().getAttribute('data-id'))
    const before = await newest()
    await expect.poll(newest, { timeout: 20_000 }).toBeGreaterThan(before)
    await page.locator(tid('exceptions-panel')).screenshot({ path: join(ARTIFACTS, 'checkpoints-restore-event.png') })
    expect(pageErrors).toEqual([])
  })
})
