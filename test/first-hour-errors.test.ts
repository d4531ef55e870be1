/**
 * The errors a new user meets in the first hour (issue 13), as `sluice run` prints them: CSV
 * columns and their types, the line of a bad record, a run that skipped everything, and job files
 * that do not parse or import what is not there.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root, sluice, TEST_DEADLINE_MS } from './support/cli.ts'

/** Job files live inside the package, so that their `import … from 'sluice'` resolves. */
let dir: string

function write(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** A header and 17 records, 18 lines: record k is line k + 2; line 2 starts at byte 13. */
const VIEWS = `user,ts,page\n${Array.from({ length: 17 }, (_, k) => `u${k % 3},${1767225600000 + k * 1000},p${k}`).join('\n')}\n`

/** A job reading views.csv with event time from `ts`, the source's CSV options and error policy given. */
function viewsJob(name: string, csv: string, onError: string, body = ''): string {
  return write(name, `import { Pipeline, boundedOutOfOrderness } from 'sluice'
import { fileSink, fileSource, stdoutSink } from 'sluice/connectors'
interface View { user: string; ts: number; page: string }
export const pipeline = new Pipeline('views')
void fileSink
pipeline
  .source('views', fileSource<View>(${JSON.stringify(join(dir, 'views.csv'))}, { csv: ${csv} }), {
    watermarks: boundedOutOfOrderness({ timestamp: (v: View) => v.ts, maxOutOfOrdernessMs: 0 }),
    onError: '${onError}',
  })${body}
  .to('print', stdoutSink())
`)
}

/** No loader or bundler stack: no "    at …" frames, no esbuild, no tsx. */
function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m)
  expect(stderr).not.toMatch(/TransformError|esbuild|node_modules|unexpected error/)
}

beforeAll(() => {
  dir = mkdtempSync(join(root, '.first-hour-'))
  write('views.csv', VIEWS)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('CSV columns', { timeout: TEST_DEADLINE_MS }, () => {
  it('arrive typed without a declaration: a numeric column is a number, and event time works', () => {
    const job = viewsJob('inferred.ts', '{}', 'fail')
    const r = sluice('run', job, '--no-server')
    expect(r.stderr).not.toMatch(/warning/)
    expect(r.code).toBe(0)
    const first = JSON.parse(r.stdout.split('\n')[0]) as { ts: unknown }
    expect(first).toEqual({ user: 'u0', ts: 1767225600000, page: 'p0' })
  })

  it('kept as strings, a timestamp fails at the record\'s own line, shown as a string, with how to declare the column', () => {
    const r = sluice('run', viewsJob('strings-fail.ts', '{ infer: false }', 'fail'), '--no-server')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`source "views" rejected the record at ${join(dir, 'views.csv')} line 2 (byte 13): TIMESTAMP_INVALID: timestamp is "1767225600000" (a string), not a finite number of epoch ms`)
    expect(r.stderr).toContain("csv: { types: { <column>: 'number' } }, see docs/GUIDE.md#csv-columns")
  })

  it('kept as strings under onError: skip, the run warns that every record was skipped, with the first reason', () => {
    const r = sluice('run', viewsJob('strings-skip.ts', '{ infer: false }', 'skip'), '--no-server')
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/views: 17 skipped/)
    expect(r.stderr).toContain(`sluice: warning: every record of \`views\` was skipped (17 records): first reason: ${join(dir, 'views.csv')} line 2 (byte 13): TIMESTAMP_INVALID: timestamp is "1767225600000" (a string)`)
  })

  it('a value that does not fit its column\'s type names the column, the value, the line and how to declare it', () => {
    write('late.csv', VIEWS.replace('u0,1767225603000', 'u0,soon'))
    const job = write('typed-value.ts', `import { Pipeline } from 'sluice'
import { fileSource, stdoutSink } from 'sluice/connectors'
export const pipeline = new Pipeline('typed')
pipeline.source('views', fileSource(${JSON.stringify(join(dir, 'late.csv'))})).to('print', stdoutSink())
`)
    const r = sluice('run', job, '--no-server')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`rejected the record at ${join(dir, 'late.csv')} line 5 (byte `)
    expect(r.stderr).toContain("column ts: 'soon' is not a number, the type inferred from the column's first value ('1767225600000'); declare the column's type: csv: { types: { ts: 'string' } }")
    expect(r.stderr).toContain('docs/GUIDE.md#csv-columns')
  })
})

describe('the line of a record that fails in an operator', { timeout: TEST_DEADLINE_MS }, () => {
  it('is the record\'s own (line 2 of 18), not the end of the batch, in the error and in the dead letter', () => {
    const fail = sluice('run', viewsJob('operator-fail.ts', '{}', 'fail', `
  .map('check', (v) => { if (v.page === 'p0') throw new Error('no page p0'); return v })`), '--no-server')
    expect(fail.code).toBe(1)
    expect(fail.stderr).toContain(`RECORD_FAILED: operator "check" failed on input record #1, read at ${join(dir, 'views.csv')} line 2 (byte 13): no page p0`)
    expect(fail.stderr).not.toMatch(/line 1[0-9]\b/)
    const dead = join(dir, 'dead.jsonl')
    const job = viewsJob('operator-dead.ts', '{}', 'fail', `
  .map('check', (v) => { if (v.page === 'p0') throw new Error('no page p0'); return v }, { onError: 'dead-letter', deadLetter: fileSink(${JSON.stringify(dead)}) })`)
    const letters = sluice('run', job, '--no-server')
    expect(letters.code).toBe(0)
    expect(JSON.parse(readFileSync(dead, 'utf8').trim())).toMatchObject({ operator: 'check', position: `input record #1, read at ${join(dir, 'views.csv')} line 2 (byte 13)`, reason: 'no page p0' })
  })
})

describe('job files that do not load', { timeout: TEST_DEADLINE_MS }, () => {
  it('a TypeScript syntax error: JOB_FILE_INVALID with file:line:column and the line, no bundler stack', () => {
    const job = write('syntax.ts', 'import { Pipeline } from \'sluice\'\nexport const pipeline = new Pipeline(\'x\'\nconst y = ;\n')
    const r = sluice('run', job, '--no-server')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`sluice: JOB_FILE_INVALID: ${job}:3:1: Expected ")" but found "const"\n  3 | const y = ;\n    | ^\n  what to do: Fix the syntax`)
    expectNoStack(r.stderr)
  })

  it('a JavaScript syntax error: the same, placed by its own line and column', () => {
    const job = write('syntax.mjs', 'import { Pipeline } from \'sluice\'\nexport const pipeline = new Pipeline(\'x\'\nconst y = ;\n')
    const r = sluice('run', job, '--no-server')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`sluice: JOB_FILE_INVALID: ${job}:2:38: missing ) after argument list\n  2 | export const pipeline = new Pipeline('x'\n    |                                      ^`)
    expectNoStack(r.stderr)
  })

  it('a missing package or file names the module and the importing file, at the import', () => {
    const pkg = write('missing-package.ts', 'import { Pipeline } from \'sluice\'\nimport pad from \'no-such-package-sluice\'\nexport const pipeline = new Pipeline(String(pad))\n')
    const a = sluice('run', pkg, '--no-server')
    expect(a.code).toBe(1)
    expect(a.stderr).toContain(`sluice: JOB_FILE_IMPORT_FAILED: ${pkg}:2:18: cannot find the package 'no-such-package-sluice' it imports: install it (npm install no-such-package-sluice)`)
    expectNoStack(a.stderr)
    const file = write('missing-file.mjs', 'import { Pipeline } from \'sluice\'\nimport { helper } from \'./helpers.mjs\'\nexport const pipeline = new Pipeline(String(helper))\n')
    const b = sluice('run', file, '--no-server')
    expect(b.code).toBe(1)
    expect(b.stderr).toContain(`sluice: JOB_FILE_IMPORT_FAILED: ${file}:2:25: cannot find the module './helpers.mjs' it imports`)
    expectNoStack(b.stderr)
  })

  it('on a worker thread: an error while the job file loads there names its line, and the worker', () => {
    const job = write('worker-throws.ts', `import { isMainThread } from 'node:worker_threads'
import { Pipeline } from 'sluice'
import { fromArray, stdoutSink } from 'sluice/connectors'
export const pipeline = new Pipeline('worker-throws', { module: import.meta.url })
if (!isMainThread) JSON.parse('{"unfinished": ')
pipeline.source('numbers', fromArray([1, 2, 3])).map('double', (n) => n * 2).to('print', stdoutSink())
`)
    const r = sluice('run', job, '--no-server', '--workers', '1')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`sluice: JOB_FILE_IMPORT_FAILED: ${job.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: the job file threw while it was loading: SyntaxError: .*JSON.* \\(worker \\d of 1\\)\\n  5 \\| if \\(!isMainThread\\)`))
    expectNoStack(r.stderr)
  })
})
