/**
 * `sluice top` and `sluice doctor`: their rendering as pure functions of hand-made API values, and
 * both commands as real processes against a real running job's monitoring server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fitWidth, stripAnsi, visibleLength } from '../src/cli/ansi.ts'
import { doctorExitCode, renderDiagnosis } from '../src/cli/doctor.ts'
import { parseServerUrl } from '../src/cli/monitor-client.ts'
import { durationMs, renderNotice, renderTop, uptime } from '../src/cli/top-frame.ts'
import type { Finding, JobView, OperatorView } from '../src/monitoring/types.ts'

const root = new URL('..', import.meta.url).pathname

function operator(o: Partial<OperatorView> & { id: string }): OperatorView {
  return {
    label: 'map', kind: 'operator', parallelism: 1, task: 0, state: 'idle', hotKeys: null, subtasks: [],
    recordsIn: 0, recordsOut: 0, recordsInPerSecond: 0, recordsOutPerSecond: 0, bytesInPerSecond: 0, bytesOutPerSecond: 0,
    busyMsPerSecond: 0, waitingMsPerSecond: 0, backpressuredMsPerSecond: 0, idleMsPerSecond: 1000, busyMs: 0, waitingMs: 0, backpressuredMs: 0, idleMs: 0, inputQueueUsage: null, outputQueueUsage: null,
    watermark: null, watermarkLagMs: null, lateRecords: 0, skippedRecords: 0, deadLetteredRecords: 0, errors: 0,
    stateEntries: 0, stateBytes: 0, pendingTimers: 0, latency: null,
    ...o,
  }
}

const pct = (p99: number): JobView['latency'] => ({ p50: p99 / 2, p90: p99 / 1.5, p99, max: p99, count: 100 })

const bottleneck: Finding = {
  kind: 'bottleneck', severity: 'warning', operator: 'enrich',
  title: '`enrich` is the bottleneck: busy 980 ms/s while `parse` upstream is backpressured',
  evidence: { busyMsPerSecond: 980, upstream: 'parse', upstreamBackpressuredMsPerSecond: 720 },
  recommendation: 'raise parallelism of `enrich` from 4 to 6',
  action: { kind: 'set-parallelism', operator: 'enrich', parallelism: 6 },
}
const healthy: Finding = {
  kind: 'healthy', severity: 'info', operator: null, title: 'the job is healthy', evidence: { recordsPerSecond: 12000 },
  recommendation: 'nothing to change', action: null,
}

function jobView(o: Partial<JobView> = {}): JobView {
  const operators = [
    operator({ id: 'clicks', kind: 'source', label: 'source(file)', recordsOutPerSecond: 12_000, busyMsPerSecond: 200, backpressuredMsPerSecond: 720, idleMsPerSecond: 80, watermarkLagMs: 1500 }),
    operator({ id: 'enrich', parallelism: 4, recordsInPerSecond: 12_000, recordsOutPerSecond: 11_500, busyMsPerSecond: 980, backpressuredMsPerSecond: 0, idleMsPerSecond: 20, latency: pct(42), watermarkLagMs: 1600, stateEntries: 120_000 }),
    operator({ id: 'out', kind: 'sink', label: 'sink(file)', recordsInPerSecond: 11_500, busyMsPerSecond: 50, idleMsPerSecond: 950, latency: pct(43.4), watermarkLagMs: 1600 }),
  ]
  return {
    t: 1_767_225_665_400, checkpoints: null, id: 'clickstream', name: 'clickstream', status: 'running', startedAt: 1_767_225_600_000, uptimeMs: 65_400,
    parallelism: 4, workerCount: 2, recordsPerSecond: 12_000, latency: pct(43.4), topFinding: bottleneck,
    graph: { nodes: operators.map((x) => ({ id: x.id, label: x.label, kind: x.kind, parallelism: x.parallelism, task: x.task })), edges: [] },
    operators, workers: [], alerts: [], sources: [], connections: [],
    ...o,
  }
}

/** A table row's cells (the bar has no spaces). */
const cells = (lines: string[], id: string): string[] => (lines.find((l) => l.startsWith(`${id} `)) ?? '').trim().split(/\s+/)

describe('renderTop', () => {
  it('has a header with the job, status, uptime, throughput and end-to-end p99', () => {
    const [head] = renderTop(jobView({ name: 'clicks-per-user' }), { width: 120, color: false })
    expect(head).toBe('clicks-per-user (clickstream)  running  up 1m 05s  12K records/s  p99 43ms  2 workers')
  })

  it('shows a checkpoint line under the header for a job with checkpoints', () => {
    const checkpoints: JobView['checkpoints'] = {
      intervalMs: 1000, timeoutMs: 600_000, completed: 12, failed: 1, lastId: 12, lastFailure: null,
      lastDurationMs: 102.4, lastSizeBytes: 230_000, lastAlignmentMs: 0, lastStartDelayMs: 4, lastSyncMs: 6,
      restarts: 1, restoredFrom: 9, restore: { time: 1, checkpointId: 9, savepoint: null, takenAt: 0, loadMs: 3, sizeBytes: 200_000 },
    }
    const lines = renderTop(jobView({ checkpoints }), { width: 120, color: false })
    expect(lines[1]).toBe('checkpoints  12 done  1 failed  1 restart  last 102ms 230KB  sync 6.0ms  start delay 4.0ms  resumed from 9')
    expect(renderTop(jobView(), { width: 120, color: false })[1]).toBe('')
  })

  it('shows one row per operator, in graph order, with every column', () => {
    const lines = renderTop(jobView(), { width: 120, color: false })
    const titleRow = lines.find((l) => l.startsWith('OPERATOR')) as string
    expect(titleRow.split(/\s{1,}/).filter((t) => t !== '')).toEqual(['OPERATOR', 'P', 'IN/s', 'OUT/s', 'BUSY', 'WAIT', 'BACKP', 'IDLE', 'LOAD', 'P99', 'WM', 'LAG', 'STATE'])
    expect(lines.filter((l) => /^(clicks|enrich|out) /.test(l)).map((l) => l.split(' ')[0])).toEqual(['clicks', 'enrich', 'out'])
    expect(cells(lines, 'enrich')).toEqual(['enrich', '4', '12K', '12K', '980', '0', '0', '20', '██████████', '42ms', '1.6s', '120K'])
    // A source has no input, a sink no output; unknown latency is "-", never 0.
    expect(cells(lines, 'clicks')).toEqual(['clicks', '1', '-', '12K', '200', '0', '720', '80', '██▒▒▒▒▒▒▒·', '-', '1.5s', '0'])
    expect(cells(lines, 'out')).toEqual(['out', '1', '12K', '-', '50', '0', '0', '950', '█·········', '43ms', '1.6s', '0'])
    const waiting = renderTop(jobView({ operators: [operator({ id: 'db', kind: 'sink', busyMsPerSecond: 20, waitingMsPerSecond: 960, idleMsPerSecond: 20 })] }), { width: 120, color: false })
    expect(cells(waiting, 'db').slice(4, 9)).toEqual(['20', '960', '0', '20', '░░░░░░░░░░'])
    // Columns line up: every row is as wide as the title row.
    for (const id of ['clicks', 'enrich', 'out']) expect(visibleLength(lines.find((l) => l.startsWith(`${id} `)) as string)).toBe(titleRow.length)
  })

  it('puts the top finding below the table: severity, title, recommendation', () => {
    const lines = renderTop(jobView(), { width: 120, color: false })
    const at = lines.findIndex((l) => l.startsWith('WARNING  '))
    expect(at).toBeGreaterThan(lines.findIndex((l) => l.startsWith('out ')))
    expect(lines[at]).toBe('WARNING  `enrich` is the bottleneck: busy 980 ms/s while `parse` upstream is backpressured')
    expect(lines[at + 1]).toBe('         → raise parallelism of `enrich` from 4 to 6')
    expect(renderTop(jobView({ topFinding: healthy }), { width: 120, color: false })).toContain('HEALTHY  the job is healthy')
    expect(renderTop(jobView({ topFinding: null }), { width: 120, color: false }).some((l) => /WARNING|HEALTHY/.test(l))).toBe(false)
  })

  it('fits the width: the id column is cut first, then the load bar goes', () => {
    const long = 'enrich-with-the-customer-profile-from-the-lookup-table'
    const v = jobView()
    v.operators[1] = { ...v.operators[1], id: long }
    const wide = renderTop(v, { width: 160, color: false })
    expect(wide.some((l) => l.startsWith(`${long} `))).toBe(true)

    const medium = renderTop(v, { width: 100, color: false })
    for (const l of medium) expect(visibleLength(l)).toBeLessThanOrEqual(100)
    const cut = medium.find((l) => l.startsWith('enrich-with')) as string
    expect(cut).toMatch(/^enrich-with\S*… +4 +12K/)
    expect(medium.find((l) => l.startsWith('OPERATOR'))).toContain('LOAD')

    for (const width of [80, 60, 40]) {
      const narrow = renderTop(v, { width, color: false })
      for (const l of narrow) expect(visibleLength(l)).toBeLessThanOrEqual(width)
      expect(narrow.find((l) => l.startsWith('OPERATOR'))).not.toContain('LOAD')
      // The finding wraps instead of being cut.
      expect(narrow.join(' ')).toContain('backpressured')
    }
  })

  it('keeps to the terminal height, saying how many operators are hidden', () => {
    const v = jobView({ operators: Array.from({ length: 30 }, (_, i) => operator({ id: `op-${i}` })) })
    const lines = renderTop(v, { width: 120, height: 15, color: false })
    expect(lines.length).toBeLessThanOrEqual(15)
    const shown = lines.filter((l) => l.startsWith('op-')).length
    expect(lines).toContain(`… ${30 - shown} more operators (a taller terminal shows them)`)
  })

  it('uses no ANSI escapes when colour is off; with colour on, the same text', () => {
    const v = jobView({ alerts: [{ objective: 'latency', state: 'firing', since: 0, value: 900, threshold: 500, message: 'p99 900 ms > 500 ms for 30 s' }] })
    const plain = renderTop(v, { width: 100, color: false })
    expect(plain.join('\n')).not.toMatch(/\x1b/)
    expect(plain[0]).toContain('1 alert firing')
    expect(plain).toContain('ALERT  latency: p99 900 ms > 500 ms for 30 s')
    const colored = renderTop(v, { width: 100, color: true })
    expect(colored.join('\n')).toMatch(/\x1b\[31m/)
    expect(colored.map(stripAnsi)).toEqual(plain)
  })

  it('shows a line per broker source (lag, its growth, the worst partition) and one per connector that lost its server', () => {
    const partition = (i: number, lag: number) => ({ partition: `orders/${i}`, subtask: i % 2, position: `offset ${i * 100}`, lag, lagPerSecond: 10 })
    const parts = [partition(0, 40_000), partition(1, 56_500), partition(2, 16_500)]
    const lines = renderTop(jobView({
      sources: [{ source: 'clicks', kind: 'kafka', lag: 113_000, lagPerSecond: 12_000, windowSeconds: 10, partitionCount: 3, worst: parts[1], partitions: parts }],
      connections: [
        { connector: 'clicks', kind: 'kafka', role: 'source', subtask: 0, state: 'connected', lastError: null, since: 0 },
        { connector: 'clicks', kind: 'kafka', role: 'source', subtask: 1, state: 'reconnecting', lastError: 'connect ECONNREFUSED kafka://app:s3cret@127.0.0.1:9092', since: 1_767_225_651_400 },
      ],
    }), { width: 120, color: false })
    expect(lines[1]).toBe('source clicks (kafka)  lag 113K  +12K/s  3 partitions  worst orders/1 57K')
    expect(lines[2]).toBe('RECONNECTING  source clicks (kafka) subtask 1 of 2 for 14.0s: connect ECONNREFUSED kafka://app:***@127.0.0.1:9092')
    expect(lines.join('\n')).not.toContain('s3cret')
    // A source catching up shows a falling lag; connected connectors show nothing.
    const calm = renderTop(jobView({ sources: [{ source: 'clicks', kind: 'nats', lag: 0, lagPerSecond: -250, windowSeconds: 10, partitionCount: 1, worst: null, partitions: [] }], connections: [] }), { width: 120, color: false })
    expect(calm[1]).toBe('source clicks (nats)  lag 0  -250/s  1 partition')
    expect(calm[2]).toBe('')
    // One line per connector: a failed subtask outranks a reconnecting one.
    const db = (subtask: number, state: 'connected' | 'reconnecting' | 'failed', lastError: string | null) => ({ connector: 'db', kind: 'postgres', role: 'sink' as const, subtask, state, lastError, since: 1_767_225_605_400 })
    const sink = renderTop(jobView({ connections: [db(0, 'reconnecting', 'timeout'), db(1, 'connected', null), db(2, 'failed', 'password authentication failed')] }), { width: 120, color: false })
    expect(sink.filter((l) => /^(FAILED|RECONNECTING)/.test(l))).toEqual(['FAILED  sink db (postgres) subtasks 0,2 of 3 for 1.0m: password authentication failed'])
  })

  it('renders a starting job with no data', () => {
    const lines = renderTop(jobView({ status: 'starting', uptimeMs: 0, recordsPerSecond: 0, latency: null, topFinding: null, operators: [] }), { width: 80, color: false })
    expect(lines[0]).toBe('clickstream  starting  up 0s  0 records/s  p99 -  2 workers')
    expect(lines.some((l) => l.startsWith('OPERATOR'))).toBe(true)
  })

  it('formats durations with their unit', () => {
    expect([null, 0.25, 42.4, 1500, 90_000, 7_200_000, 30 * 86_400_000].map(durationMs)).toEqual(['-', '0.3ms', '42ms', '1.5s', '1.5m', '2.0h', '30d'])
    expect([0, 42_900, 184_000, 7_500_000].map(uptime)).toEqual(['0s', '42s', '3m 04s', '2h 05m'])
  })
})

describe('renderNotice, fitWidth and parseServerUrl', () => {
  it('wraps a notice to the width', () => {
    const lines = renderNotice('cannot reach the Sluice monitoring server at http://127.0.0.1:8420/: connect ECONNREFUSED', 40, false)
    expect(lines.length).toBeGreaterThan(1)
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40)
    expect(lines.join(' ').replace(/\s+/g, ' ')).toContain('connect ECONNREFUSED')
  })

  it('cuts coloured text by what shows, and resets the colour', () => {
    expect(fitWidth('\x1b[31mabcdef\x1b[0m', 4)).toBe('\x1b[31mabc…\x1b[0m')
    expect(fitWidth('abc', 4)).toBe('abc')
  })

  it('accepts a URL without a scheme, with a path into the API, or with a dashboard token', () => {
    expect(parseServerUrl(undefined)).toEqual({ url: 'http://127.0.0.1:8420/', token: undefined })
    expect(parseServerUrl('localhost:9000')).toEqual({ url: 'http://localhost:9000/', token: undefined })
    expect(parseServerUrl('http://10.0.0.5:8420/api/v1/jobs/q5')).toEqual({ url: 'http://10.0.0.5:8420/', token: undefined })
    expect(parseServerUrl('http://10.0.0.5:8420/?token=s3cret')).toEqual({ url: 'http://10.0.0.5:8420/', token: 's3cret' })
  })

  it('never echoes a token when the URL is malformed', () => {
    expect(() => parseServerUrl('http://[10.0.0.5/?token=s3cret&job=q5')).toThrow(/^CLI_USAGE: "http:\/\/\[10\.0\.0\.5\/\?token=…&job=q5" is not a URL/)
  })
})

describe('renderDiagnosis and the exit status', () => {
  const job = { id: 'clickstream', name: 'clickstream', status: 'running' as const, startedAt: 0, uptimeMs: 65_400 }

  it('prints each finding: severity, title, evidence as key: value lines, recommendation', () => {
    const lines = renderDiagnosis(job, [bottleneck, healthy], { color: false })
    expect(lines).toEqual([
      'clickstream: running, up 1m 05s, 2 findings',
      '',
      'WARNING  `enrich` is the bottleneck: busy 980 ms/s while `parse` upstream is backpressured',
      '  busyMsPerSecond: 980',
      '  upstream: parse',
      '  upstreamBackpressuredMsPerSecond: 720',
      '  what to do: raise parallelism of `enrich` from 4 to 6',
      '',
      'HEALTHY  the job is healthy',
      '  recordsPerSecond: 12000',
      '  what to do: nothing to change',
    ])
    expect(renderDiagnosis(job, [bottleneck], { color: true }).map(stripAnsi)).toEqual(renderDiagnosis(job, [bottleneck], { color: false }))
  })

  it('is 0 for healthy and info findings, 2 for any warning or critical one', () => {
    expect(doctorExitCode([healthy])).toBe(0)
    expect(doctorExitCode([{ ...healthy, kind: 'source-bound', title: 'the source limits the job' }])).toBe(0)
    expect(doctorExitCode([bottleneck, healthy])).toBe(2)
    expect(doctorExitCode([{ ...bottleneck, severity: 'critical' }])).toBe(2)
  })
})

describe('sluice top and sluice doctor against a running job', () => {
  const TOKEN = 'top-doctor-secret'
  let job: ChildProcess | null = null
  let url = ''
  let operatorIds: string[] = []

  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...extra }
    delete e.NO_COLOR
    if (extra.SLUICE_TOKEN === undefined) delete e.SLUICE_TOKEN
    return e
  }
  function sluice(args: string[], extraEnv: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 30_000, env: env(extraEnv) })
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
  }
  const get = async <T,>(path: string): Promise<T> => {
    const res = await fetch(new URL(path, url), { headers: { Authorization: `Bearer ${TOKEN}` } })
    return (await res.json()) as T
  }

  beforeAll(async () => {
    job = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'nexmark', 'run', '--query', 'q5', '--events', '0', '--discard', '--port', '0', '--token', TOKEN], { cwd: root, env: env(), stdio: ['ignore', 'ignore', 'pipe'] })
    url = await new Promise<string>((resolve, reject) => {
      let err = ''
      job?.stderr?.setEncoding('utf8')
      job?.stderr?.on('data', (s: string) => {
        err += s
        const m = /Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(err)
        if (m !== null) resolve(m[1])
      })
      job?.once('exit', (code) => reject(new Error(`the job exited (${code}) before printing its URL: ${err}`)))
    })
    // Wait for samples (the diagnosis needs three), by asking the server, not the clock.
    for (;;) {
      const { samples } = await get<{ samples: unknown[] }>('api/v1/jobs/q5/history?seconds=10')
      if (samples.length >= 3) break
      await new Promise((r) => setTimeout(r, 250))
    }
    operatorIds = (await get<JobView>('api/v1/jobs/q5')).operators.map((o) => o.id)
  })

  afterAll(() => {
    if (job !== null && job.exitCode === null && job.signalCode === null) job.kill('SIGKILL')
  })

  it('top --once prints one frame naming every q5 operator and a finding', () => {
    expect(operatorIds).toEqual(expect.arrayContaining(['nexmark', 'q5-count', 'q5', 'results']))
    const r = sluice(['top', url, '--once', '--token', TOKEN])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^nexmark-q5 \(q5\) {2}running {2}up \S+ {2}\S+ records\/s {2}p99 \S+ {2}one thread$/)
    for (const id of operatorIds) expect(lines.some((l) => l.startsWith(`${id} `))).toBe(true)
    expect(r.stdout).toMatch(/^(HEALTHY|INFO|WARNING|CRITICAL) {2}\S/m)
    expect(r.stdout).not.toMatch(/\x1b/)
  })

  it('top --once keeps to COLUMNS when stdout is not a terminal', () => {
    const r = sluice(['top', url, '--once', '--token', TOKEN], { COLUMNS: '60' })
    expect(r.code).toBe(0)
    for (const l of r.stdout.trimEnd().split('\n')) expect([...l].length).toBeLessThanOrEqual(60)
  })

  it('doctor prints the findings and exits 2 exactly when one is a warning or critical', async () => {
    const r = sluice(['doctor', url], { SLUICE_TOKEN: TOKEN })
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^nexmark-q5 \(q5\): running, up \S+, \d+ findings?$/m)
    const severities = [...r.stdout.matchAll(/^(HEALTHY|INFO|WARNING|CRITICAL) {2}\S/gm)].map((m) => m[1])
    expect(severities.length).toBeGreaterThan(0)
    expect(r.stdout).toMatch(/^ {2}\w+: \S/m)
    expect(r.stdout).toMatch(/^ {2}what to do: \S/m)
    expect(r.code).toBe(severities.some((s) => s === 'WARNING' || s === 'CRITICAL') ? 2 : 0)
  })

  it('doctor --json prints the findings as JSON', () => {
    const r = sluice(['doctor', url, '--json', '--token', TOKEN])
    const { findings } = JSON.parse(r.stdout) as { findings: Finding[] }
    expect(findings.length).toBeGreaterThan(0)
    for (const f of findings) expect(Object.keys(f)).toEqual(expect.arrayContaining(['kind', 'severity', 'title', 'evidence', 'recommendation']))
    expect(r.code).toBe(doctorExitCode(findings))
  })

  it('says so when the server needs a token, or has no such job', () => {
    const none = sluice(['top', url, '--once'])
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/needs a token: pass --token <secret> or set SLUICE_TOKEN/)
    const wrong = sluice(['doctor', url, '--token', 'nope'])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/did not accept the token/)
    const missing = sluice(['top', url, '--once', '--job', 'q9', '--token', TOKEN])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/has no job "q9"; its jobs: q5/)
  })

  it('top --once and doctor exit 1 with a clear message when nothing listens at the URL', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port
        s.close(() => resolve(port))
      })
    })
    const dead = `http://127.0.0.1:${closed}/`
    const top = sluice(['top', dead, '--once'])
    expect(top.code).toBe(1)
    expect(top.stdout).toBe('')
    expect(top.stderr).toContain(`cannot reach the Sluice monitoring server at ${dead}: connect ECONNREFUSED`)
    expect(top.stderr).toContain('is a job running? start one with `sluice run <job>`, or pass its URL')
    const doctor = sluice(['doctor', dead])
    expect(doctor.code).toBe(1)
    expect(doctor.stderr).toContain(`cannot reach the Sluice monitoring server at ${dead}`)
  })

  // Last: it stops the job.
  it('live top redraws until the job ends, then shows the final status and exits 0', async () => {
    const top = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'top', url, '--token', TOKEN, '--interval', '200'], { cwd: root, env: env(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    top.stdout.setEncoding('utf8')
    const exited = new Promise<number | null>((resolve) => top.once('exit', (code) => resolve(code)))
    await new Promise<void>((resolve) => {
      top.stdout.on('data', (s: string) => {
        out += s
        if ((out.match(/^nexmark-q5 \(q5\) {2}running/gm) ?? []).length >= 2) resolve()
      })
    })
    job?.kill('SIGINT')
    const code = await exited
    expect(code).toBe(0)
    const frames = out.split(/^(?=nexmark-q5 )/m)
    const last = frames[frames.length - 1]
    expect(last).toMatch(/^nexmark-q5 \(q5\) {2}stopped {2}/)
    for (const id of operatorIds) expect(last).toMatch(new RegExp(`^${id} `, 'm'))
    expect(out).not.toMatch(/\x1b/)
  })
})
