/**
 * HTTP ingest (httpSource) over real HTTP on loopback: records POSTed as JSON or NDJSON reach the
 * sink exactly; a stalled job answers 429 with Retry-After while its buffer stays bounded and
 * requests are taken whole or not at all; malformed input is a 400 naming the line; the token rule
 * of the monitoring server holds; it works with worker threads and under `sluice run`.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../src/index.ts'
import { batchCallbackSink, httpSource } from '../src/connectors/index.ts'
import type { HttpSource } from '../src/connectors/http-source.ts'
import type { JobHandle, RunOptions } from '../src/api/pipeline.ts'
import { JobMonitor } from '../src/monitoring/job-monitor.ts'
import { MonitoringServer, type ServerOptions } from '../src/server/server.ts'
import { operatorTotal } from '../src/metrics/task-metrics.ts'
import { httpIngestCrashJob, httpIngestJob, parseEvent, type Event } from './fixtures/http-ingest-job.ts'
import { until } from './support/wait.ts'

const root = new URL('..', import.meta.url).pathname
let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-http-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Served {
  readonly job: JobHandle
  readonly server: MonitoringServer
  readonly monitor: JobMonitor
  /** Headers a change needs on this server: the bearer token, or the CSRF value. */
  readonly auth: Record<string, string>
  url(path: string): string
}

const running: Served[] = []
afterEach(async () => {
  for (const s of running.splice(0)) {
    await s.job.stop()
    s.monitor.stop()
    await s.server.close()
  }
})

async function serve(p: Pipeline, run: RunOptions = {}, server: ServerOptions = {}): Promise<Served> {
  const job = p.run(run)
  const monitor = new JobMonitor(p.name, p, job, { intervalMs: 200, log: () => {} }).start()
  const srv = await MonitoringServer.start({ port: 0, ...server })
  srv.add(monitor)
  let auth: Record<string, string>
  if (server.token !== undefined) auth = { Authorization: `Bearer ${server.token}` }
  else auth = { 'X-Sluice-CSRF': ((await (await fetch(`${srv.url}api/v1/csrf`)).json()) as { csrfToken: string }).csrfToken }
  const s: Served = { job, server: srv, monitor, auth, url: (path) => `${srv.url}api/v1/jobs/${p.name}/ingest/${path}` }
  running.push(s)
  return s
}

const NDJSON = 'application/x-ndjson'
const JSON_TYPE = 'application/json'

async function post(s: Served, path: string, body: string | Uint8Array, type: string, headers: Record<string, string> = s.auth): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const r = await fetch(s.url(path), { method: 'POST', headers: { 'Content-Type': type, ...headers }, body })
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, headers: r.headers }
}

const events = (from: number, n: number): Event[] => Array.from({ length: n }, (_, i) => ({ id: from + i, name: `e${from + i}` }))
const ndjson = (es: readonly Event[]): string => es.map((e) => JSON.stringify(e)).join('\n') + '\n'

/** A job from an HTTP source to an array, with a sink that can be held. */
function collecting(name: string, options: Parameters<typeof httpSource<Event>>[0] = {}): { p: Pipeline; source: HttpSource<Event>; got: Event[]; hold(): void; release(): void } {
  const got: Event[] = []
  let gate: Promise<void> | null = null
  let open = (): void => {}
  const p = new Pipeline(name)
  const source = httpSource<Event>({ parse: parseEvent, ...options })
  p.source('events', source).to('out', batchCallbackSink<Event>(async (batch) => {
    if (gate !== null) await gate
    got.push(...batch)
  }))
  return {
    p, source, got,
    hold: () => {
      gate = new Promise((r) => (open = r))
    },
    release: () => {
      gate = null
      open()
    },
  }
}

describe('httpSource in one thread', () => {
  it('NDJSON and JSON (one record, an array) reach the sink exactly, in order, and are counted', async () => {
    const c = collecting('ingest-formats')
    const s = await serve(c.p)
    const a = events(0, 1000)
    const b = events(1000, 500)
    const one = { id: 1500, name: 'single' }
    expect(await post(s, 'events', ndjson(a), NDJSON)).toMatchObject({ status: 202, body: { accepted: 1000 } })
    expect(await post(s, 'events', JSON.stringify(b), `${JSON_TYPE}; charset=utf-8`)).toMatchObject({ status: 202, body: { accepted: 500 } })
    expect(await post(s, 'events', JSON.stringify(one), JSON_TYPE)).toMatchObject({ status: 202, body: { accepted: 1 } })
    // CRLF line ends and blank lines carry no record; an empty body is accepted as nothing.
    expect(await post(s, 'events', '\r\n{"id":1501,"name":"crlf"}\r\n\r\n', NDJSON)).toMatchObject({ status: 202, body: { accepted: 1 } })
    expect(await post(s, 'events', '', NDJSON)).toMatchObject({ status: 202, body: { accepted: 0 } })
    await until(() => (c.got.length >= 1502 ? true : undefined), 'all records at the sink')
    expect(c.got).toEqual([...a, ...b, one, { id: 1501, name: 'crlf' }])
    const stats = (await (await fetch(s.url('events'))).json()) as Record<string, number>
    expect(stats).toMatchObject({ acceptedRequests: 5, acceptedRecords: 1502, rejectedRequests: 0, malformedRequests: 0, takenRecords: 1502, buffered: 0, maxBufferedRecords: 10_000 })
    const metrics = await (await fetch(`${s.server.url}metrics`)).text()
    expect(metrics).toContain('sluice_ingest_accepted_records_total{job="ingest-formats",source="events"} 1502')
    expect(metrics).toContain('sluice_ingest_buffered_records{job="ingest-formats",source="events"} 0')
    await s.job.stop()
    expect(operatorTotal(s.job.metrics(), 'events', 'recordsOut')).toBe(1502)
    expect(c.got.length).toBe(1502)
    // An ended job takes nothing more: its buffer would accept what nothing reads.
    await until(() => (s.monitor.ended ? true : undefined), 'the monitor to see the end')
    const late = await post(s, 'events', JSON.stringify(one), JSON_TYPE)
    expect(late.status).toBe(409)
    expect((late.body.error as { code: string }).code).toBe('JOB_NOT_RUNNING')
  })

  it('a stalled sink: 429 with Retry-After, the buffer never past its bound, every request taken whole or not at all', async () => {
    const max = 100
    const c = collecting('ingest-stalled', { maxBufferedRecords: max })
    c.hold()
    const s = await serve(c.p, { channelCapacity: 8 })
    const accepted: Event[] = []
    const refused: Event[][] = []
    let next = 0
    // 30 records a request: the buffer fills to 90 and the next request (30 > the 10 left) is refused whole.
    while (refused.length < 3) {
      const batch = events(next, 30)
      next += 30
      const r = await post(s, 'events', ndjson(batch), NDJSON)
      const st = c.source.stats()
      expect(st.buffered).toBeLessThanOrEqual(max)
      if (r.status === 202) {
        accepted.push(...batch)
        continue
      }
      expect(r.status).toBe(429)
      expect(r.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
      expect((r.body.error as { code: string }).code).toBe('INGEST_BACKPRESSURE')
      refused.push(batch)
      expect(next).toBeLessThan(100_000) // the sink is held: the loop must end in 429s
    }
    const stalled = c.source.stats()
    expect(stalled.highWaterRecords).toBeLessThanOrEqual(max)
    expect(stalled.rejectedRequests).toBe(3)
    expect(stalled.acceptedRecords).toBe(accepted.length)
    // The records waiting are the source's lag, like a broker partition's.
    await until(async () => (/^sluice_source_lag_records\{job="ingest-stalled",source="events",partition="buffer"\} [1-9]\d*$/m.test(await (await fetch(`${s.server.url}metrics`)).text()) ? true : undefined), 'the buffer as the source\'s lag in /metrics')
    // Nothing of a refused request entered: the sink, once released, gets exactly the accepted ones.
    c.release()
    await until(() => (c.got.length >= accepted.length ? true : undefined), 'the accepted records at the sink')
    // Sent again after the job caught up, a refused request is accepted.
    expect((await post(s, 'events', ndjson(refused[0]), NDJSON)).status).toBe(202)
    await until(() => (c.got.length >= accepted.length + 30 ? true : undefined), 'the resent records at the sink')
    expect(c.got).toEqual([...accepted, ...refused[0]])
    expect(c.source.stats().highWaterRecords).toBeLessThanOrEqual(max)
    const metrics = await (await fetch(`${s.server.url}metrics`)).text()
    expect(metrics).toContain('sluice_ingest_rejected_requests_total{job="ingest-stalled",source="events"} 3')
  })

  it('malformed input: 400 naming the line, nothing of the request enters, counted; 413, 415, 404', async () => {
    const c = collecting('ingest-bad', { maxBodyBytes: 4096, maxBufferedRecords: 50 })
    const s = await serve(c.p)
    const bad = await post(s, 'events', '{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n{"id":3,"name":\n{"id":4,"name":"d"}\n', NDJSON)
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatchObject({ code: 'INGEST_MALFORMED', line: 3 })
    expect((bad.body.error as { message: string }).message).toMatch(/^line 3 is not valid JSON: .*nothing of this request was accepted/)
    const refusedByParse = await post(s, 'events', '{"id":1,"name":"a"}\n{"id":"two","name":"b"}\n', NDJSON)
    expect(refusedByParse.status).toBe(400)
    expect((refusedByParse.body.error as { message: string }).message).toMatch(/^line 2 was refused by parse: expected \{ id: integer, name: string \}/)
    const json = await post(s, 'events', '[\n  {"id": 1, "name": "a"},\n  {"id": 2, "name": x}\n]', JSON_TYPE)
    expect(json.status).toBe(400)
    expect(json.body.error).toMatchObject({ code: 'INGEST_MALFORMED', line: 3 })
    expect((json.body.error as { message: string }).message).toMatch(/^the body is not valid JSON: unexpected "x}\\n]" at line 3, column 21; nothing of this request was accepted/)
    const arrayParse = await post(s, 'events', '[{"id": 1, "name": "a"}, {"id": 2}]', JSON_TYPE)
    expect((arrayParse.body.error as { message: string }).message).toMatch(/^record 2 of the array \(index 1\) was refused by parse/)
    expect((await post(s, 'events', new Uint8Array([0x7b, 0xff, 0x7d]), JSON_TYPE)).status).toBe(400)
    expect((await post(s, 'events', 'id,name\n1,a\n', 'text/csv')).status).toBe(415)
    const big = await post(s, 'events', ndjson(events(0, 200)), NDJSON)
    expect(big.status).toBe(413)
    expect((big.body.error as { code: string }).code).toBe('INGEST_BODY_TOO_LARGE')
    const many = await post(s, 'events', JSON.stringify(Array.from({ length: 51 }, (_, i) => ({ id: i, name: '' }))), JSON_TYPE)
    expect(many.status).toBe(413)
    expect((many.body.error as { code: string }).code).toBe('INGEST_TOO_MANY_RECORDS')
    const unknown = await post(s, 'events-typo', '{}', JSON_TYPE)
    expect(unknown.status).toBe(404)
    expect((unknown.body.error as { message: string }).message).toContain('/api/v1/jobs/ingest-bad/ingest/events')
    expect(c.source.stats()).toMatchObject({ acceptedRequests: 0, acceptedRecords: 0, malformedRequests: 6, tooLargeRequests: 2, buffered: 0 })
    // A good request after them all goes through alone.
    expect((await post(s, 'events', '{"id":9,"name":"ok"}', JSON_TYPE)).status).toBe(202)
    await until(() => (c.got.length >= 1 ? true : undefined), 'the good record')
    expect(c.got).toEqual([{ id: 9, name: 'ok' }])
    const metrics = await (await fetch(`${s.server.url}metrics`)).text()
    expect(metrics).toContain('sluice_ingest_malformed_requests_total{job="ingest-bad",source="events"} 6')
  })

  it('a streamed body past maxBodyBytes is 413 (read and dropped, the client sees the answer); bodies read at once are bounded (429)', async () => {
    const c = collecting('ingest-stream', { maxBodyBytes: 64 * 1024, maxConcurrentRequests: 1 })
    const s = await serve(c.p)
    const line = `${JSON.stringify({ id: 1, name: 'x'.repeat(1000) })}\n`
    const chunks = (n: number): ReadableStream<Uint8Array> => {
      let i = 0
      return new ReadableStream({
        pull(ctl) {
          if (i++ < n) ctl.enqueue(new TextEncoder().encode(line))
          else ctl.close()
        },
      })
    }
    const stream = (body: ReadableStream<Uint8Array>): Promise<Response> => fetch(s.url('events'), { method: 'POST', headers: { 'Content-Type': NDJSON, ...s.auth }, body, duplex: 'half' } as RequestInit)
    const over = await stream(chunks(200))
    expect(over.status).toBe(413)
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe('INGEST_BODY_TOO_LARGE')
    // One body still arriving holds the only place: a second request is refused before its body is read.
    let finish = (): void => {}
    const held = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode(line))
        finish = () => ctl.close()
      },
    })
    const first = stream(held)
    await until(() => (c.source.requestsInFlight === 1 ? true : undefined), 'the first body being read')
    const second = await post(s, 'events', line, NDJSON)
    expect(second.status).toBe(429)
    expect(second.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
    finish()
    expect((await first).status).toBe(202)
    expect((await post(s, 'events', line, NDJSON)).status).toBe(202)
    await until(() => (c.got.length === 2 ? true : undefined), 'the two accepted records')
    expect(c.source.stats()).toMatchObject({ acceptedRequests: 2, rejectedRequests: 1, tooLargeRequests: 1 })
  })

  it('the token rule of the server: Bearer token needed when set; CSRF value on loopback without one; no foreign Origin', async () => {
    const c = collecting('ingest-token')
    const s = await serve(c.p, {}, { token: 's3cret-token' })
    const body = ndjson(events(0, 3))
    expect((await post(s, 'events', body, NDJSON, {})).status).toBe(401)
    expect((await post(s, 'events', body, NDJSON, { Authorization: 'Bearer wrong' })).status).toBe(401)
    expect((await post(s, 'events', body, NDJSON, { ...s.auth, Origin: 'http://evil.example' })).status).toBe(403)
    expect(await post(s, 'events', body, NDJSON)).toMatchObject({ status: 202, body: { accepted: 3 } })
    expect((await fetch(s.url('events'))).status).toBe(401) // the counters are data: token too
    const open = collecting('ingest-csrf')
    const t = await serve(open.p)
    expect((await post(t, 'events', body, NDJSON, {})).body.error).toMatchObject({ code: 'CSRF_REQUIRED' })
    expect((await post(t, 'events', body, NDJSON)).status).toBe(202)
    await until(() => (c.got.length === 3 && open.got.length === 3 ? true : undefined), 'the records of both jobs')
  })
})

describe('httpSource misuse', () => {
  it('one instance under two source ids fails the job with a coded error; two sources on one path are a 500 naming both', async () => {
    const shared = httpSource()
    const p = new Pipeline('ingest-shared')
    p.source('a', shared).union('both', p.source('b', shared)).to('out', batchCallbackSink(() => {}))
    await expect(p.run().done).rejects.toMatchObject({ code: 'JOB_ARGUMENT_INVALID', message: expect.stringContaining('one httpSource() is used by two sources') })
    const q = new Pipeline('ingest-same-path')
    q.source('a', httpSource({ path: 'in' })).union('both', q.source('b', httpSource({ path: 'in' }))).to('out', batchCallbackSink(() => {}))
    const s = await serve(q)
    const r = await post(s, 'in', '{}', JSON_TYPE)
    expect(r.status).toBe(500)
    expect((r.body.error as { message: string }).message).toMatch(/sources "a" and "b" of job "ingest-same-path" share the ingest path "in"/)
  })
})

describe('httpSource on worker threads', () => {
  it('the reader on a worker, the server on the main thread: every record reaches the sink once', async () => {
    const out = join(dir, 'workers.jsonl')
    const p = httpIngestJob(out, 500)
    const s = await serve(p, { workers: 2, parallelism: 2 })
    const sent: Event[] = []
    let next = 0
    while (next < 5000) {
      const batch = events(next, 250)
      const r = next % 500 === 0 ? await post(s, 'events', ndjson(batch), NDJSON) : await post(s, 'events', JSON.stringify(batch), JSON_TYPE)
      if (r.status === 429) {
        expect(r.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
        await until(() => (ingestStats(p).buffered === 0 ? true : undefined), 'the buffer to drain')
        continue
      }
      expect(r.status).toBe(202)
      sent.push(...batch)
      next += 250
      expect(ingestStats(p).buffered).toBeLessThanOrEqual(500)
    }
    await until(() => (operatorTotal(s.job.metrics(), 'out', 'recordsIn') >= 5000 ? true : undefined), 'the records at the sink on the workers', 30_000)
    expect(ingestStats(p)).toMatchObject({ acceptedRecords: 5000, takenRecords: 5000, buffered: 0 })
    expect(ingestStats(p).highWaterRecords).toBeLessThanOrEqual(500)
    await s.job.stop()
    const rows = readFileSync(out, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Event)
    expect(rows.sort((x, y) => x.id - y.id)).toEqual(sent.map((e) => ({ id: e.id, name: e.name.toUpperCase() })))
  }, 60_000)
})

describe('httpSource when a worker dies', () => {
  it('the job restarts from its checkpoint with a new worker, and records POSTed after it reach the sink; the record in the dead worker is lost', async () => {
    const out = join(dir, 'crash.jsonl')
    const p = httpIngestCrashJob(out, join(dir, 'crash.marker'))
    const s = await serve(p, { workers: 1, checkpoints: { dir: join(dir, 'crash-chk'), intervalMs: 100 }, restart: { attempts: 3, delayMs: 0 } })
    expect((await post(s, 'events', JSON.stringify({ id: -1, name: 'die' }), JSON_TYPE)).status).toBe(202)
    await until(() => ((s.job.checkpoints()?.restarts ?? 0) >= 1 ? true : undefined), 'the restart after the worker died', 30_000)
    const after = events(0, 300)
    expect((await post(s, 'events', ndjson(after), NDJSON)).status).toBe(202)
    await until(() => (operatorTotal(s.job.metrics(), 'out', 'recordsIn') >= 300 ? true : undefined), 'the records at the new worker\'s sink', 30_000)
    await s.job.stop()
    const rows = readFileSync(out, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Event)
    expect(rows).toEqual(after)
    expect(ingestStats(p)).toMatchObject({ acceptedRecords: 301, takenRecords: 301, buffered: 0 })
  }, 60_000)
})

function ingestStats(p: Pipeline): ReturnType<HttpSource<Event>['stats']> {
  const n = p.graph.nodes.get('events')
  if (n?.type !== 'source') throw new Error('no source events')
  return (n.source as HttpSource<Event>).stats()
}

describe('sluice run with an HTTP source', () => {
  it('a job file run by the CLI takes records POSTed with the bearer token (on a worker thread), and stops on SIGINT with them written', async () => {
    const out = join(dir, 'cli.jsonl')
    const child = spawn(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/http-ingest-cli-job.ts', '--port', '0', '--token', 'cli-token', '--workers', '1'], { cwd: root, env: { ...process.env, HTTP_INGEST_OUT: out, SLUICE_TOKEN: undefined }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)))
    try {
      const url = (await until(() => /Dashboard: (\S+)/.exec(stderr) ?? undefined, 'the dashboard URL', 45_000))[1]
      const endpoint = `${url}api/v1/jobs/ingest/ingest/events`
      const headers = { Authorization: 'Bearer cli-token', 'Content-Type': NDJSON }
      expect((await fetch(endpoint, { method: 'POST', headers: { 'Content-Type': NDJSON }, body: '{}' })).status).toBe(401)
      const sent = events(0, 2000)
      const r = await fetch(endpoint, { method: 'POST', headers, body: ndjson(sent) })
      expect(r.status).toBe(202)
      expect(await r.json()).toEqual({ accepted: 2000 })
      await until(async () => {
        const st = (await (await fetch(endpoint, { headers: { Authorization: 'Bearer cli-token' } })).json()) as { takenRecords: number }
        return st.takenRecords === 2000 ? true : undefined
      }, 'the job to take the records', 30_000)
      // Taken by the reader is not yet written: the sink's count comes with the worker's metrics.
      await until(async () => {
        const m = await (await fetch(`${url}metrics`, { headers: { Authorization: 'Bearer cli-token' } })).text()
        return /sluice_records_in_total\{job="ingest",operator="out",subtask="0"\} 2000/.test(m) ? true : undefined
      }, 'the sink to receive the records', 30_000)
      child.kill('SIGINT')
      expect(await exited).toBe(0)
      expect(stderr).toMatch(/job "ingest" stopped/)
      const rows = readFileSync(out, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Event)
      expect(rows).toEqual(sent.map((e) => ({ id: e.id, name: e.name.toUpperCase() })))
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 90_000)
})
