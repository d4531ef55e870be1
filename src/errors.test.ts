import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CodecError } from './runtime/exchange/codec/codec-error.ts'
import { ERROR_CODES, MAX_CAUSE_DEPTH, SluiceError, deserializeError, isSluiceError, reasonOf, serializeError, type SerializedError } from './errors.ts'

const SRC = new URL('./', import.meta.url)
/** The sections of docs/GUIDE.md that hints may point at (fixed in issue 13 before the guide was written). */
const GUIDE_ANCHORS = new Set([
  'concepts', 'event-time-and-watermarks', 'checkpoints-and-guarantees', 'sources-and-sinks', 'csv-columns', 'operators', 'windows', 'joins',
  'keyed-state-and-timers', 'aggregate-functions', 'process-functions', 'errors-and-dead-letters', 'parallelism-and-workers',
  'job-files-and-the-cli', 'the-dashboard-and-the-diagnosis', 'running-from-code',
])
const ROOT = new URL('../', import.meta.url)

/** The engine's own source files (not tests), relative to src/, without block and whole-line comments. */
function engineSources(): { path: string; text: string }[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((p) => p.endsWith('.ts') && !p.endsWith('.test.ts'))
    .map((path) => ({ path, text: readFileSync(new URL(path, SRC), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '') }))
}

describe('error catalogue', () => {
  it('docs/ERRORS.md lists exactly the codes of the catalogue, with the same kinds', () => {
    const doc = readFileSync(new URL('../docs/ERRORS.md', import.meta.url), 'utf8')
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]])
    const documented = Object.fromEntries(rows)
    const catalogue = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, info]) => [code, info.kind]))
    expect(documented).toEqual(catalogue)
  })

  it('every code is raised somewhere in src/ (a code nothing raises is a promise the engine does not keep)', () => {
    // errors.ts defines the codes and cli/errors.ts sorts them into exit codes: neither raises one.
    const sources = engineSources().filter((f) => f.path !== 'errors.ts' && f.path !== 'cli/errors.ts')
    const unused = Object.keys(ERROR_CODES).filter((code) => !sources.some((f) => f.text.includes(`'${code}'`)))
    expect(unused).toEqual([])
  })

  it('no engine code throws a plain Error: every failure carries a code', () => {
    const exempt = new Set([
      // errors.ts re-creates a foreign error that crossed a thread as what it was.
      'errors.ts',
      // Test helpers: their throws are assertion failures a test runner reports.
      'runtime/exchange/ring/sab-ring-test-support.ts', 'state/snapshot-test-support.ts', 'connectors/source-contract.ts', 'testing/until.ts',
      'operators/restore-scenarios-test-support.ts',
      // Decoder internals: their RangeErrors are caught by decodeSnapshot and rethrown as CHECKPOINT_CORRUPT.
      'state/value-reader.ts', 'state/snapshot.ts', 'state/value-codec.ts',
    ])
    const plain = engineSources()
      .filter((f) => !exempt.has(f.path))
      .flatMap((f) => f.text.split('\n').filter((l) => /\bnew (Error|TypeError|RangeError)\(/.test(l)).map((l) => `${f.path}: ${l.trim()}`))
    expect(plain).toEqual([])
  })

  it('hints point only at documentation that exists', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      for (const [doc] of info.hint.matchAll(/docs\/[\w./-]+\.md/g)) {
        // The guide is written alongside (issue 13); its sections' anchors are fixed (GUIDE_ANCHORS).
        if (doc !== 'docs/GUIDE.md') expect(existsSync(new URL(doc, ROOT)), `${code}: ${doc}`).toBe(true)
      }
    }
  })

  it('every guide anchor a hint or a message names is a section of the guide', () => {
    const named = engineSources().flatMap((f) => [...f.text.matchAll(/docs\/GUIDE\.md#([\w-]*)/g)].map((m) => `${f.path}: #${m[1]}`))
    expect(named.length).toBeGreaterThan(40)
    const guide = new URL('docs/GUIDE.md', ROOT)
    // GitHub's anchors: headings lower-cased, spaces to "-", punctuation dropped.
    const anchors = existsSync(guide)
      ? new Set([...readFileSync(guide, 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^\w\s-]/g, '').replace(/\s/g, '-')))
      : GUIDE_ANCHORS
    expect(named.filter((n) => !anchors.has(n.slice(n.indexOf('#') + 1)))).toEqual([])
  })

  it('every user error says where to read on or names the call that fixes it', () => {
    // These name their fix in full: the queries there are, the Node version to run; a cancelled job needs none.
    const complete = new Set(['JOB_CANCELLED', 'NEXMARK_UNKNOWN_QUERY', 'NODE_UNSUPPORTED'])
    const nowhere = Object.entries(ERROR_CODES).filter(([code, info]) => info.kind === 'user' && !complete.has(code) && !/docs\/[\w./-]+\.md/.test(info.hint))
    expect(nowhere.map(([code]) => code)).toEqual([])
    const vague = Object.entries(ERROR_CODES).filter(([, info]) => /check the (api )?documentation/i.test(info.hint))
    expect(vague).toEqual([])
  })

  it('errors carry code, kind, retryable and hint, and are recognised by shape', () => {
    const e = new SluiceError('SOURCE_IO', 'cannot open x')
    expect(e.message).toBe('SOURCE_IO: cannot open x')
    expect(e.kind).toBe('external')
    expect(e.retryable).toBe(true)
    expect(isSluiceError(e)).toBe(true)
    expect(isSluiceError({ code: 'SOURCE_IO', message: 'cloned across a thread' })).toBe(true)
    expect(isSluiceError(new Error('plain'))).toBe(false)
    expect(isSluiceError({ code: 'toString' })).toBe(false)
  })

  it('reasonOf gives what went wrong without the code, for a message that wraps it under its own', () => {
    expect(reasonOf(new SluiceError('SOURCE_MALFORMED_RECORD', 'the payload is not JSON'))).toBe('the payload is not JSON')
    expect(reasonOf(new Error('disk full'))).toBe('disk full')
    expect(reasonOf('oops')).toBe('oops')
  })
})

/** What postMessage does to the plain object. */
const acrossThreads = (e: unknown, where?: string): SluiceError => deserializeError(structuredClone(serializeError(e)), where)

describe('errors across threads', () => {
  it('a SluiceError keeps its code, message, stack, kind and retryable, and its cause chain with their fields', () => {
    const disk = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
    const e = new SluiceError('SINK_IO', 'cannot write out.jsonl', { cause: disk })
    const back = acrossThreads(e, 'worker 1 of 2')
    expect(back).toBeInstanceOf(SluiceError)
    expect(back.code).toBe('SINK_IO')
    expect(back.message).toBe('SINK_IO: cannot write out.jsonl (worker 1 of 2)')
    expect([back.kind, back.retryable, back.hint]).toEqual([e.kind, e.retryable, e.hint])
    expect(back.stack).toBe(e.stack)
    const cause = back.cause as Error & { code?: string; errno?: number; syscall?: string }
    expect(cause).toBeInstanceOf(Error)
    expect([cause.name, cause.message, cause.code, cause.errno, cause.syscall]).toEqual(['Error', disk.message, 'ENOSPC', -28, 'write'])
    expect(cause.stack).toBe(disk.stack)
  })

  it('names the thread at the end of the first line, above an excerpt of a file with its caret', () => {
    const e = new SluiceError('JOB_FILE_INVALID', 'job.ts:3:1: Expected ")"\n  3 | const y = ;\n    | ^')
    expect(acrossThreads(e, 'worker 1 of 2').message).toBe('JOB_FILE_INVALID: job.ts:3:1: Expected ")" (worker 1 of 2)\n  3 | const y = ;\n    | ^')
  })

  it('a subclass keeps its name and plain fields (a CodecError\'s record index and field)', () => {
    const back = acrossThreads(new CodecError('RECORD_FAILED', 'cannot encode record 3, field "price"', 3, 'price')) as SluiceError & { recordIndex?: number; field?: string }
    expect([back.name, back.code, back.recordIndex, back.field]).toEqual(['CodecError', 'RECORD_FAILED', 3, 'price'])
    expect(back.message).toBe('RECORD_FAILED: cannot encode record 3, field "price"')
  })

  it('anything else arrives as INTERNAL with the original, name and stack kept, as its cause', () => {
    const bug = new TypeError('cannot read properties of undefined')
    const back = acrossThreads(bug, 'worker 0 of 2')
    expect(back.code).toBe('INTERNAL')
    expect(back.retryable).toBe(false)
    expect(back.message).toBe('INTERNAL: TypeError: cannot read properties of undefined (worker 0 of 2)')
    expect(back.stack).toBe(bug.stack)
    expect((back.cause as Error).name).toBe('TypeError')
    expect(acrossThreads('a thrown string').message).toBe('INTERNAL: a thrown string')
    expect(acrossThreads({ reason: 'an object' }).message).toBe('INTERNAL: {"reason":"an object"}')
  })

  it('a foreign string code that is no catalogue code stays on the original', () => {
    const back = acrossThreads(Object.assign(new Error('Cannot find module x'), { code: 'ERR_MODULE_NOT_FOUND' }))
    expect(back.code).toBe('INTERNAL')
    expect((back.cause as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND')
  })

  it('keeps at most MAX_CAUSE_DEPTH causes, and a cycle in the chain ends it', () => {
    let e: Error = new Error('root')
    for (let i = 1; i <= 20; i++) e = new SluiceError('INTERNAL', `level ${i}`, { cause: e })
    let depth = 0
    for (let x: SerializedError | undefined = serializeError(e).cause; x !== undefined; x = x.cause) depth++
    expect(depth).toBe(MAX_CAUSE_DEPTH)
    const a = new Error('a')
    const b = new Error('b', { cause: a })
    ;(a as { cause?: unknown }).cause = b
    const s = serializeError(a)
    expect([s.message, s.cause?.message, s.cause?.cause]).toEqual(['a', 'b', undefined])
  })

  it('an error re-created from its shape alone (no class) is read by its code', () => {
    const back = deserializeError({ name: 'SluiceError', code: 'SOURCE_IO', message: 'SOURCE_IO: cannot open x' })
    expect(back.message).toBe('SOURCE_IO: cannot open x')
    expect(back.retryable).toBe(true)
  })
})
