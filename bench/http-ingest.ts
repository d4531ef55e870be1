/**
 * HTTP ingest throughput: clients POSTing NDJSON to a job's httpSource (monitoring server, bounded
 * buffer, the job reading it into a blackhole), against a hand-written node:http server that reads
 * the same bodies and JSON.parses every line into an array (no job, no bound). Same bodies, same
 * clients (node's fetch, keep-alive), same process, in turn.
 *
 *   node bin/run-ts.js bench/http-ingest.ts [--records 1000000] [--batch 1000] [--clients 4] [--workers 0]
 *
 * A 429 is retried after 2 ms (a real client waits Retry-After; here the point is the capacity).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pipeline } from '../src/index.ts'
import { blackholeSink, httpSource } from '../src/connectors/index.ts'
import type { HttpSource } from '../src/connectors/http-source.ts'
import { MonitoringServer } from '../src/server/server.ts'
import { JobMonitor } from '../src/monitoring/job-monitor.ts'
import { operatorTotal } from '../src/metrics/task-metrics.ts'

export function ingestBenchJob(): Pipeline {
  const p = new Pipeline('ingest-bench')
  p.module = { url: import.meta.url, exportName: 'ingestBenchJob' }
  p.source('events', httpSource({ maxBufferedRecords: 10_000 })).to('out', blackholeSink())
  return p
}

/** The client process: argv url, headers (JSON), body file, requests, concurrency; prints the count of 429s. */
const CLIENT = `
const [url, headers, file, total, concurrency] = process.argv.slice(1)
const body = require('node:fs').readFileSync(file)
const h = { 'Content-Type': 'application/x-ndjson', ...JSON.parse(headers) }
let next = 0, refused = 0
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
Promise.all(Array.from({ length: Number(concurrency) }, async () => {
  while (next < Number(total)) {
    next++
    for (;;) {
      const r = await fetch(url, { method: 'POST', headers: h, body })
      await r.arrayBuffer()
      if (r.status === 202 || r.status === 200) break
      if (r.status !== 429) throw new Error('status ' + r.status)
      refused++
      await sleep(2)
    }
  }
})).then(() => console.log(refused), (e) => { console.error(e); process.exit(1) })
`

const args = process.argv.slice(2)
const opt = (f: string, d: number): number => {
  const i = args.indexOf(f)
  return i >= 0 ? Number(args[i + 1]) : d
}

async function main(): Promise<void> {
  const records = opt('--records', 1_000_000)
  const batch = opt('--batch', 1000)
  const clients = opt('--clients', 4)
  const workers = opt('--workers', 0)
  const bodies = Math.ceil(records / batch)
  // ~100-byte records, like the broker benchmarks'.
  const body = Array.from({ length: batch }, (_, i) => JSON.stringify({ id: i, auction: 1000 + (i % 97), bidder: 2000 + (i % 89), price: 100 + i, channel: 'web', ts: 1_700_000_000_000 + i })).join('\n') + '\n'
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

  // The clients run in another process, so they do not share this event loop with the server.
  const bodyFile = join(mkdtempSync(join(tmpdir(), 'sluice-ingest-bench-')), 'body.ndjson')
  writeFileSync(bodyFile, body)
  const send = async (url: string, headers: Record<string, string>): Promise<{ ms: number; refused: number }> => {
    const t0 = performance.now()
    const child = spawn(process.execPath, ['-e', CLIENT, url, JSON.stringify(headers), bodyFile, String(bodies), String(clients)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    const code = await new Promise<number | null>((r) => child.on('close', r))
    if (code !== 0) throw new Error(`client exited with ${code}`)
    return { ms: performance.now() - t0, refused: Number(out.trim()) }
  }

  // Hand-written: node:http, read the body, JSON.parse each line into an array.
  const runPlain = async (): Promise<number> => {
    const sink: unknown[] = []
    const plain = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        for (const line of text.split('\n')) if (line.length > 0) sink.push(JSON.parse(line))
        if (sink.length > 100_000) sink.length = 0
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end('{"ok":true}')
      })
    })
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
    const { ms } = await send(`http://127.0.0.1:${(plain.address() as { port: number }).port}/`, {})
    plain.close()
    plain.closeAllConnections()
    return ms
  }
  const runSluice = async (): Promise<{ ms: number; refused: number; read: number }> => {
    const p = ingestBenchJob()
    const job = p.run({ workers })
    const monitor = new JobMonitor(p.name, p, job, { log: () => {} }).start()
    const server = await MonitoringServer.start({ port: 0, token: 'bench-token' })
    server.add(monitor)
    const node = p.graph.nodes.get('events')
    if (node?.type !== 'source') throw new Error('no source')
    const source = node.source as HttpSource<unknown>
    const t0 = performance.now()
    const { refused } = await send(`${server.url}api/v1/jobs/${p.name}/ingest/events`, { Authorization: 'Bearer bench-token' })
    while (source.stats().takenRecords < bodies * batch) await sleep(1)
    const ms = performance.now() - t0
    await job.stop()
    monitor.stop()
    await server.close()
    return { ms, refused, read: operatorTotal(job.metrics(), 'events', 'recordsOut') }
  }
  // Alternating, twice each: the first of each warms up the JIT and the client; the second counts.
  await runPlain()
  await runSluice()
  const baseMs = await runPlain()
  const sl = await runSluice()
  const rate = (n: number, ms: number): string => `${Math.round((n * 1000) / ms).toLocaleString('en-US')} records/s`
  process.stdout.write(`${records} records, ${batch} a request, ${clients} clients, workers ${workers}\n`)
  process.stdout.write(`hand-written node:http + JSON.parse: ${rate(bodies * batch, baseMs)} (${baseMs.toFixed(0)} ms)\n`)
  process.stdout.write(`httpSource → job (taken by the job):  ${rate(bodies * batch, sl.ms)} (${sl.ms.toFixed(0)} ms, ${sl.refused} answers 429, source read ${sl.read})\n`)
  process.stdout.write(`ratio (httpSource / hand-written): ${(baseMs / sl.ms).toFixed(2)}\n`)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
