/**
 * Every `@example` in the TSDoc of the public surface compiles and runs (issue 12 item 6, issue 13
 * item 1): the declarations the package's entry points export, and their public members. Each
 * example becomes a module that imports everything the entry points export (by name, as a user
 * would from `sluice`, `sluice/connectors`, `sluice/testing` and `sluice/nexmark`) and may use one
 * more name, `pipeline` (a `Pipeline`). Anything else an example uses it declares itself (`declare
 * const bids: Stream<Bid>`), so a reader sees its types.
 *
 * First the examples are type-checked together with the project's compiler options, without
 * emitting. Then each runs: its declared names get real values from FIXTURES (by declaration, so a
 * new one needs a line there), in a fresh working directory holding the files examples read
 * (`bids.jsonl`, `clicks.jsonl`, `trades.csv`); every pipeline it builds and does not run itself is
 * run, with a collect sink on each stream left without one; every job must finish without error.
 * Examples that read a broker run against the local services after SEEDED writes their input, one
 * that reads stdin reads bids.jsonl there; examples that cannot run here are in COMPILE_ONLY with
 * the reason. A failure names the example's file:line, a hang too (EXAMPLE_DEADLINE_MS);
 * TSDOC_TRACE=1 prints each example as it starts.
 * Type-checking the package takes ~30 s on an idle machine (75 s was seen at load 30 on 2 cores);
 * running the examples ~10-40 s more.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { Readable } from 'node:stream'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Stream } from '../src/api/stream.ts'
import { collectSink, fileSink, fromArray, jetstreamSink, kafkaSink, redisStreamSink } from '../src/connectors/index.ts'
import type { Sink, SinkContext, SourceContext } from '../src/index.ts'
import { boundedOutOfOrderness, Pipeline, systemClock, type JobHandle, type JobResult } from '../src/index.ts'
import { type Auction, type Bid, NexmarkGenerator, type NexmarkEvent, type Person } from '../src/nexmark/index.ts'
import { ENTRIES, type Example, examplesOf, formatDiagnostic, importsFor, projectOptions, publicDocs, root, srcDir } from './support/typescript.ts'

/** Names every example may use without declaring them. */
const PRELUDE = 'declare const pipeline: Pipeline'

/**
 * Examples that are type-checked but not run, each with why. `contains` is a piece of the example's
 * code, so a marker follows its example when lines move; a marker that matches nothing fails.
 */
const COMPILE_ONLY: readonly { file: string; contains: string; reason: string }[] = [
  { file: 'src/connectors/http-source.ts', contains: 'httpSource', reason: 'an HTTP source ends only when stopped, and takes records from the monitoring server (the CLI or run({ server }))' },
]

/**
 * Examples that read a broker (the local services of scripts/services.sh) run after this writes
 * what they read, through Sluice's own sinks: topic or stream "orders" with a few orders.
 */
const SEEDED: readonly { file: string; contains: string; seed: () => Sink<{ id: string; amount: number }> }[] = [
  { file: 'src/connectors/kafka/kafka-source.ts', contains: 'kafkaSource<Order>', seed: () => kafkaSink({ brokers: '127.0.0.1:9092', topic: 'orders', createTopic: { partitions: 2 } }) },
  { file: 'src/connectors/redis/redis-source.ts', contains: 'redisStreamSource<Order>', seed: () => redisStreamSink({ url: 'redis://127.0.0.1:6379', key: (o) => (o.amount < 10 ? 'orders.0' : 'orders.1'), maxLen: 1000 }) },
  { file: 'src/connectors/nats/jetstream-source.ts', contains: 'jetstreamSource(', seed: () => jetstreamSink({ servers: '127.0.0.1:4222', stream: 'orders', create: true }) },
]
const ORDERS = [{ id: 'o1', amount: 5 }, { id: 'o2', amount: 12 }, { id: 'o3', amount: 30 }]

const BIDS: Bid[] = [
  { auction: 1, bidder: 10, price: 120, channel: 'web', url: 'https://a/1', dateTime: 1_767_225_600_000, extra: '' },
  { auction: 2, bidder: 11, price: 80, channel: 'app', url: 'https://a/2', dateTime: 1_767_225_601_000, extra: '' },
  { auction: 1, bidder: 12, price: 1500, channel: 'web', url: 'https://a/1', dateTime: 1_767_225_602_500, extra: '' },
  { auction: 3, bidder: 10, price: 95, channel: 'web', url: 'https://a/3', dateTime: 1_767_225_611_000, extra: '' },
  { auction: 2, bidder: 12, price: 2000, channel: 'app', url: 'https://a/2', dateTime: 1_767_225_625_000, extra: '' },
]
const T0 = BIDS[0].dateTime
const PERSONS: Person[] = [10, 11, 12].map((id) => ({ id, name: `p${id}`, emailAddress: `p${id}@x`, creditCard: '', city: ['Oslo', 'Lyon', 'Kyoto'][id - 10], state: 'XX', dateTime: T0, extra: '' }))
const AUCTIONS: Auction[] = [1, 2, 3].map((id) => ({ id, itemName: `item${id}`, description: '', initialBid: 10, reserve: 100, dateTime: T0 + id, expires: T0 + 60_000, seller: 9 + id, category: 1, extra: '' }))
const events = (n: number): NexmarkEvent[] => {
  const out: NexmarkEvent[] = []
  new NexmarkGenerator({ seed: 1 }, 0, n).next(out, n)
  return out
}

/** The files an example may read, in its working directory. */
const FILES: Record<string, string> = {
  'bids.jsonl': BIDS.map((b) => JSON.stringify(b)).join('\n') + '\n',
  'clicks.jsonl': ['{"user":"ann","ts":1767225600000}', '{"user":"bob","ts":1767225603000}', '{"user":"ann","ts":1767225601000}'].join('\n') + '\n',
  'trades.csv': 'symbol,price\nACME,12.5\nINIT,7\n',
  // A file sink restored to 4096 bytes needs at least that many.
  'out.jsonl': `${'{"n":0}\n'.repeat(600)}`,
}

/** What an example's fixtures are made from: its pipeline and working directory. */
interface Scope {
  readonly pipeline: Pipeline
  readonly dir: string
  get(decl: string): Promise<unknown>
}

const sourceContext = (): SourceContext => ({ sourceId: 'example', subtaskIndex: 0, parallelism: 1, clock: systemClock, reportBadRecord: () => {} }) as unknown as SourceContext
const sinkContext = (): SinkContext => ({ sinkId: 'example', clock: systemClock, subtaskIndex: 0, parallelism: 1, reportBadRecord: () => {} }) as unknown as SinkContext

/** A value for each `declare const name: Type` the examples write, keyed by that declaration. */
const FIXTURES: Record<string, (s: Scope) => unknown> = {
  'bids: Stream<Bid>': (s) => s.pipeline.source('bids', fromArray(BIDS), { watermarks: boundedOutOfOrderness({ timestamp: (b: Bid) => b.dateTime, maxOutOfOrdernessMs: 1000 }) }),
  'lines: Stream<string>': (s) => s.pipeline.source('lines', fromArray(BIDS.map((b) => JSON.stringify(b)))),
  'results: Stream<{ auction: number; n: number }>': (s) => s.pipeline.source('results', fromArray([{ auction: 1, n: 2 }, { auction: 2, n: 1 }])),
  'results: Stream<Result>': (s) => s.pipeline.source('results', fromArray([{ region: 'eu', total: 10 }, { region: 'us', total: 7 }])),
  'hot: Stream<{ auction: number; num: number }>': (s) => s.pipeline.source('hot', fromArray([{ auction: 1, num: 3 }, { auction: 2, num: 1 }])),
  'auctions: Stream<Auction>': (s) => s.pipeline.source('auctions', fromArray(AUCTIONS)),
  'persons: Stream<Person>': (s) => s.pipeline.source('persons', fromArray(PERSONS)),
  'clicks: Stream<Click>': (s) => s.pipeline.source('clicks', fromArray([{ user: 'ann', url: '/a' }, { user: 'ann', url: '/b' }, { user: 'bob', url: '/a' }])),
  'ctx: SourceContext': () => sourceContext(),
  'ctx: SinkContext': () => sinkContext(),
  'batch: Bid[]': () => BIDS.slice(0, 2),
  'scoring: { score(bidder: number, signal: AbortSignal): Promise<number> }': () => ({ score: async (bidder: number): Promise<number> => bidder % 7 }),
  'texts: Stream<{ id: number; text: string }>': (s) => s.pipeline.source('texts', fromArray([{ id: 1, text: 'good morning' }, { id: 2, text: 'thank you' }])),
  'translator: { translate(texts: string[], to: string, signal: AbortSignal): Promise<string[]> }': () => ({ translate: async (texts: string[], to: string): Promise<string[]> => texts.map((t) => `${to}:${t}`) }),
  'record: unknown': () => ({ big: 1n }),
  'db: { insertMany(rows: readonly Bid[]): Promise<void> }': () => ({ insertMany: async (): Promise<void> => {} }),
  'writer: SinkWriter<Bid>': (s) => fileSink<Bid>(join(s.dir, 'written.jsonl')).open(sinkContext()),
  'sink: Sink<Bid>': (s) => fileSink<Bid>(join(s.dir, 'restored.jsonl')),
  'oldWriter: SinkWriter<Bid>': async (s) => ((await s.get('sink: Sink<Bid>')) as ReturnType<typeof fileSink<Bid>>).open(sinkContext()),
  'lastCompletedCommit: SinkCommit': async (s) => {
    const writer = (await s.get('oldWriter: SinkWriter<Bid>')) as Awaited<ReturnType<ReturnType<typeof fileSink<Bid>>['open']>>
    await writer.write(BIDS)
    const commit = await writer.preCommit?.(1)
    await writer.commit?.(commit as never)
    return commit
  },
  'e: NexmarkEvent': () => events(1)[0],
  'events: NexmarkEvent[]': () => events(100),
}

interface Prepared {
  readonly examples: Example[]
  readonly entries: ts.Program
  readonly options: ts.CompilerOptions
}

let prepared: Prepared
let work: string

beforeAll(() => {
  const options = projectOptions({ noEmit: true })
  const entries = ts.createProgram(Object.values(ENTRIES), options)
  const examples: Example[] = []
  for (const { sf, doc } of publicDocs(entries).values()) examples.push(...examplesOf(sf, doc))
  prepared = { examples, entries, options }
  work = mkdtempSync(join(tmpdir(), 'sluice-tsdoc-'))
}, 300_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

const at = (ex: Example, line = 0): string => `${relative(root, ex.file)}:${ex.lines[line] ?? ex.lines[0]}`
const moduleName = (dir: string, ex: Example): string => join(dir, `${relative(srcDir, ex.file).replace(/[/.]/g, '_')}_${ex.lines[0]}.ts`)
const DECLARE = /^declare const (\w+): (.+?)\s*$/

describe('TSDoc examples', () => {
  it('every @example of the public surface type-checks', () => {
    const { examples, entries, options } = prepared
    // The examples of the public surface; too few means the extraction broke.
    expect(examples.length).toBeGreaterThan(40)

    const dir = join(root, 'test', '.tsdoc-examples')
    const header = [...importsFor(entries, dir), PRELUDE, 'export {}']
    const virtual = new Map<string, { text: string; example: Example }>()
    for (const ex of examples) virtual.set(moduleName(dir, ex), { text: [...header, ...ex.code].join('\n'), example: ex })
    const host = ts.createCompilerHost(options)
    const getSourceFile = host.getSourceFile.bind(host)
    host.getSourceFile = (name, lang, ...rest) => {
      const v = virtual.get(name)
      return v === undefined ? getSourceFile(name, lang, ...rest) : ts.createSourceFile(name, v.text, lang)
    }
    const fileExists = host.fileExists.bind(host)
    host.fileExists = (name) => virtual.has(name) || fileExists(name)
    const readFile = host.readFile.bind(host)
    host.readFile = (name) => virtual.get(name)?.text ?? readFile(name)
    const program = ts.createProgram([...virtual.keys()], options, host, entries)

    const failures: string[] = examples.filter((ex) => !ex.fenced).map((ex) => `${at(ex)}: put the example in a \`\`\`ts fence`)
    for (const [name, { example }] of virtual) {
      const sf = program.getSourceFile(name) as ts.SourceFile
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        const line = d.start === undefined ? -1 : sf.getLineAndCharacterOfPosition(d.start).line - header.length
        const where = line >= 0 ? at(example, line) : `${at(example)} (header)`
        failures.push(`${where}: ${formatDiagnostic({ ...d, file: undefined })}`)
      }
    }
    expect(failures).toEqual([])
  }, 300_000)

  it('every @example of the public surface runs to the end without an error', async () => {
    const { examples, entries } = prepared
    const marked = (ex: Example): (typeof COMPILE_ONLY)[number] | undefined =>
      COMPILE_ONLY.find((m) => relative(root, ex.file) === m.file && ex.code.join('\n').includes(m.contains))
    const unused = COMPILE_ONLY.filter((m) => !examples.some((ex) => marked(ex) === m)).map((m) => `COMPILE_ONLY marker matches no example: ${m.file} "${m.contains}"`)
    expect(unused).toEqual([])
    const runnable = examples.filter((ex) => marked(ex) === undefined)
    // Most examples run; the marked list stays short.
    expect(runnable.length).toBeGreaterThan(examples.length - 3)

    // The modules live in the repository (vitest transforms them like the tests) and import src/.
    const dir = join(root, 'test', `.tsdoc-run-${process.pid}`)
    mkdirSync(dir, { recursive: true })
    const failures: string[] = []
    const cwd = process.cwd()
    try {
      for (const ex of runnable) {
        if (process.env.TSDOC_TRACE) console.error(`running ${at(ex)}`)
        const failure = await runExample(ex, entries, dir)
        if (failure !== null) failures.push(`${at(ex)}: ${failure}`)
      }
    } finally {
      process.chdir(cwd)
      rmSync(dir, { recursive: true, force: true })
    }
    expect(failures).toEqual([])
  }, 600_000)
})

/**
 * Runs one example: writes it as a module whose default export takes the fixtures, in a fresh
 * working directory, then runs and awaits every pipeline it built. Returns why it failed, or null.
 */
async function runExample(ex: Example, entries: ts.Program, dir: string): Promise<string | null> {
  const cwd = mkdtempSync(join(work, 'ex-'))
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(cwd, name), text)
  const body: string[] = []
  for (const line of ex.code) {
    const m = DECLARE.exec(line)
    if (m === null) body.push(`  ${line}`)
    else if (FIXTURES[`${m[1]}: ${m[2]}`] === undefined) return `no fixture for \`declare const ${m[1]}: ${m[2]}\`: add one to FIXTURES in test/tsdoc-examples.test.ts`
    else body.push(`  const ${m[1]}: ${m[2]} = (await scope.get(${JSON.stringify(`${m[1]}: ${m[2]}`)})) as ${m[2]}`)
  }
  const file = moduleName(dir, ex)
  const seeded = SEEDED.find((m) => relative(root, ex.file) === m.file && ex.code.join('\n').includes(m.contains))
  if (seeded !== undefined) {
    const p = new Pipeline('seed-orders')
    p.source('orders', fromArray(ORDERS)).to('out', seeded.seed())
    try {
      await p.run().done
    } catch (e) {
      return `could not write its input: ${e instanceof Error ? e.message : String(e)}`
    }
  }
  writeFileSync(file, [...importsFor(entries, dir), 'export default async function example(scope: { pipeline: Pipeline; get(decl: string): Promise<unknown> }): Promise<void> {', '  const pipeline = scope.pipeline', ...body, '}', ''].join('\n'))

  // Every pipeline the example builds and every job it starts, so the ones it leaves are run and awaited.
  const built = new Set<Pipeline>()
  const jobs: JobHandle[] = []
  const ran = new Set<Pipeline>()
  const { source, run } = Pipeline.prototype
  Pipeline.prototype.source = function (this: Pipeline, ...args: Parameters<typeof source>) {
    built.add(this)
    return source.apply(this, args) as never
  } as typeof source
  Pipeline.prototype.run = function (this: Pipeline, ...args: Parameters<typeof run>) {
    ran.add(this)
    const job = run.apply(this, args)
    jobs.push(job)
    return job
  }
  const pipeline = new Pipeline(`example-${ex.lines[0]}`)
  // An example that runs `pipeline` itself gets one with a source, an operator "parse" and a sink "results".
  if (ex.code.some((l) => l.includes('pipeline.run('))) pipeline.source('input', fromArray(BIDS)).map('parse', (b) => b).to('results', collectSink())
  const made = new Map<string, Promise<unknown>>()
  const scope: Scope = {
    pipeline,
    dir: cwd,
    get(decl) {
      let v = made.get(decl)
      if (v === undefined) {
        v = Promise.resolve(FIXTURES[decl](scope))
        made.set(decl, v)
      }
      return v
    },
  }
  // An example reading stdin reads bids.jsonl there, as `cat bids.jsonl | sluice run job.ts` would.
  const stdin = Object.getOwnPropertyDescriptor(process, 'stdin') as PropertyDescriptor
  if (ex.code.some((l) => /\bstdinSource\b/.test(l))) Object.defineProperty(process, 'stdin', { value: Readable.from([FILES['bids.jsonl']]), configurable: true })
  process.chdir(cwd)
  try {
    const module = (await import(pathToFileURL(file).href)) as { default: (s: Scope) => Promise<void> }
    await withDeadline(module.default(scope), () => jobs.forEach((j) => void j.stop().catch(() => {})))
    for (const p of built) if (!ran.has(p)) jobs.push(runWithCollectSinks(p))
    const results: JobResult[] = []
    for (const job of jobs) results.push(await withDeadline(job.done, () => void job.stop().catch(() => {})))
    const unfinished = results.filter((r) => r.status !== 'finished')
    return unfinished.length > 0 ? `a job ended ${unfinished[0].status}` : null
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  } finally {
    Pipeline.prototype.source = source
    Pipeline.prototype.run = run
    Object.defineProperty(process, 'stdin', stdin)
    for (const job of jobs) await job.done.catch(() => {})
  }
}

/**
 * A hang names its example instead of timing the whole test out: past EXAMPLE_DEADLINE_MS (far
 * beyond what any example takes, even on a loaded machine) the example's jobs are stopped and it fails.
 */
const EXAMPLE_DEADLINE_MS = 120_000
async function withDeadline<T>(p: Promise<T>, stop: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      stop()
      reject(new Error(`did not finish within ${EXAMPLE_DEADLINE_MS / 1000} s: does a source in it never end?`))
    }, EXAMPLE_DEADLINE_MS)
  })
  try {
    return await Promise.race([p, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** Runs `p` with a collect sink on each stream the example left without one. */
function runWithCollectSinks(p: Pipeline): JobHandle {
  const consumed = new Set(p.graph.edges.filter((e) => e.sideTag === null).map((e) => e.from))
  let n = 0
  for (const node of [...p.graph.nodes.values()]) {
    if (node.type !== 'sink' && !consumed.has(node.id)) new Stream<unknown>(p, { nodeId: node.id, sideTag: null }).to(`collect-${n++}`, collectSink())
  }
  return p.run()
}
