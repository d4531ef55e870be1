/**
 * Every `@example` in the TSDoc of the public surface compiles (issue 12 item 6): the declarations
 * the package's entry points export, and their public members. Each example becomes a module that
 * imports everything the entry points export (by name, as a user would from `sluice`,
 * `sluice/connectors`, `sluice/testing` and `sluice/nexmark`) and may use one more name,
 * `pipeline` (a `Pipeline`). Anything else an example uses it declares itself (`declare const
 * bids: Stream<Bid>`), so a reader sees its types. The examples are type-checked together with the
 * project's compiler options, without emitting; a failure names the example's file:line. Type-
 * checking the package takes ~30 s on an idle machine (75 s was seen at load 30 on 2 cores).
 */
import { join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { ENTRIES, formatDiagnostic, isInternal, projectOptions, root, srcDir } from './support/typescript.ts'

/** Names every example may use without declaring them. */
const PRELUDE = 'declare const pipeline: Pipeline'

interface Example {
  /** Where it is: the source file and the 1-based line of each line of `code`. */
  readonly file: string
  /** True when the code is in a ```ts fence (as every example should be, so it renders as code everywhere). */
  readonly fenced: boolean
  readonly lines: readonly number[]
  readonly code: readonly string[]
}

/**
 * The `@example` sections of one TSDoc comment, with their source lines. A section runs from its
 * tag to the next tag outside a code fence; with fences, the code is what they enclose.
 */
function examplesOf(sf: ts.SourceFile, doc: ts.JSDoc): Example[] {
  const first = sf.getLineAndCharacterOfPosition(doc.getStart(sf)).line + 1
  const raw = sf.text.slice(doc.getStart(sf), doc.end).split('\n').map((l) => l.replace(/^\s*\/\*\*\s?/, '').replace(/\s*\*\/\s*$/, '').replace(/^\s*\* ?/, ''))
  const out: Example[] = []
  let section: { lines: number[]; code: string[] } | null = null
  let fenced = false
  const close = (): void => {
    if (section === null) return
    const fences = section.code.filter((l) => /^```/.test(l.trim())).length
    let lines = section.lines
    let code = section.code
    if (fences > 0) {
      const keep: number[] = []
      let inside = false
      for (let i = 0; i < code.length; i++) {
        if (/^```/.test(code[i].trim())) inside = !inside
        else if (inside) keep.push(i)
      }
      lines = keep.map((i) => section?.lines[i] as number)
      code = keep.map((i) => section?.code[i] as string)
    }
    if (code.some((l) => l.trim() !== '')) out.push({ file: sf.fileName, fenced: fences > 0 && section.code.some((l) => /^```(ts|typescript)\s*$/.test(l.trim())), lines, code })
    section = null
  }
  raw.forEach((whole, i) => {
    const line = first + i
    // A tag after text on the same line (`Counts records. @example count()`) starts there.
    const at = fenced ? -1 : whole.search(/(?:^|\s)@example\b/)
    const text = at > 0 ? whole.slice(at).trimStart() : whole
    if (!fenced && /^@\w+/.test(text.trim())) {
      close()
      const m = /^@example\b\s?(.*)$/.exec(text.trim())
      if (m !== null) section = { lines: m[1] === '' ? [] : [line], code: m[1] === '' ? [] : [m[1]] }
      return
    }
    if (/^```/.test(text.trim())) fenced = !fenced
    if (section !== null) {
      section.lines.push(line)
      section.code.push(text)
    }
  })
  close()
  return out
}

/** The TSDoc comments of the public declarations: every export of the entry points and their public members. */
function publicDocs(program: ts.Program): Map<string, { sf: ts.SourceFile; doc: ts.JSDoc }> {
  const checker = program.getTypeChecker()
  const docs = new Map<string, { sf: ts.SourceFile; doc: ts.JSDoc }>()
  const add = (node: ts.Node): void => {
    const sf = node.getSourceFile()
    if (!sf.fileName.startsWith(srcDir)) return
    for (const doc of ts.getJSDocCommentsAndTags(node)) if (ts.isJSDoc(doc)) docs.set(`${sf.fileName}:${doc.pos}`, { sf, doc })
  }
  const isPrivate = (m: ts.Node): boolean =>
    (ts.canHaveModifiers(m) && (ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.PrivateKeyword)) ||
    ((m as ts.NamedDeclaration).name !== undefined && ts.isPrivateIdentifier((m as ts.NamedDeclaration).name as ts.Node))
  for (const file of Object.values(ENTRIES)) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(file) as ts.SourceFile) as ts.Symbol
    for (const e of checker.getExportsOfModule(module)) {
      const s = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e
      for (const d of s.declarations ?? []) {
        if (isInternal(d)) continue
        add(d)
        if (ts.isClassDeclaration(d) || ts.isInterfaceDeclaration(d)) {
          for (const m of d.members) {
            if (isPrivate(m) || isInternal(m)) continue
            add(m)
            if (ts.isConstructorDeclaration(m)) for (const p of m.parameters) if (!isInternal(p)) add(p)
          }
        }
      }
    }
  }
  return docs
}

/** The import lines that bring every export of the entry points into an example written at `dir`. */
function importsFor(program: ts.Program, dir: string): string[] {
  const checker = program.getTypeChecker()
  const taken = new Set<string>()
  const lines: string[] = []
  for (const file of Object.values(ENTRIES)) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(file) as ts.SourceFile) as ts.Symbol
    const names = checker.getExportsOfModule(module).map((s) => s.name).filter((n) => !taken.has(n))
    for (const n of names) taken.add(n)
    let spec = relative(dir, file)
    if (!spec.startsWith('.')) spec = `./${spec}`
    lines.push(`import { ${names.join(', ')} } from '${spec}'`)
  }
  return lines
}

describe('TSDoc examples', () => {
  it('every @example of the public surface type-checks', () => {
    const options = projectOptions({ noEmit: true })
    const entries = ts.createProgram(Object.values(ENTRIES), options)
    const examples: Example[] = []
    for (const { sf, doc } of publicDocs(entries).values()) examples.push(...examplesOf(sf, doc))
    // The examples of the public surface; too few means the extraction broke.
    expect(examples.length).toBeGreaterThan(40)

    const dir = join(root, 'test', '.tsdoc-examples')
    const header = [...importsFor(entries, dir), PRELUDE, 'export {}']
    const virtual = new Map<string, { text: string; example: Example }>()
    for (const ex of examples) {
      const name = join(dir, `${relative(srcDir, ex.file).replace(/[/.]/g, '_')}_${ex.lines[0]}.ts`)
      virtual.set(name, { text: [...header, ...ex.code].join('\n'), example: ex })
    }
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

    const failures: string[] = examples.filter((ex) => !ex.fenced).map((ex) => `${relative(root, ex.file)}:${ex.lines[0]}: put the example in a \`\`\`ts fence`)
    for (const [name, { example }] of virtual) {
      const sf = program.getSourceFile(name) as ts.SourceFile
      for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
        const line = d.start === undefined ? -1 : sf.getLineAndCharacterOfPosition(d.start).line - header.length
        const at = line >= 0 ? `${relative(root, example.file)}:${example.lines[line]}` : `${relative(root, example.file)}:${example.lines[0]} (header)`
        failures.push(`${at}: ${formatDiagnostic({ ...d, file: undefined })}`)
      }
    }
    expect(failures).toEqual([])
  }, 300_000)
})
