/**
 * Nexmark q5 end to end from a broker: the same events published to Kafka and to NATS JetStream
 * (`nexmark generate --out URI`, 8 partitions) and written to a JSON Lines file, then
 * `nexmark run --query q5 --input … --discard` from each (bounded), alternating rounds, medians
 * of the job's own events/s (from its summary line). Needs `bash scripts/services.sh up`.
 *
 *   node bin/run-ts.js bench/connectors/end-to-end.ts [--events 1000000] [--rounds 3] [--parallelism 1]
 *
 * Prints a table, then one JSON line.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deleteBrokerObject } from '../../test/support/broker-cleanup.ts'

const args = process.argv.slice(2)
const opt = (f: string, d: string): string => {
  const i = args.indexOf(f)
  return i >= 0 ? (args[i + 1] as string) : d
}
const EVENTS = Number(opt('--events', '1000000'))
const ROUNDS = Number(opt('--rounds', '3'))
const PARALLELISM = opt('--parallelism', '1')
const sluice = new URL('../../bin/sluice.js', import.meta.url).pathname
const tag = `bench_e2e_${Date.now().toString(36)}`
const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'))
const inputs: Record<string, string> = {
  file: join(dir, 'events.jsonl'),
  kafka: `kafka://127.0.0.1:9092/${tag}`,
  jetstream: `nats://127.0.0.1:4222/${tag}`,
}

/** Runs sluice; returns what it wrote to stderr (its summary line), failing on a non-zero exit. */
function sluiceRun(a: string[]): string {
  const r = spawnSync(process.execPath, [sluice, ...a], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 })
  if (r.status !== 0) throw new Error(`sluice ${a.join(' ')} exited with ${r.status}: ${r.stderr.trim().split('\n').pop()}`)
  return r.stderr
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
const generateRate: Record<string, number> = {}
const rates: Record<string, number[]> = { file: [], kafka: [], jetstream: [] }
let failure: string | null = null
try {
  for (const [name, target] of Object.entries(inputs)) {
    const t0 = performance.now()
    sluiceRun(['nexmark', 'generate', '--events', String(EVENTS), '--out', target])
    generateRate[name] = Math.round(EVENTS / ((performance.now() - t0) / 1000))
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, input] of Object.entries(inputs)) {
      const source = name === 'file' ? input : `${input}?bounded=true`
      const summary = sluiceRun(['nexmark', 'run', '--query', 'q5', '--input', source, '--discard', '--no-server', '--parallelism', PARALLELISM])
      const m = /: (\d+) events in [\d.]+ s \(([\d,]+) events\/s\)/.exec(summary)
      if (m === null || Number(m[1]) !== EVENTS) throw new Error(`q5 from ${name}: unexpected summary: ${summary.trim()}`)
      rates[name].push(Number(m[2].replace(/,/g, '')))
    }
  }
} catch (e) {
  failure = (e as Error).message
}
rmSync(dir, { recursive: true, force: true })
for (const uri of [inputs.kafka, inputs.jetstream]) await deleteBrokerObject(uri).catch(() => {})
const k = (n: number): string => `${Math.round(n / 1000).toLocaleString('en-US')} K/s`
console.log(`| q5 end to end, ${EVENTS.toLocaleString('en-US')} events, parallelism ${PARALLELISM} (median of ${ROUNDS}) | publish (nexmark generate) | q5 events/s (whole run, with start-up) | vs file |`)
console.log('|---|---|---|---|')
for (const name of Object.keys(inputs)) {
  console.log(`| ${name} | ${k(generateRate[name] ?? 0)} | ${k(median(rates[name]))} | ${(median(rates[name]) / median(rates.file)).toFixed(2)}× |`)
}
if (failure !== null) console.log(`FAILED: ${failure}`)
console.log(JSON.stringify({ events: EVENTS, parallelism: PARALLELISM, generateRate, q5PerSec: Object.fromEntries(Object.entries(rates).map(([n, xs]) => [n, median(xs)])), failure }))
