/**
 * The generated API reference (docs/api/, Markdown from TypeDoc with typedoc-plugin-markdown, set up
 * in typedoc.json) is committed so it reads on GitHub; this test keeps it in step with the TSDoc of
 * src/. It runs TypeDoc as `npm run docs` does, into a temporary folder, and fails on any warning
 * (a broken link, a type a public signature uses but no entry point exports, a bad tag) and on any
 * page that differs from docs/api/. Source links are off in typedoc.json so that moving a
 * declaration does not change the pages, and TypeDoc skips its own type check (skipErrorChecking:
 * tsc does that), which halves its time: ~15 s of CPU, 40-50 s seen with the 2 cores busy.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Application, Logger, LogLevel, PackageJsonReader, TSConfigReader, TypeDocReader } from 'typedoc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = new URL('..', import.meta.url).pathname
const committed = join(root, 'docs/api')

/** Keeps TypeDoc's warnings and errors instead of printing them. */
class CollectingLogger extends Logger {
  readonly messages: string[] = []
  override log(message: string, level: LogLevel): void {
    super.log(message, level)
    if (level >= LogLevel.Warn) this.messages.push(`${LogLevel[level].toLowerCase()}: ${message}`)
  }
}

/** Every file under `dir`, as paths relative to it, sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

let out: string
let logger: CollectingLogger
let generated: boolean

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'sluice-api-'))
  const cwd = process.cwd()
  // typedoc.json's paths are relative to the working directory TypeDoc starts in.
  process.chdir(root)
  try {
    const app = await Application.bootstrapWithPlugins({ options: join(root, 'typedoc.json'), out }, [new TypeDocReader(), new PackageJsonReader(), new TSConfigReader()])
    logger = new CollectingLogger()
    app.logger = logger
    const project = await app.convert()
    generated = project !== undefined
    if (project !== undefined) {
      app.validate(project)
      await app.generateOutputs(project)
    }
  } finally {
    process.chdir(cwd)
  }
}, 300_000)

afterAll(() => rmSync(out, { recursive: true, force: true }))

describe('the API reference (docs/api)', () => {
  it('TypeDoc converts the entry points without a warning', () => {
    expect(logger.messages).toEqual([])
    expect(generated).toBe(true)
  })

  it('docs/api is what `npm run docs` writes from the current sources', () => {
    const fresh = filesUnder(out)
    // One page per export at least: too few means the generation broke, not that the docs are fresh.
    expect(fresh.length).toBeGreaterThan(200)
    const old = filesUnder(committed)
    const stale = [
      ...fresh.filter((f) => !old.includes(f)).map((f) => `missing: docs/api/${f}`),
      ...old.filter((f) => !fresh.includes(f)).map((f) => `no longer generated: docs/api/${f}`),
      ...fresh.filter((f) => old.includes(f) && readFileSync(join(out, f), 'utf8') !== readFileSync(join(committed, f), 'utf8')).map((f) => `out of date: docs/api/${f}`),
    ]
    // The fix is to regenerate: `npm run docs`, then commit docs/api.
    expect(stale, 'docs/api is out of date with src/: run `npm run docs` and commit docs/api').toEqual([])
  })

  it('the reference has a page for every name the entry points export', () => {
    const modules: Record<string, string> = { sluice: 'src/index.ts', 'sluice/connectors': 'src/connectors/index.ts', 'sluice/testing': 'src/testing/index.ts', 'sluice/nexmark': 'src/nexmark/index.ts' }
    const missing: string[] = []
    for (const [module, file] of Object.entries(modules)) {
      const index = readFileSync(join(out, module, 'README.md'), 'utf8')
      // Its own pages (`classes/Pipeline.md`) and re-exports of another entry point's (`../interfaces/JsonValue.md`).
      const linked = new Set([...index.matchAll(/\]\((?:[\w.-]+\/)+([\w$-]+)\.md\)/g)].map((m) => m[1]))
      for (const name of exportedNames(readFileSync(join(root, file), 'utf8'), join(root, file))) if (!linked.has(name)) missing.push(`${module}: ${name}`)
    }
    expect(missing).toEqual([])
  })
})

/** The names a barrel file exports: `export { a, type B } from`, and `export *` expanded one level. */
function exportedNames(text: string, file: string): string[] {
  const names: string[] = []
  for (const m of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()?.trim()
      if (name !== undefined && name !== '') names.push(name)
    }
  }
  for (const m of text.matchAll(/export \* from '(\.[^']+)'/g)) {
    const target = readFileSync(join(file, '..', m[1]), 'utf8')
    for (const d of target.matchAll(/^export\s+(?:declare\s+)?(?:const|let|function|class|interface|type|enum)\s+([\w$]+)/gm)) names.push(d[1])
  }
  return names
}
