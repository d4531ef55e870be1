/** `sluice nexmark generate` and `sluice nexmark run`. */
import { Pipeline, boundedOutOfOrderness, jobTotal, operatorTotal, type Sink, type Source } from '../index.ts'
import { SluiceError } from '../errors.ts'
import { blackholeSink } from '../connectors/blackhole-sink.ts'
import { fileSink } from '../connectors/file-sink.ts'
import { fileSource } from '../connectors/file-source.ts'
import { nexmarkSource } from '../nexmark/source.ts'
import { stdoutSink } from '../connectors/stdout-sink.ts'
import { formatEventJsonl, writeEventsFile, parseEventJsonl } from '../nexmark/jsonl.ts'
import type { GeneratorConfig } from '../nexmark/generator-config.ts'
import { NexmarkGenerator } from '../nexmark/generator.ts'
import { isConnectorUri, loadConnectors, sinkFromUri, sourceFromUri } from '../connectors/registry.ts'
import { redactUri } from '../connectors/uri.ts'
import type { DeadLetter } from '../connectors/spi.ts'
import { systemClock } from '../time/clock.ts'
import { eventTime, type NexmarkEvent } from '../nexmark/model.ts'
import { query } from '../nexmark/queries/index.ts'
import { EXIT_OK } from './errors.ts'
import { defaultWorkers } from '../runtime/coordinator/threaded-attempt.ts'
import { prefetchCheckpoint } from '../runtime/checkpoint/storage.ts'
import { monitorJob, type ServerFlags } from './monitoring.ts'
import { checkpointOptions, onInterrupt, parseChoice, parseOption, restartOptions, type CheckpointFlags } from './options.ts'

/** The reference DDL's watermark: dateTime − 4 s. */
export const NEXMARK_OUT_OF_ORDERNESS_MS = 4000

export interface GenerateOptions {
  events?: string
  seed?: string
  rate?: string
  out: string
}

export async function generateCommand(o: GenerateOptions): Promise<number> {
  const events = parseOption('--events', o.events) ?? 1_000_000
  const seed = parseOption('--seed', o.seed) ?? 0
  const rate = parseOption('--rate', o.rate)
  const config = { seed, ...(rate ? { eventsPerSecond: rate } : {}) }
  const t0 = performance.now()
  const r = isConnectorUri(o.out) ? await publishEvents(o.out, config, events) : await writeEventsFile(o.out, config, events)
  const s = (performance.now() - t0) / 1000
  process.stderr.write(`generated ${r.events} events (${(r.bytes / 1e6).toFixed(1)} MB) to ${redactUri(o.out)} in ${s.toFixed(2)} s (${Math.round(r.events / s).toLocaleString('en-US')} events/s)\n`)
  return EXIT_OK
}

/** Partitions of a topic or stream `nexmark generate` creates, unless the URI says `?partitions=N`. */
export const GENERATED_PARTITIONS = 8

/**
 * Publishes events `[0, events)` to a broker: one message per event, its JSON Lines text as the
 * payload, keyed by the event's number, spread over the URI's partitions (created when missing,
 * GENERATED_PARTITIONS by default). Everything is acknowledged before it resolves.
 */
export async function publishEvents(uri: string, config: Partial<GeneratorConfig>, events: number): Promise<{ events: number; bytes: number }> {
  await loadConnectors([uri])
  const keys = new Map<string, string>()
  const sink = sinkFromUri<string>(withGeneratorDefaults(uri), { format: 'string', key: (line) => keys.get(line) ?? null })
  const writer = await sink.open({ sinkId: 'nexmark-generate', clock: systemClock, subtaskIndex: 0, parallelism: 1 })
  const generator = new NexmarkGenerator(config, 0, events)
  const batch: NexmarkEvent[] = []
  const lines: string[] = []
  let n = 0
  let bytes = 0
  try {
    for (;;) {
      batch.length = 0
      const got = generator.next(batch, 1000)
      if (got === 0) break
      lines.length = got
      keys.clear()
      for (let i = 0; i < got; i++) {
        const line = formatEventJsonl(batch[i])
        lines[i] = line
        keys.set(line, String(n + i))
        bytes += line.length
      }
      await writer.write(lines)
      n += got
    }
    await writer.flush?.()
    // A transactional sink makes its output visible at commit: one checkpoint's worth, all of it.
    if (writer.preCommit !== undefined) {
      const c = await writer.preCommit(1)
      await writer.commit?.(c)
    }
    await writer.close?.()
  } catch (e) {
    await writer.abort?.()
    throw e
  }
  return { events: n, bytes }
}

/** The generator's defaults on a broker URI: GENERATED_PARTITIONS partitions, created when missing. */
function withGeneratorDefaults(uri: string): string {
  const u = new URL(uri)
  if (!u.searchParams.has('partitions')) u.searchParams.set('partitions', String(GENERATED_PARTITIONS))
  // Kafka creates a missing topic from ?partitions; a JetStream sink creates its stream when asked.
  if (u.protocol === 'nats:' && !u.searchParams.has('create')) u.searchParams.set('create', 'true')
  return u.toString()
}

export interface RunQueryOptions {
  query: string
  events?: string
  seed?: string
  rate?: string
  input?: string
  out?: string
  discard?: boolean
  onError?: string
  deadLetter?: string
  /** Longest input line (with --input), e.g. "16MiB". */
  maxLineBytes?: string
  parallelism?: string
  /** Worker threads; default one per core up to the parallelism ("0": all in this thread). */
  workers?: string
}

/** `nexmark run`'s options: the job's, and the monitoring server's. */
export type RunQueryCommandOptions = RunQueryOptions & ServerFlags & CheckpointFlags

/** The connector modules a query's options name (broker URIs), loaded before nexmarkPipeline builds it. */
export function loadQueryConnectors(o: RunQueryOptions): Promise<void> {
  return loadConnectors([o.input, o.out, o.deadLetter])
}

/**
 * Builds the pipeline of one Nexmark query over the generator, an event file or a broker (its
 * connector loaded first: loadQueryConnectors).
 */
export function nexmarkPipeline(o: RunQueryOptions, sink: Sink<unknown>): Pipeline {
  const q = query(o.query)
  const policy = parseChoice('--on-error', o.onError) ?? 'fail'
  const parallelism = parseOption('--parallelism', o.parallelism) ?? 1
  const p = new Pipeline(`nexmark-${q.name}`, { parallelism, ...(o.deadLetter ? { deadLetter: isConnectorUri(o.deadLetter) ? sinkFromUri<DeadLetter>(o.deadLetter) : fileSink(o.deadLetter) } : {}) })
  let source: Source<NexmarkEvent>
  const maxLineBytes = parseOption('--max-line-bytes', o.maxLineBytes)
  if (o.input !== undefined && isConnectorUri(o.input)) {
    if (maxLineBytes !== undefined) throw new SluiceError('CLI_USAGE', '--max-line-bytes applies to an input file, not to a broker URI')
    // One event per message, as a line of the JSON Lines file.
    source = sourceFromUri<NexmarkEvent>(o.input, { format: 'string', record: (m) => parseEventJsonl(m.value as string) })
  } else if (o.input !== undefined) {
    source = fileSource<NexmarkEvent>(o.input, { format: 'lines', parse: (line) => parseEventJsonl(line as string), ...(maxLineBytes === undefined ? {} : { maxLineBytes }) })
  } else {
    if (maxLineBytes !== undefined) throw new SluiceError('CLI_USAGE', '--max-line-bytes needs --input <file> (the generator reads no lines)')
    const rate = parseOption('--rate', o.rate)
    const events = parseOption('--events', o.events) ?? 1_000_000
    // --events 0: an unbounded generator.
    source = nexmarkSource({ ...(events === 0 ? {} : { events }), seed: parseOption('--seed', o.seed) ?? 0, ...(rate ? { eventsPerSecond: rate } : {}) })
  }
  const events = p.source('nexmark', source, {
    watermarks: boundedOutOfOrderness({ timestamp: eventTime, maxOutOfOrdernessMs: NEXMARK_OUT_OF_ORDERNESS_MS }),
    onError: policy,
  })
  q.build(events).to('results', sink)
  return p
}

function sinkFor(o: RunQueryOptions): Sink<unknown> {
  if (o.discard) return blackholeSink()
  if (o.out === undefined) return stdoutSink()
  return isConnectorUri(o.out) ? sinkFromUri(o.out) : fileSink(o.out)
}

/**
 * The job as worker threads rebuild it: the same options give the same pipeline, with its sink
 * chosen from the options (a file, stdout, or discarded).
 */
export async function nexmarkJob(o: RunQueryOptions): Promise<Pipeline> {
  await loadQueryConnectors(o)
  const p = nexmarkPipeline(o, sinkFor(o))
  p.module = { url: import.meta.url, exportName: 'nexmarkJob', args: [o] }
  return p
}

export async function runQueryCommand(command: RunQueryCommandOptions): Promise<number> {
  const { server, port, host, token, allowedHost, checkpointDir, checkpointInterval, checkpointTimeout, allowNonRestoredState, fromSavepoint, savepointDir, restartAttempts, restartDelay, restartBackoff, restartReset, ...o } = command
  const checkpoints = checkpointOptions({ checkpointDir, checkpointInterval, checkpointTimeout, allowNonRestoredState, fromSavepoint, savepointDir })
  const restart = restartOptions({ restartAttempts, restartDelay, restartBackoff, restartReset })
  if (checkpointDir !== undefined) await prefetchCheckpoint(checkpointDir, fromSavepoint)
  const parallelism = parseOption('--parallelism', o.parallelism) ?? 1
  const workers = parseOption('--workers', o.workers) ?? (parallelism > 1 ? defaultWorkers(parallelism) : 0)
  await loadQueryConnectors(o)
  const p = workers > 0 ? await nexmarkJob(o) : nexmarkPipeline(o, sinkFor(o))
  const t0 = performance.now()
  const job = p.run({ workers, ...(checkpoints === undefined ? {} : { checkpoints }), ...(restart === undefined ? {} : { restart }) })
  const release = onInterrupt(() => void job.stop())
  const monitoring = await monitorJob(p, job, { server, port, host, token, allowedHost }, { id: o.query })
  try {
    const result = await job.done
    const s = (performance.now() - t0) / 1000
    // Over the whole job (a run that resumed from a checkpoint adds what the checkpoint counted),
    // from the sink's own counter: it matches what an exactly-once output holds.
    const restore = job.checkpoints()?.restore ?? null
    const events = jobTotal(result.metrics, restore?.counts, 'nexmark', 'recordsOut')
    const rows = jobTotal(result.metrics, restore?.counts, 'results', 'recordsIn')
    const runEvents = operatorTotal(result.metrics, 'nexmark', 'recordsOut')
    const where = workers > 0 ? `, parallelism ${parallelism} on ${workers} worker threads` : parallelism > 1 ? `, parallelism ${parallelism} in one thread` : ''
    const startup = result.startupMs / 1000
    const running = startup > 0 ? ` (${startup.toFixed(2)} s starting workers; ${Math.round(runEvents / (s - startup)).toLocaleString('en-US')} events/s once running)` : ''
    process.stderr.write(
      `${o.query}: ${events} events in ${s.toFixed(2)} s (${Math.round(runEvents / s).toLocaleString('en-US')} events/s)${running}, ${rows} result rows${where}${result.status === 'stopped' ? ' (stopped)' : ''}${restore === null ? '' : ` (counted since the job first started; this run resumed from checkpoint ${restore.checkpointId})`}\n`,
    )
    return EXIT_OK
  } finally {
    release()
    await monitoring.close()
  }
}
