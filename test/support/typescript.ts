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
