/**
 * Every ```ts block of docs/GUIDE.md compiles and runs (issue 13 item 1), as a user's module: it
 * imports from `sluice`, `sluice/connectors`, `sluice/testing` and `sluice/nexmark`, which the
 * `sluice-source` export condition maps to src/ (the files are written inside the package, so the
 * package's own name resolves to it, in tsc as in Node).
 *
 * The guide's conventions, which this test enforces:
 * - A ```ts block is a whole module (imports included) and is run, in a fresh working directory,
 *   by one Node process that runs every example in turn (through tsx, as `sluice run job.ts` is).
 *   It must finish by itself (bounded sources, `await job.done`).
 * - What a block prints (stdout and stderr, in the order written, as a terminal shows them) must
 *   equal the ```text block that directly follows it (only blank lines between); a block that
 *   prints and has no such block fails, so every printed result is checked. In that block, `…`
 *   stands for any text within a line (a time, an absolute path).
 * - `<!-- fragment -->` on the line before a ```ts block makes it compile-only (it still
 *   type-checks); keep those rare.
 * - `<!-- file: NAME -->` on the line before any fenced block writes its contents to NAME in
 *   every example's working directory (input files the examples read).
 * A failure names the guide's line.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatDiagnostic, projectOptions, root } from './support/typescript.ts'

const GUIDE = join(root, 'docs/GUIDE.md')
const GUIDE_NAME = relative(root, GUIDE)
/** Inside the package (so `sluice` resolves to it) and ignored by git. */
const dir = join(root, 'test-artifacts', `guide-examples-${process.pid}`)
/** An example that has not finished after this long is reported as hanging (each takes milliseconds). */
const EXAMPLE_DEADLINE_MS = 60_000

interface Block {
  /** 1-based line of the opening fence. */
  readonly fenceLine: number
  /** 1-based line of the closing fence. */
  readonly endLine: number
  readonly lang: string
  /** The HTML comment on the line before the fence, without `<!--` and `-->`; null when none. */
  readonly marker: string | null
  readonly code: readonly string[]
}

interface Example {
  readonly block: Block
  readonly runnable: boolean
  /** The ```text block right after it: what it must print. */
  readonly expected: Block | null
  readonly file: string
}

function blocksOf(text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i])
    if (open === null) continue
    const fence = open[1]
    let end = i + 1
    while (end < lines.length && !(lines[end].startsWith(fence) && lines[end].trim() === fence)) end++
    let prev = i - 1
    while (prev >= 0 && lines[prev].trim() === '') prev--
    const comment = prev >= 0 ? /^<!--\s*(.*?)\s*-->$/.exec(lines[prev].trim()) : null
    blocks.push({ fenceLine: i + 1, endLine: end + 1, lang: open[2], marker: comment === null ? null : comment[1], code: lines.slice(i + 1, end) })
    i = end
  }
  return blocks
}

const isTs = (b: Block): boolean => b.lang === 'ts' || b.lang === 'typescript'

/** The examples and data files of the guide, and the mistakes in how they are marked. */
function readGuide(): { examples: Example[]; files: Map<string, string>; problems: string[] } {
  const text = readFileSync(GUIDE, 'utf8')
  const lines = text.split('\n')
  const blocks = blocksOf(text)
  const examples: Example[] = []
  const files = new Map<string, string>()
  const problems: string[] = []
  blocks.forEach((b, i) => {
    const fileMarker = b.marker === null ? null : /^file:\s*(\S+)$/.exec(b.marker)
    if (fileMarker !== null) {
      files.set(fileMarker[1], `${b.code.join('\n')}\n`)
      return
    }
    if (!isTs(b)) return
    if (b.marker !== null && b.marker !== 'fragment') problems.push(`${GUIDE_NAME}:${b.fenceLine}: unknown marker <!-- ${b.marker} --> (use <!-- fragment --> or <!-- file: NAME -->)`)
    const next = blocks[i + 1]
    const adjacent = next !== undefined && next.lang === 'text' && next.marker === null && lines.slice(b.endLine, next.fenceLine - 1).every((l) => l.trim() === '')
    const runnable = b.marker !== 'fragment'
    if (!runnable && adjacent) problems.push(`${GUIDE_NAME}:${next.fenceLine}: output after a fragment is never checked; make the example runnable or put text between them`)
    examples.push({ block: b, runnable, expected: runnable && adjacent ? next : null, file: join(dir, `line-${b.fenceLine}.ts`) })
  })
  return { examples, files, problems }
}

/** The guide's line of a line of an example's file (1-based). */
const guideLine = (ex: Example, fileLine: number): number => ex.block.fenceLine + fileLine

interface RunResult {
  /** What it printed, stdout and stderr together. */
  readonly output: string
  readonly error: string | null
  readonly finished: boolean
}

/**
 * The process that runs the examples: for each, a fresh working directory with the data files,
 * then an import of the example, bracketed by marks on both streams so the output can be told
 * apart (writes to pipes are synchronous on Linux, so the order holds).
 */
const RUNNER = `
import { cpSync, mkdirSync, readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
const [listFile, dataDir, deadlineMs] = process.argv.slice(2)
const list = JSON.parse(readFileSync(listFile, 'utf8'))
// One stream, in the order written, as a terminal shows an example's output and messages.
process.stderr.write = process.stdout.write.bind(process.stdout)
const mark = (kind, id, extra = '') => process.stdout.write('\\u001e' + kind + ' ' + id + extra + '\\u001e\\n')
for (const { id, file, work } of list) {
  mkdirSync(work, { recursive: true })
  cpSync(dataDir, work, { recursive: true })
  process.chdir(work)
  mark('BEGIN', id)
  let timer
  try {
    await Promise.race([
      import(pathToFileURL(file).href),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('did not finish within ' + deadlineMs + ' ms')), Number(deadlineMs)) }),
    ])
    mark('END', id)
  } catch (e) {
    // The cause's stack names the example's line when the example's own function threw.
    const code = e instanceof Error && e.code && !e.message.startsWith(e.code) ? e.code + ': ' : ''
    const cause = e instanceof Error && e.cause instanceof Error ? '\\ncaused by: ' + e.cause.stack : ''
    const text = e instanceof Error ? code + e.message + '\\n' + (e.stack ?? '') + cause : String(e)
    mark('ERROR', id, ' ' + JSON.stringify(text))
    if (/did not finish within/.test(text)) process.exit(1)
  } finally {
    clearTimeout(timer)
  }
}
process.exit(0)
`

function runExamples(examples: readonly Example[], files: ReadonlyMap<string, string>): Promise<Map<number, RunResult>> {
  const data = join(dir, 'data')
  mkdirSync(data, { recursive: true })
  for (const [name, content] of files) {
    mkdirSync(join(data, name, '..'), { recursive: true })
    writeFileSync(join(data, name), content)
  }
  const list = examples.filter((e) => e.runnable).map((e) => ({ id: e.block.fenceLine, file: e.file, work: join(dir, 'work', String(e.block.fenceLine)) }))
  writeFileSync(join(dir, 'examples.json'), JSON.stringify(list))
  writeFileSync(join(dir, 'runner.mjs'), RUNNER)
  const child = spawn(process.execPath, ['--conditions=sluice-source', join(root, 'bin/run-ts.js'), join(dir, 'runner.mjs'), join(dir, 'examples.json'), data, String(EXAMPLE_DEADLINE_MS)], {
    cwd: dir,
    env: { ...process.env, TZ: 'UTC', NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => err.push(b))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', () => {
      const results = new Map<number, RunResult>()
      for (const [id, o] of split(Buffer.concat(out).toString('utf8'))) results.set(id, { output: o.text, error: o.error, finished: o.closed })
      // What the runner printed itself (failing to start) belongs to no example: show it.
      if (results.size === 0) reject(new Error(`the example runner ran no example; it printed:\n${Buffer.concat(out).toString('utf8')}\n${Buffer.concat(err).toString('utf8')}`))
      else resolve(results)
    })
  })
}

/** Output per example id, from the marked stream. */
function split(text: string): Map<number, { text: string; error: string | null; closed: boolean }> {
  const parts = new Map<number, { text: string; error: string | null; closed: boolean }>()
  const re = /\u001e(BEGIN|END|ERROR) (\d+)(?: ("(?:[^"\\]|\\.)*"))?\u001e\n/g
  let current: number | null = null
  let from = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const id = Number(m[2])
    if (m[1] === 'BEGIN') {
      current = id
      parts.set(id, { text: '', error: null, closed: false })
    } else if (current === id) {
      const p = parts.get(id) as { text: string; error: string | null; closed: boolean }
      p.text = text.slice(from, m.index)
      p.closed = true
      if (m[1] === 'ERROR') p.error = JSON.parse(m[3] as string) as string
      current = null
    }
    from = re.lastIndex
  }
  if (current !== null) (parts.get(current) as { text: string }).text = text.slice(from)
  return parts
}

/** Where in the guide an error's stack (or its cause's) first points into the example. */
function errorLine(ex: Example, error: string): number {
  const m = new RegExp(`line-${ex.block.fenceLine}\\.ts:(\\d+)`).exec(error)
  return m === null ? ex.block.fenceLine : guideLine(ex, Number(m[1]))
}

/** True when `printed` is `expected`, where `…` in `expected` stands for any text within a line. */
function matches(expected: string, printed: string): boolean {
  const pattern = expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^\\n]*')
  return new RegExp(`^${pattern}$`).test(printed)
}

const normalize = (s: string): string => s.split('\n').map((l) => l.trimEnd()).join('\n').trim()

let guide: ReturnType<typeof readGuide>
let running: Promise<Map<number, RunResult>>

beforeAll(() => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  guide = readGuide()
  for (const ex of guide.examples) writeFileSync(ex.file, `${ex.block.code.join('\n')}\nexport {}\n`)
  // Started before the type-check, which blocks this thread: the two overlap.
  running = runExamples(guide.examples, guide.files)
  running.catch(() => undefined)
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('docs/GUIDE.md examples', () => {
  it('are marked as the test understands them', () => {
    // Enough examples that a broken extraction cannot pass unnoticed.
    expect(guide.examples.filter((e) => e.runnable).length).toBeGreaterThan(30)
    expect(guide.problems).toEqual([])
  })

  it('every ts block type-checks against the sources', () => {
    const program = ts.createProgram(guide.examples.map((e) => e.file), projectOptions({ noEmit: true }))
    const failures: string[] = []
    for (const ex of guide.examples) {
      const sf = program.getSourceFile(ex.file) as ts.SourceFile
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line + 1
        failures.push(`${GUIDE_NAME}:${line === 0 ? ex.block.fenceLine : guideLine(ex, line)}: ${formatDiagnostic({ ...d, file: undefined })}`)
      }
    }
    expect(failures).toEqual([])
  }, 300_000)

  it('every runnable example runs and prints what the guide says', async () => {
    const results = await running
    const failures: string[] = []
    for (const ex of guide.examples.filter((e) => e.runnable)) {
      const at = `${GUIDE_NAME}:${ex.block.fenceLine}`
      const r = results.get(ex.block.fenceLine)
      if (r === undefined) {
        failures.push(`${at}: not run (an example before it hung or the runner stopped)`)
        continue
      }
      if (r.error !== null) {
        failures.push(`${GUIDE_NAME}:${errorLine(ex, r.error)}: the example threw ${r.error}\n${r.output}`)
        continue
      }
      if (!r.finished) {
        failures.push(`${at}: the example did not finish (the runner exited inside it)\n${r.output}`)
        continue
      }
      const printed = normalize(r.output)
      if (ex.expected === null) {
        if (printed !== '') failures.push(`${at}: the example prints, but no \`\`\`text block follows it with what it prints:\n${printed}`)
        continue
      }
      const expected = normalize(ex.expected.code.join('\n'))
      if (!matches(expected, printed)) failures.push(`${at}: prints other than the block at line ${ex.expected.fenceLine} says:\n--- expected\n${expected}\n--- printed\n${printed}`)
    }
    expect(failures).toEqual([])
  }, 300_000)
})
