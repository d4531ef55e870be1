/** The TypeScript compiler API as the surface and TSDoc tests use it: the project's options, a program over some files. */
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

export const root = new URL('..', new URL('..', import.meta.url)).pathname
export const srcDir = join(root, 'src/')

/**
 * The package's entry points (package.json#exports) as source files. The test of the surface
 * checks that package.json names the same subpaths.
 */
export const ENTRIES: Readonly<Record<string, string>> = {
  '.': join(root, 'src/index.ts'),
  './connectors': join(root, 'src/connectors/index.ts'),
  './testing': join(root, 'src/testing/index.ts'),
  './nexmark': join(root, 'src/nexmark/index.ts'),
}

/** The compiler options of tsconfig.json, with `overrides`. */
export function projectOptions(overrides: ts.CompilerOptions = {}): ts.CompilerOptions {
  const file = join(root, 'tsconfig.json')
  const parsed = ts.parseJsonConfigFileContent(ts.readConfigFile(file, ts.sys.readFile).config, ts.sys, root, undefined, file)
  return { ...parsed.options, ...overrides }
}

/** `file:line` of a node, relative to the repository. */
export function where(node: ts.Node): string {
  const sf = node.getSourceFile()
  return `${relative(root, sf.fileName)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`
}

/** True when the node carries an `@internal` TSDoc tag (stripped from the published declarations). */
export function isInternal(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((t) => t.tagName.text === 'internal')
}

/** The text of one diagnostic, with its file:line when it has one. */
export function formatDiagnostic(d: ts.Diagnostic): string {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
  if (d.file === undefined || d.start === undefined) return text
  const { line } = d.file.getLineAndCharacterOfPosition(d.start)
  return `${relative(root, d.file.fileName)}:${line + 1}: ${text}`
}

export const readText = (path: string): string => readFileSync(path, 'utf8')

export interface Example {
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
export function examplesOf(sf: ts.SourceFile, doc: ts.JSDoc): Example[] {
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
export function publicDocs(program: ts.Program): Map<string, { sf: ts.SourceFile; doc: ts.JSDoc }> {
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
export function importsFor(program: ts.Program, dir: string): string[] {
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
