/**
 * The example jobs of examples/ (the three a new user wrote in issue 13), run as a user runs them:
 * `sluice run examples/NAME/job.ts` from the repository root. Each test computes the expected
 * output on its own, in plain TypeScript over the same input file, and compares it with what the
 * job printed (in any order: parallel keys fire windows and join matches in no fixed order).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = new URL('..', import.meta.url).pathname

/** Each `sluice` start-up transpiles TypeScript: generous for a loaded machine (see cli.test.ts). */
const PROCESS_DEADLINE_MS = 180_000
const TEST_DEADLINE_MS = 300_000

function runExample(job: string, input?: string): { code: number; stdout: string[]; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'run', job, '--no-server'], { cwd: root, encoding: 'utf8', timeout: PROCESS_DEADLINE_MS, input })
  return { code: r.status ?? -1, stdout: r.stdout.split('\n').filter((l) => l.length > 0), stderr: r.stderr }
}

const read = (path: string): string => readFileSync(join(root, path), 'utf8')
const jsonLines = <T>(path: string): T[] => read(path).split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as T)
/** Rows of a header-first CSV file without quoted fields, as objects of strings. */
function csvRows(path: string): Record<string, string>[] {
  const [header, ...rows] = read(path).split('\n').filter((l) => l.length > 0).map((l) => l.split(','))
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])))
}
/** Flat records as JSON with their keys in order, sorted: equal when the same records were printed. */
const sortedJson = (rows: readonly object[]): string[] => rows.map((r) => JSON.stringify(r, Object.keys(r).sort())).sort()
const iso = (ms: number): string => new Date(ms).toISOString()

describe('examples/', { timeout: TEST_DEADLINE_MS }, () => {
  it('sessionize: one line per run of a user\'s views less than 30 minutes apart', () => {
    const gapMs = 30 * 60_000
    const views = csvRows('examples/sessionize/views.csv').map((r) => ({ user: r.user, url: r.url, ts: Number(r.ts) }))
    const expected: object[] = []
    for (const user of new Set(views.map((v) => v.user))) {
      const mine = views.filter((v) => v.user === user).sort((a, b) => a.ts - b.ts)
      let session = [mine[0]]
      const close = (): void => {
        expected.push({ user, start: iso(session[0].ts), lastView: iso(session[session.length - 1].ts), views: session.length, pages: new Set(session.map((v) => v.url)).size })
      }
      for (const v of mine.slice(1)) {
        if (v.ts - session[session.length - 1].ts < gapMs) session.push(v)
        else {
          close()
          session = [v]
        }
      }
      close()
    }
    // The input has sessions to split and to keep whole, for more than one user.
    expect(expected.length).toBeGreaterThan(4)

    const r = runExample('examples/sessionize/job.ts')
    expect(r.stderr).toMatch(new RegExp(`${views.length} records read`))
    expect(r.code).toBe(0)
    expect(sortedJson(r.stdout.map((l) => JSON.parse(l) as object))).toEqual(sortedJson(expected))
  })

  it('latency-alerts: an alert per service and minute whose p99 is over 500 ms or whose max is over 1000 ms', () => {
    const requests = jsonLines<{ service: string; ts: number; latencyMs: number }>('examples/latency-alerts/requests.jsonl')
    const minutes = new Map<string, { service: string; start: number; latencies: number[] }>()
    for (const q of requests) {
      const start = q.ts - (q.ts % 60_000)
      const k = `${q.service}@${start}`
      const m = minutes.get(k) ?? { service: q.service, start, latencies: [] }
      m.latencies.push(q.latencyMs)
      minutes.set(k, m)
    }
    const expected: string[] = []
    for (const { service, start, latencies } of minutes.values()) {
      const sorted = [...latencies].sort((a, b) => a - b)
      // Nearest rank: the smallest latency with at least 99 % of the minute's requests at or below it.
      const p99 = sorted.find((_, i) => (i + 1) / sorted.length >= 0.99) as number
      const max = sorted[sorted.length - 1]
      if (p99 > 500 || max > 1000) expected.push(`ALERT ${service} ${iso(start)}..${iso(start + 60_000)} p99=${p99}ms max=${max}ms over ${sorted.length} requests`)
    }
    // One minute alerts on its p99, another on its max alone; the others stay quiet.
    expect(expected.length).toBe(2)
    expect(minutes.size).toBeGreaterThan(expected.length)

    const r = runExample('examples/latency-alerts/job.ts', read('examples/latency-alerts/requests.jsonl'))
    expect(r.stderr).toMatch(new RegExp(`${requests.length} records read`))
    expect(r.code).toBe(0)
    expect([...r.stdout].sort()).toEqual(expected.sort())
  })

  it('enrichment: each order with a known customer, joined with that customer\'s record', () => {
    const customers = jsonLines<{ id: string; name: string; tier: string; country: string }>('examples/enrichment/customers.jsonl')
    const orders = csvRows('examples/enrichment/orders.csv')
    const expected: object[] = []
    for (const o of orders) {
      const c = customers.find((x) => x.id === o.customerId)
      if (c !== undefined) expected.push({ orderId: o.orderId, amount: Number(o.amount), customer: c.name, tier: c.tier, country: c.country })
    }
    // Some order has no customer (an inner join drops it).
    expect(expected.length).toBeLessThan(orders.length)

    const r = runExample('examples/enrichment/job.ts')
    expect(r.stderr).toMatch(new RegExp(`${orders.length + customers.length} records read`))
    expect(r.code).toBe(0)
    expect(sortedJson(r.stdout.map((l) => JSON.parse(l) as object))).toEqual(sortedJson(expected))
  })
})
