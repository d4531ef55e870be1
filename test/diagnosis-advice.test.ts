/**
 * The diagnosis' advice names only options that exist: every `--option` in a finding's text is an
 * option of the `sluice` command line (read from the commander program src/cli/main.ts builds) or,
 * written as `NODE_OPTIONS=--flag`, a flag Node accepts there; every API name in a code span
 * (`run({ channelCapacity })`, `.parallelism(3)`, `{ ttl: { ttlMs } }`) is a key of an options
 * type or a method of the stream classes. The texts are read from the rules' sources, so every
 * branch counts, including ones no fixture reaches.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command } from 'commander'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { main } from '../src/cli/main.ts'
import type { RunOptions, SourceOptions, PipelineOptions } from '../src/api/pipeline.ts'
import type { SinkOptions } from '../src/api/options.ts'
import type { WindowAggregateOptions } from '../src/api/windowed-stream.ts'
import type { CheckpointOptions } from '../src/runtime/checkpoint/options.ts'
import type { StateOptions } from '../src/state/keyed-state.ts'
import type { StateTtl } from '../src/state/backend.ts'
import type { KeyedJoinOptions } from '../src/operators/join/keyed-join.ts'
import type { BoundedOutOfOrdernessOptions } from '../src/time/watermarks.ts'
import type { AggregateFunction } from '../src/operators/aggregate.ts'
import type { AsyncBatchOptions, KeyedAsyncOptions } from '../src/operators/async/options.ts'
import { Stream } from '../src/api/stream.ts'
import { KeyedStream } from '../src/api/keyed-stream.ts'
import { WindowedStream } from '../src/api/windowed-stream.ts'

const dir = new URL('../src/monitoring/diagnosis/', import.meta.url).pathname
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'test-support.ts')
  .map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8') }))

/** Every option of every command, by command path ("run", "nexmark run"). */
async function cliOptions(): Promise<Map<string, Set<string>>> {
  let program: Command | null = null
  // main() builds the program and parses argv with it: keep the program instead of parsing.
  vi.spyOn(Command.prototype, 'parseAsync').mockImplementation(async function (this: Command) {
    program = this
    return this
  })
  await main([])
  if (program === null) throw new Error('main() never parsed its arguments')
  const out = new Map<string, Set<string>>()
  const walk = (c: Command, path: string[]): void => {
    for (const sub of c.commands) {
      const p = [...path, sub.name()]
      out.set(p.join(' '), new Set(sub.options.map((o) => o.long).filter((l): l is string => l !== undefined)))
      walk(sub, p)
    }
  }
  walk(program, [])
  return out
}

// Complete key lists: the compiler fails here when an options type gains, loses or renames a key.
const keys = <T,>(k: Record<keyof Required<T>, true>): string[] => Object.keys(k)
const API_OPTION_KEYS = new Set([
  ...keys<RunOptions>({ clock: true, channelCapacity: true, fuse: true, parallelism: true, workers: true, latencyMarkerIntervalMs: true, checkpoints: true, restart: true }),
  ...keys<PipelineOptions>({ parallelism: true, maxParallelism: true, module: true, objectives: true, deadLetter: true }),
  ...keys<SourceOptions<unknown>>({ watermarks: true, batchSize: true, onError: true, deadLetter: true }),
  ...keys<SinkOptions>({ parallelism: true, onError: true, deadLetter: true }),
  ...keys<WindowAggregateOptions>({ twoPhase: true, onError: true, deadLetter: true }),
  ...keys<CheckpointOptions>({ dir: true, intervalMs: true, timeoutMs: true, retain: true, allowNonRestoredState: true, fromSavepoint: true, savepointDir: true, savepointWaitMs: true }),
  ...keys<StateOptions>({ ttl: true }),
  ...keys<StateTtl>({ ttlMs: true, time: true }),
  ...keys<KeyedJoinOptions>({ ttlMs: true, ttlTime: true }),
  ...keys<BoundedOutOfOrdernessOptions<unknown>>({ timestamp: true, maxOutOfOrdernessMs: true, idleTimeoutMs: true }),
  ...keys<AggregateFunction<unknown, unknown, unknown>>({ create: true, add: true, result: true, merge: true }),
  ...keys<AsyncBatchOptions & KeyedAsyncOptions>({ concurrency: true, ordered: true, timeoutMs: true, retry: true, maxBatch: true, maxWaitMs: true, keyOrder: true, onError: true }),
])
const API_METHODS = new Set([Stream, KeyedStream, WindowedStream].flatMap((c) => Object.getOwnPropertyNames(c.prototype)))

/** The code spans of the advice: \`...\` inside the rules' template strings, `...` inside their quoted strings. */
function codeSpans(text: string): string[] {
  return text.split('\n').flatMap((line) => [
    ...[...line.matchAll(/\\`((?:[^`\\]|\\[^`])*)\\`/g)].map((m) => m[1]),
    ...[...line.matchAll(/'([^'\\]*)'/g)].flatMap((q) => [...q[1].matchAll(/`([^`]*)`/g)].map((m) => m[1])),
  ])
}

/** Names a code span uses as option keys (`{ a: 1, b }`, `run({ c })`) or methods (`.m(`), or a bare name (`batchSize`, `merge()`). */
function apiNames(span: string): string[] {
  const code = span.replace(/\$\{[^}]*\}/g, '0').replace(/'[^']*'/g, "''")
  const bare = /^([a-zA-Z]+)(?:\(\)|: .*)?$/.exec(code)
  const names = [...code.matchAll(/[{,]\s*([a-zA-Z]+)\s*(?=[:},])/g)].map((m) => m[1])
  const methods = [...code.matchAll(/\.([a-zA-Z]+)\(/g)].map((m) => `.${m[1]}`)
  return [...names, ...methods, ...(bare !== null && !/^[a-z]+$/.test(bare[1]) || bare?.[0].endsWith('()') || bare?.[0].includes(':') ? [bare[1]] : [])]
}

describe('diagnosis advice', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('names only --options the sluice command line has (and Node flags only as NODE_OPTIONS)', async () => {
    const commands = await cliOptions()
    const union = new Set([...commands.values()].flatMap((s) => [...s]))
    // `sluice run` runs any job, so it must know everything the diagnosis advises.
    const run = commands.get('run') ?? new Set<string>()
    const advised: { file: string; option: string; node: boolean }[] = []
    for (const { file, text } of sources) {
      for (const m of text.matchAll(/(NODE_OPTIONS=)?(--[a-z][a-z0-9-]*[a-z0-9])/g)) advised.push({ file, option: m[2], node: m[1] !== undefined })
    }
    expect(advised.map((a) => a.option)).toEqual(expect.arrayContaining(['--parallelism', '--workers', '--checkpoint-timeout', '--checkpoint-interval']))
    for (const a of advised) {
      if (a.node) expect(process.allowedNodeEnvironmentFlags.has(a.option), `${a.file}: ${a.option} in NODE_OPTIONS`).toBe(true)
      else {
        expect(union.has(a.option), `${a.file}: ${a.option} is no option of any sluice command`).toBe(true)
        expect(run.has(a.option), `${a.file}: ${a.option} is no option of sluice run`).toBe(true)
      }
    }
    // The demo's own top finding advises --parallelism 2 (on worker threads): the demo must take it.
    const demo = commands.get('demo') ?? new Set<string>()
    for (const o of ['--parallelism', '--workers']) expect(demo.has(o), `sluice demo lacks ${o}, which the diagnosis advises`).toBe(true)
  })

  it('names only API options and methods that exist', () => {
    const used: { file: string; name: string }[] = []
    for (const { file, text } of sources) for (const span of codeSpans(text)) for (const name of apiNames(span)) used.push({ file, name })
    expect(used.map((u) => u.name)).toEqual(expect.arrayContaining(['channelCapacity', 'batchSize', 'ttlMs', '.parallelism', '.disableChaining', 'onError', 'idleTimeoutMs', 'merge', 'twoPhase', 'concurrency', 'maxBatch', '.mapAsyncBatch']))
    for (const { file, name } of used) {
      const known = name.startsWith('.') ? API_METHODS.has(name.slice(1)) : API_OPTION_KEYS.has(name)
      expect(known, `${file}: \`${name}\` is no API option or stream method`).toBe(true)
    }
  })
})
