import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { SluiceError } from '../../errors.ts'
import { excerpt, jobFileError } from './job-file-error.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-job-file-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** The error jobFileError makes of `e`, thrown importing `path`. */
function reported(path: string, e: unknown): { code: string; message: string } {
  const r = jobFileError(pathToFileURL(path).href, e)
  expect(r).toBeInstanceOf(SluiceError)
  return { code: (r as SluiceError).code, message: (r as SluiceError).message }
}

describe('jobFileError', () => {
  it('places a TypeScript syntax error from esbuild\'s TransformError (0-based column) and shows the line', () => {
    const path = file('a.ts', 'const a = 1\nconst b = (\n')
    const e = Object.assign(new Error(`Transform failed with 1 error:\n${path}:2:10: ERROR: Unexpected end of file`), { name: 'TransformError' })
    expect(reported(path, e)).toEqual({ code: 'JOB_FILE_INVALID', message: `JOB_FILE_INVALID: ${path}:2:11: Unexpected end of file\n  2 | const b = (\n    |           ^` })
  })

  it('places a JavaScript syntax error that carries no place with node --check, also in a file the job imports', () => {
    const helper = file('helper.mjs', 'export const x = [1, 2\n')
    const job = file('job.mjs', "import { x } from './helper.mjs'\nexport default x\n")
    // As Node throws it: no place, and only its own frames.
    const e = new SyntaxError('Unexpected end of input')
    e.stack = 'SyntaxError: Unexpected end of input\n    at compileSourceTextModule (node:internal/modules/esm/utils:346:16)'
    const r = reported(job, e)
    expect(r.code).toBe('JOB_FILE_INVALID')
    expect(r.message).toMatch(new RegExp(`^JOB_FILE_INVALID: ${helper}:\\d+:\\d+: .+\\n  \\d \\| `))
  })

  it('names the package a job imports that cannot be found, at its import', () => {
    const job = file('pkg.mjs', "import a from 'node:path'\nimport pad from 'left-pad/sub'\n")
    const e = Object.assign(new Error(`Cannot find package 'left-pad' imported from ${job}`), { code: 'ERR_MODULE_NOT_FOUND' })
    const r = reported(job, e)
    expect(r.code).toBe('JOB_FILE_IMPORT_FAILED')
    expect(r.message).toContain(`${job}:2:18: cannot find the package 'left-pad' it imports: install it (npm install left-pad)`)
  })

  it('names a relative import as the file writes it', () => {
    const job = file('rel.ts', 'import { h } from "./lib/h.ts"\n')
    const e = Object.assign(new Error(`Cannot find module '${join(dir, 'lib/h.ts')}' imported from ${job}`), { code: 'ERR_MODULE_NOT_FOUND' })
    expect(reported(job, e).message).toContain(`${job}:1:20: cannot find the module './lib/h.ts' it imports`)
  })

  it('treats a SyntaxError thrown by running code (JSON.parse) as thrown while loading, at the user\'s frame', () => {
    const job = file('runs.ts', "const x = 1\nJSON.parse('{')\n")
    const e = new SyntaxError('Unexpected end of JSON input')
    e.stack = `SyntaxError: Unexpected end of JSON input\n    at JSON.parse (<anonymous>)\n    at <anonymous> (${job}:2:6)\n    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)`
    expect(reported(job, e).message).toBe(`JOB_FILE_IMPORT_FAILED: ${job}:2:6: the job file threw while it was loading: SyntaxError: Unexpected end of JSON input\n  2 | JSON.parse('{')\n    |      ^`)
  })

  it('passes a SluiceError through as it is (a Pipeline that rejects its options)', () => {
    const e = new SluiceError('JOB_INVALID_ID', 'invalid operator id ""')
    expect(jobFileError('file:///x.ts', e)).toBe(e)
  })
})

describe('excerpt', () => {
  it('cuts a long line to a window around the column, the caret under it', () => {
    const path = file('long.ts', `${'x'.repeat(500)}!${'y'.repeat(500)}\n`)
    const [, line, caret] = excerpt({ file: path, line: 1, column: 501 }).split('\n')
    expect(line.length).toBeLessThan(200)
    expect(line.indexOf('!')).toBe(caret.indexOf('^'))
  })

  it('is empty for a file it cannot read or a line past its end', () => {
    expect(excerpt({ file: join(dir, 'none.ts'), line: 1, column: 1 })).toBe('')
    expect(excerpt({ file: file('short.ts', 'a\n'), line: 9, column: 1 })).toBe('')
  })
})
