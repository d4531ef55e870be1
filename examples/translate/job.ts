// Real-time translation: a stream of short texts, each with a target language, translated by a
// translation service in batched HTTP calls (mapAsyncBatch), then counted per language in
// 10-second event-time windows. The job starts its own service (service.ts) on 127.0.0.1, slow on
// purpose, so the dashboard has a bottleneck to show. Run from the repository root:
//   sluice run examples/translate/job.ts
// Settings come from environment variables (the CLI passes a job no arguments), e.g.
//   TRANSLATE_RECORDS=0 TRANSLATE_CONCURRENCY=16 sluice run examples/translate/job.ts
// runs until stopped (Ctrl-C) with 16 calls in flight; examples/translate/README.md lists them all.
import { isMainThread } from 'node:worker_threads'
import { Pipeline, SluiceError, count, monotonousTimestamps, tumbling } from 'sluice'
import { generatorSource, stdoutSink } from 'sluice/connectors'
import { startTranslationService, type TranslateRequest, type TranslateResponse } from './service.ts'
import { textAt, type Text } from './texts.ts'

export interface Translated extends Text { translation: string }

/** How the job runs (all plain values: worker threads get them as the module's arguments). */
export interface TranslateJobOptions {
  /** Base URL of the translation service (POST `${serviceUrl}/translate`). */
  serviceUrl: string
  /** Texts to generate; Infinity: until stopped. */
  records: number
  /** Texts per second at most (default: as fast as the job takes them). */
  ratePerSecond?: number
  /** mapAsyncBatch: texts per call, how long a batch waits to fill, calls in flight, per-attempt timeout. */
  maxBatch: number
  maxWaitMs: number
  concurrency: number
  timeoutMs: number
  /** Tumbling window size, ms of event time. */
  windowMs: number
}

/** An answer other than 200 from the service. */
export class ServiceError extends Error {
  constructor(readonly status: number, body: string) {
    super(`translation service answered ${status}: ${body}`)
  }
}

/** Retried: timeouts, lost connections, 429 and 5xx. Not retried: a request the service refused as wrong. */
const retryable = (e: unknown): boolean => !(e instanceof ServiceError && e.status !== 429 && e.status < 500)

/** One call: a batch of texts in one POST, their translations back in the same order. */
export async function translateBatch(serviceUrl: string, texts: readonly Text[], signal: AbortSignal): Promise<Translated[]> {
  const body: TranslateRequest = { items: texts.map((t) => ({ text: t.text, to: t.to })) }
  // The signal aborts the request when the call times out or the job stops.
  const res = await fetch(`${serviceUrl}/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal })
  if (!res.ok) throw new ServiceError(res.status, await res.text())
  const { translations } = (await res.json()) as TranslateResponse
  return texts.map((t, i) => ({ ...t, translation: translations[i] }))
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** The job, calling the service at `o.serviceUrl`. Worker threads build it through this export too. */
export function translatePipeline(o: TranslateJobOptions): Pipeline {
  const p = new Pipeline('translate', { module: { url: import.meta.url, exportName: 'translatePipeline', args: [o] } })
  p.source('texts', generatorSource(textAt, { count: o.records, ...(o.ratePerSecond === undefined ? {} : { ratePerSecond: o.ratePerSecond }) }), {
    watermarks: monotonousTimestamps((t: Text) => t.ts),
  })
    .mapAsyncBatch('translate', (texts: Text[], call) => translateBatch(o.serviceUrl, texts, call.signal), {
      maxBatch: o.maxBatch,
      maxWaitMs: o.maxWaitMs,
      concurrency: o.concurrency,
      timeoutMs: o.timeoutMs,
      retry: { attempts: 3, backoffMs: 100, retryOn: retryable },
    })
    .keyBy((t) => t.to)
    .window(tumbling(o.windowMs))
    .aggregate('texts-per-language', count(), (language, w, texts) => ({ language, windowStart: iso(w.start), texts }))
    .to('print', stdoutSink())
  return p
}

/**
 * The settings `sluice run` uses, from the environment: TRANSLATE_RECORDS (default 5000; 0: until
 * stopped), TRANSLATE_RATE, TRANSLATE_MAX_BATCH (10), TRANSLATE_MAX_WAIT_MS (10),
 * TRANSLATE_CONCURRENCY (4), TRANSLATE_TIMEOUT_MS (5000), TRANSLATE_WINDOW_MS (10000).
 */
export function jobOptionsFromEnv(env: NodeJS.ProcessEnv, serviceUrl: string): TranslateJobOptions {
  const records = envNumber(env, 'TRANSLATE_RECORDS', 5000, 0, Number.MAX_SAFE_INTEGER, true)
  const rate = env.TRANSLATE_RATE === undefined ? undefined : envNumber(env, 'TRANSLATE_RATE', 0, 1, 1e9, false)
  return {
    serviceUrl,
    records: records === 0 ? Infinity : records,
    ...(rate === undefined ? {} : { ratePerSecond: rate }),
    maxBatch: envNumber(env, 'TRANSLATE_MAX_BATCH', 10, 1, 100_000, true),
    maxWaitMs: envNumber(env, 'TRANSLATE_MAX_WAIT_MS', 10, 0, 3_600_000, false),
    concurrency: envNumber(env, 'TRANSLATE_CONCURRENCY', 4, 1, 10_000, true),
    timeoutMs: envNumber(env, 'TRANSLATE_TIMEOUT_MS', 5000, 0, 86_400_000, false),
    windowMs: envNumber(env, 'TRANSLATE_WINDOW_MS', 10_000, 1, 86_400_000, true),
  }
}

function envNumber(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number, whole: boolean): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return dflt
  const v = Number(raw)
  if (!Number.isFinite(v) || v < min || v > max || (whole && !Number.isInteger(v))) {
    throw new SluiceError('PIPELINE_OPTION_INVALID', `examples/translate: ${name} must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return v
}

/**
 * What `sluice run examples/translate/job.ts` calls (in the main thread only): starts the service,
 * unless TRANSLATE_SERVICE_URL names one already running, and returns the job calling it. The
 * service lives as long as the process and closes when it is about to exit, after the job.
 * Service settings: TRANSLATE_LATENCY_MS (default 50), TRANSLATE_PER_ITEM_MS (0.5),
 * TRANSLATE_SERVICE_CONCURRENCY (16 requests served at once).
 */
export default async function main(): Promise<Pipeline> {
  // Worker threads build the job through translatePipeline (the Pipeline's module), never this:
  // a second service per thread would split the load the dashboard is meant to show.
  if (!isMainThread) throw new Error('examples/translate: main() starts the service and runs only in the main thread')
  const external = process.env.TRANSLATE_SERVICE_URL
  if (external !== undefined && external !== '') return translatePipeline(jobOptionsFromEnv(process.env, external))

  const latencyMs = envNumber(process.env, 'TRANSLATE_LATENCY_MS', 50, 0, 3_600_000, false)
  const perItemMs = envNumber(process.env, 'TRANSLATE_PER_ITEM_MS', 0.5, 0, 3_600_000, false)
  const maxConcurrent = envNumber(process.env, 'TRANSLATE_SERVICE_CONCURRENCY', 16, 1, 100_000, true)
  const job = jobOptionsFromEnv(process.env, '')
  // unref: the job alone keeps the process alive; when it ends, beforeExit closes the service.
  const service = await startTranslationService({ latencyMs, perItemMs, maxConcurrent, unref: true })
  process.stderr.write(`translation service: ${service.url}, ${latencyMs} ms per request + ${perItemMs} ms per text, ${maxConcurrent} requests at a time\n`)
  process.once('beforeExit', () => {
    const s = service.stats
    const perRequest = s.requests === 0 ? 0 : s.texts / s.requests
    process.stderr.write(`translation service: ${s.texts} texts translated in ${s.requests} requests (${perRequest.toFixed(1)} per request), at most ${s.maxActive} served and ${s.maxWaiting} waiting at once\n`)
    void service.close()
  })
  return translatePipeline({ ...job, serviceUrl: service.url })
}
