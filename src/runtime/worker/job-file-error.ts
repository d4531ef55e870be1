/**
 * What went wrong importing a job file, as a coded error a person can act on: the file, line and
 * column, the offending line with a caret under the place, and never the loader's or bundler's
 * stack. Runs only when an import failed.
 *
 * The errors it reads differ by loader: tsx (TypeScript, and any file while Sluice runs from its
 * sources) reports a TypeScript syntax error as esbuild's TransformError with "file:line:col" in
 * its message and a JavaScript one as an es-module-lexer "Parse error" without a usable place;
 * Node reports a JavaScript syntax error with no place at all. For JavaScript the place comes
 * from `node --check` of the file.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeCause, isSluiceError, SluiceError } from '../../errors.ts'

/** A place in a file: 1-based line and column. */
interface Place {
  readonly file: string
  readonly line: number
  readonly column: number
}

const SHOWN_LINE_CHARS = 160
const CHECK_TIMEOUT_MS = 30_000
const JS = /\.(?:m|c)?js$/

/**
 * The error to report for `e`, thrown importing the job module at `url`: a SluiceError as it is,
 * otherwise JOB_FILE_INVALID (syntax) or JOB_FILE_IMPORT_FAILED (a module or export that cannot
 * be found, or an error thrown while the file ran), the original kept as the cause.
 */
export function jobFileError(url: string, e: unknown): unknown {
  if (isSluiceError(e)) return e
  const jobFile = url.startsWith('file:') ? fileURLToPath(url) : url
  const err: { readonly name: string; readonly message: string; readonly stack?: string } = e instanceof Error ? e : { name: 'Error', message: String(e) }
  const message = err.message
  const code = (err as { code?: unknown }).code

  const transform = /^(.+?):(\d+):(\d+): ERROR: (.+)$/m.exec(message)
  if (err.name === 'TransformError' && transform !== null) {
    return invalid({ file: transform[1], line: Number(transform[2]), column: Number(transform[3]) + 1 }, transform[4], e)
  }

  const missingExport = /does not provide an export named '([^']+)'/.exec(message)
  if (err.name === 'SyntaxError' && missingExport !== null) {
    const place = stackHeadPlace(err.stack)
    return importFailed(place, `${message}: import only what the module exports (check the name's spelling)`, jobFile, e)
  }

  const parse = /^Parse error (.+?):\d+:\d+$/.exec(message)
  // A SyntaxError thrown by running code (JSON.parse) has the user's frames; one from parsing has none.
  if ((err.name === 'SyntaxError' && userFrame(err.stack) === null) || parse !== null) {
    const candidates = parse !== null ? [parse[1]] : [jobFile, ...relativeImports(jobFile)]
    for (const file of candidates) {
      const found = checkSyntax(file)
      if (found !== null) return invalid(found.place, found.message, e)
    }
    const where = parse !== null ? parse[1] : `${jobFile} or a module it imports`
    return new SluiceError('JOB_FILE_INVALID', `${where}: ${parse !== null ? 'cannot be parsed' : message}`, { cause: e })
  }

  const notFound = /^Cannot find (module|package) '([^']+)' imported from (.+)$/.exec(message)
  if (code === 'ERR_MODULE_NOT_FOUND' && notFound !== null) {
    const [, kind, what, importer] = notFound
    const place = findImport(importer, kind === 'package' ? what : what.slice(what.lastIndexOf('/') + 1), kind === 'package')
    // A relative import as the file writes it ('./helpers.ts'), not as resolved.
    const written = place === null || kind === 'package' ? what : (/^['"]([^'"]+)['"]/.exec(lineOf(place).slice(place.column - 2))?.[1] ?? what)
    const fix = kind === 'package'
      ? `install it (npm install ${packageName(what)}) where the job file can find it, or correct the name`
      : 'correct the path (relative to the importing file, with its extension, as in ./helpers.ts)'
    return importFailed(place ?? { file: importer, line: 0, column: 0 }, `cannot find the ${kind} '${written}' it imports: ${fix}`, jobFile, e)
  }

  if (typeof code === 'string' && code.startsWith('ERR_')) {
    return new SluiceError('JOB_FILE_IMPORT_FAILED', `${jobFile}: ${message}`, { cause: e })
  }
  const frame = userFrame(err.stack)
  const what = `the job file threw while it was loading: ${err.name === 'Error' ? '' : `${err.name}: `}${describeCause(e)}`
  return frame === null
    ? new SluiceError('JOB_FILE_IMPORT_FAILED', `${jobFile}: ${what}`, { cause: e })
    : importFailed(frame, what, jobFile, e)
}

function invalid(place: Place, what: string, cause: unknown): SluiceError {
  return new SluiceError('JOB_FILE_INVALID', `${place.file}:${place.line}:${place.column}: ${what}${excerpt(place)}`, { cause })
}

function importFailed(place: Place | null, what: string, jobFile: string, cause: unknown): SluiceError {
  if (place === null || place.line === 0) return new SluiceError('JOB_FILE_IMPORT_FAILED', `${place?.file ?? jobFile}: ${what}`, { cause })
  return new SluiceError('JOB_FILE_IMPORT_FAILED', `${place.file}:${place.line}:${place.column}: ${what}${excerpt(place)}`, { cause })
}

/** The line at `place` with a caret under its column, indented under the message; '' if unreadable. */
export function excerpt(place: Place): string {
  let text: string
  try {
    text = readFileSync(place.file, 'utf8')
  } catch {
    return ''
  }
  const line = text.split(/\r?\n/)[place.line - 1]
  if (line === undefined) return ''
  // Long lines are cut to a window around the column, so the caret stays under it.
  const from = Math.max(0, Math.min(place.column - 1 - SHOWN_LINE_CHARS / 2, line.length - SHOWN_LINE_CHARS))
  const shown = line.slice(from, from + SHOWN_LINE_CHARS).replace(/\t/g, ' ')
  const number = String(place.line)
  const caret = ' '.repeat(Math.max(0, place.column - 1 - from))
  return `\n  ${number} | ${shown}\n  ${' '.repeat(number.length)} | ${caret}^`
}

function lineOf(place: Place): string {
  try {
    return readFileSync(place.file, 'utf8').split(/\r?\n/)[place.line - 1] ?? ''
  } catch {
    return ''
  }
}

/** A JavaScript file's first syntax error, from `node --check`; null when it parses (or is not JavaScript). */
function checkSyntax(file: string): { place: Place; message: string } | null {
  if (!JS.test(file) || !existsSync(file)) return null
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', env, timeout: CHECK_TIMEOUT_MS })
  if (r.status === 0 || typeof r.stderr !== 'string') return null
  // "<file>:<line>\n<source line>\n<spaces>^^^\n\nSyntaxError: <message>"
  const lines = r.stderr.split('\n')
  const head = /^(.+):(\d+)$/.exec(lines[0] ?? '')
  const reason = lines.find((l) => l.startsWith('SyntaxError: '))
  if (head === null || reason === undefined) return null
  const caret = (lines[2] ?? '').indexOf('^')
  return { place: { file: head[1], line: Number(head[2]), column: caret < 0 ? 1 : caret + 1 }, message: reason.slice('SyntaxError: '.length) }
}

/** Files the job file imports by a relative path that exists: where else a syntax error may be. */
function relativeImports(file: string): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return []
  }
  const out: string[] = []
  for (const m of text.matchAll(/\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const path = resolve(dirname(file), m[1])
    if (existsSync(path)) out.push(path)
  }
  return out
}

/** Where `importer` names `what` in an import (a package name, or a relative path's last part). */
function findImport(importer: string, what: string, isPackage: boolean): Place | null {
  let text: string
  try {
    text = readFileSync(importer, 'utf8')
  } catch {
    return null
  }
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    for (const quote of ["'", '"']) {
      const at = isPackage ? lines[i].indexOf(`${quote}${what}`) : lines[i].indexOf(`${what}${quote}`)
      if (at < 0) continue
      const start = isPackage ? at : lines[i].lastIndexOf(quote, at)
      return { file: importer, line: i + 1, column: start + 2 }
    }
  }
  return null
}

/** "lodash" of "lodash/fp", "@scope/pkg" of "@scope/pkg/sub". */
function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

/** Node's "file:///x.mjs:3" head of a linking error's stack, with the column of its "^". */
function stackHeadPlace(stack: string | undefined): Place | null {
  const lines = (stack ?? '').split('\n')
  const head = /^(file:\/\/\S+):(\d+)$/.exec(lines[0] ?? '')
  if (head === null) return null
  const caret = (lines[2] ?? '').indexOf('^')
  return { file: fileURLToPath(head[1]), line: Number(head[2]), column: caret < 0 ? 1 : caret + 1 }
}

/** The first stack frame in a user's file: not Node's, not a package's. */
function userFrame(stack: string | undefined): Place | null {
  for (const line of (stack ?? '').split('\n')) {
    const m = /^\s*at (?:.*? \()?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?$/.exec(line)
    if (m === null || m[1].includes('/node_modules/')) continue
    const file = m[1].startsWith('file:') ? fileURLToPath(m[1]) : m[1]
    return { file, line: Number(m[2]), column: Number(m[3]) }
  }
  return null
}
