/**
 * The public surface is declared once (issue 12 item 6): the entry points of package.json#exports
 * export every type their public signatures use; the stream classes are exported as types only
 * (their constructors and internal members are not API); test helpers live in `sluice/testing`.
 */
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { beforeAll, describe, expect, it } from 'vitest'
import { ENTRIES, isInternal, projectOptions, root, srcDir, where } from './support/typescript.ts'

/** The builder classes: users get them from the API and name their types, never construct them. */
const STREAM_TYPES = ['Stream', 'KeyedStream', 'WindowedStream', 'ConnectedKeyedStreams', 'JoinBuilder', 'WindowJoin', 'IntervalJoin']
const TEST_HELPERS = ['ManualClock', 'memorySink', 'manualSource', 'runAndCollect', 'until']

let program: ts.Program
let checker: ts.TypeChecker
/** Every entry's exports, by entry subpath. */
const exportsOf = new Map<string, ts.Symbol[]>()

beforeAll(() => {
  program = ts.createProgram(Object.values(ENTRIES), projectOptions({ noEmit: true }))
  checker = program.getTypeChecker()
  for (const [subpath, file] of Object.entries(ENTRIES)) {
    const sf = program.getSourceFile(file)
    if (sf === undefined) throw new Error(`entry ${subpath}: no source file ${file}`)
    exportsOf.set(subpath, checker.getExportsOfModule(checker.getSymbolAtLocation(sf) as ts.Symbol))
  }
}, 300_000)

const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s)
const inSrc = (d: ts.Node): boolean => d.getSourceFile().fileName.startsWith(srcDir)
const declaredInSrc = (s: ts.Symbol): boolean => (s.declarations ?? []).some(inSrc)
const isPrivate = (m: ts.Node): boolean =>
  (ts.canHaveModifiers(m) && (ts.getModifiers(m) ?? []).some((x) => x.kind === ts.SyntaxKind.PrivateKeyword)) ||
  ((m as ts.NamedDeclaration).name !== undefined && ts.isPrivateIdentifier((m as ts.NamedDeclaration).name as ts.Node))

/**
 * Walks the public declarations reachable from the entry points and returns the types declared in
 * src/ that their signatures use but no entry exports, each with where it is used. Members marked
 * `@internal` and private members are not public (stripped from, or untyped in, the published
 * declarations); a member without a written type is checked by its inferred type.
 */
function missingTypes(): string[] {
  const exported = new Set<ts.Symbol>()
  /** Exported as values too (not with `export type`): a class of these can be constructed. */
  const valueExported = new Set<ts.Symbol>()
  for (const symbols of exportsOf.values()) {
    for (const s of symbols) {
      exported.add(resolve(s))
      if (!(s.declarations ?? []).some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) valueExported.add(resolve(s))
    }
  }
  const symbolOf = (d: ts.ClassDeclaration): ts.Symbol => checker.getSymbolAtLocation(d.name as ts.Identifier) as ts.Symbol
  const missing = new Map<ts.Symbol, Set<string>>()
  const walked = new Set<ts.Symbol>()
  const queue: ts.Symbol[] = [...exported]

  const use = (s: ts.Symbol | undefined, at: ts.Node): void => {
    if (s === undefined) return
    s = resolve(s)
    if (s.flags & (ts.SymbolFlags.TypeParameter | ts.SymbolFlags.Module) || !declaredInSrc(s)) return
    // A member named through its parent (`Foo.bar`, an enum member): the parent is what must be exported.
    if (s.flags & (ts.SymbolFlags.EnumMember | ts.SymbolFlags.Property | ts.SymbolFlags.Method)) return
    if (exported.has(s)) {
      if (!walked.has(s)) queue.push(s)
      return
    }
    // Not walked further: once exported (or no longer used), what it uses is checked in turn.
    const uses = missing.get(s) ?? missing.set(s, new Set()).get(s) as Set<string>
    uses.add(where(at))
  }

  const seenTypes = new Set<ts.Type>()
  const useType = (t: ts.Type, at: ts.Node): void => {
    if (seenTypes.has(t)) return
    seenTypes.add(t)
    if (t.aliasSymbol !== undefined) {
      use(t.aliasSymbol, at)
      for (const a of t.aliasTypeArguments ?? []) useType(a, at)
      return
    }
    if (t.isUnionOrIntersection()) {
      for (const u of t.types) useType(u, at)
      return
    }
    if (!(t.flags & ts.TypeFlags.Object)) return
    const o = t as ts.ObjectType
    if (o.objectFlags & ts.ObjectFlags.Reference) {
      use((o as ts.TypeReference).target.symbol, at)
      for (const a of checker.getTypeArguments(o as ts.TypeReference)) useType(a, at)
      return
    }
    if (o.objectFlags & (ts.ObjectFlags.Class | ts.ObjectFlags.Interface)) {
      use(o.symbol, at)
      return
    }
    // An anonymous type (object literal, function): what its members and signatures use.
    for (const sig of [...t.getCallSignatures(), ...t.getConstructSignatures()]) {
      for (const p of sig.parameters) useType(checker.getTypeOfSymbol(p), at)
      useType(sig.getReturnType(), at)
    }
    for (const p of t.getProperties()) useType(checker.getTypeOfSymbol(p), at)
  }

  /** Every type named in a type node (references, `typeof`, heritage clauses). */
  const useTypeNode = (n: ts.Node | undefined): void => {
    if (n === undefined) return
    if (ts.isTypeReferenceNode(n)) use(checker.getSymbolAtLocation(n.typeName), n)
    else if (ts.isExpressionWithTypeArguments(n)) use(checker.getSymbolAtLocation(n.expression), n)
    // `typeof x`: the type of x must be nameable, not x itself.
    else if (ts.isTypeQueryNode(n)) useType(checker.getTypeAtLocation(n), n)
    else if (ts.isImportTypeNode(n)) use(checker.getSymbolAtLocation(n.qualifier ?? n), n)
    ts.forEachChild(n, useTypeNode)
  }

  const useSignature = (d: ts.SignatureDeclaration): void => {
    for (const tp of d.typeParameters ?? []) {
      useTypeNode(tp.constraint)
      useTypeNode(tp.default)
    }
    for (const p of d.parameters) {
      if (p.type !== undefined) useTypeNode(p.type)
      else useType(checker.getTypeAtLocation(p), p)
    }
    if (d.type !== undefined) useTypeNode(d.type)
    else if (!ts.isConstructorDeclaration(d)) {
      const sig = checker.getSignatureFromDeclaration(d)
      if (sig !== undefined) useType(sig.getReturnType(), d)
    }
  }

  const useMember = (m: ts.Node): void => {
    if (isPrivate(m) || isInternal(m)) return
    if (ts.isConstructorDeclaration(m)) {
      // Parameter properties are members of their own, kept even when the constructor is stripped.
      for (const p of m.parameters) if (ts.isParameterPropertyDeclaration(p, m) && !isPrivate(p) && !isInternal(p)) useTypeNode(p.type)
      useSignature(m)
    } else if (ts.isMethodDeclaration(m) || ts.isMethodSignature(m) || ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m) || ts.isCallSignatureDeclaration(m) || ts.isConstructSignatureDeclaration(m) || ts.isIndexSignatureDeclaration(m)) {
      useSignature(m)
    } else if (ts.isPropertyDeclaration(m) || ts.isPropertySignature(m)) {
      if (m.type !== undefined) useTypeNode(m.type)
      else useType(checker.getTypeAtLocation(m), m)
    }
  }

  const walk = (d: ts.Declaration): void => {
    if (!inSrc(d)) return
    if (ts.isClassDeclaration(d) || ts.isInterfaceDeclaration(d)) {
      for (const tp of d.typeParameters ?? []) {
        useTypeNode(tp.constraint)
        useTypeNode(tp.default)
      }
      // What a type extends is part of it; what a class implements is checked where it is declared.
      for (const h of d.heritageClauses ?? []) if (h.token === ts.SyntaxKind.ExtendsKeyword) for (const t of h.types) useTypeNode(t)
      const constructible = ts.isClassDeclaration(d) && valueExported.has(symbolOf(d))
      for (const m of d.members) {
        // A class exported as a type only cannot be constructed: its constructor is not API, but
        // its parameter properties are members.
        if (ts.isConstructorDeclaration(m) && (!constructible || isInternal(m))) {
          for (const p of m.parameters) if (ts.isParameterPropertyDeclaration(p, m) && !isPrivate(p) && !isInternal(p)) useTypeNode(p.type)
        } else {
          useMember(m)
        }
      }
    } else if (ts.isTypeAliasDeclaration(d)) {
      for (const tp of d.typeParameters ?? []) useTypeNode(tp.constraint)
      useTypeNode(d.type)
    } else if (ts.isFunctionDeclaration(d)) {
      useSignature(d)
    } else if (ts.isVariableDeclaration(d)) {
      if (d.type !== undefined) useTypeNode(d.type)
      else useType(checker.getTypeAtLocation(d), d)
    }
  }

  while (queue.length > 0) {
    const s = queue.pop() as ts.Symbol
    if (walked.has(s)) continue
    walked.add(s)
    for (const d of s.declarations ?? []) if (!isInternal(d)) walk(d)
  }
  return [...missing].map(([s, uses]) => {
    const d = (s.declarations ?? [])[0] as ts.Declaration
    return `${s.name} (${relative(root, d.getSourceFile().fileName)}), used at ${[...uses].sort().join(', ')}`
  }).sort()
}

/** The export specifier through which an entry exports `name`, or undefined. */
function exportSpecifier(subpath: string, name: string): ts.ExportSpecifier | undefined {
  const s = exportsOf.get(subpath)?.find((x) => x.name === name)
  return s?.declarations?.find(ts.isExportSpecifier)
}

describe('the public surface', () => {
  it('package.json#exports has exactly the entry points this test walks', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
    expect(Object.keys(pkg.exports).filter((k) => k !== './package.json').sort()).toEqual(Object.keys(ENTRIES).sort())
  })

  it('exports every type declared in src/ that a public signature uses', () => {
    expect(missingTypes()).toEqual([])
  })

  it('exports the stream classes as types only: their constructors are not API', () => {
    for (const name of STREAM_TYPES) {
      const spec = exportSpecifier('.', name)
      expect(spec, `${name} is exported from src/index.ts`).toBeDefined()
      expect(spec?.isTypeOnly || (spec?.parent.parent as ts.ExportDeclaration).isTypeOnly, `${name} is exported with \`export type\``).toBe(true)
      // The constructor and the members the other builders use are marked @internal.
      const cls = (resolve(exportsOf.get('.')?.find((x) => x.name === name) as ts.Symbol).declarations ?? []).find(ts.isClassDeclaration)
      const ctor = cls?.members.find(ts.isConstructorDeclaration)
      if (ctor !== undefined) expect(isInternal(ctor), `${name}'s constructor is @internal`).toBe(true)
    }
  })

  it('published with stripInternal, the builders show only their API', () => {
    // What the compiled package's .d.ts files say (tsconfig.build.json sets stripInternal).
    const files = ['stream', 'keyed-stream', 'windowed-stream', 'join-builder'].map((f) => join(root, `src/api/${f}.ts`))
    const emitted = new Map<string, string>()
    const p = ts.createProgram(files, projectOptions({ noEmit: false, declaration: true, emitDeclarationOnly: true, stripInternal: true, outDir: join(root, 'dts-out') }))
    for (const f of files) p.emit(p.getSourceFile(f), (name, text) => emitted.set(name.replace(/^.*\//, ''), text), undefined, true)
    /** The members of class `name` as the .d.ts declares them (stripped ones are gone, private ones untyped). */
    const members = (file: string, name: string): string[] => {
      const text = emitted.get(file) ?? ''
      const start = text.indexOf(`export declare class ${name}<`)
      expect(start, `${file} declares class ${name}`).toBeGreaterThanOrEqual(0)
      const body = text.slice(start, text.indexOf('\n}', start))
      return [...body.matchAll(/^ {4}(?:readonly |private |static )*([A-Za-z_]\w*)[?<(:;]/gm)].map((m) => m[1])
    }
    const stream = members('stream.d.ts', 'Stream')
    expect(stream).toEqual(expect.arrayContaining(['map', 'filter', 'flatMap', 'keyBy', 'windowAll', 'union', 'sideOutput', 'to']))
    for (const internal of ['constructor', 'addOperator', 'pipeline', 'origin', 'exchange', 'window']) expect(stream).not.toContain(internal)
    const keyed = members('keyed-stream.d.ts', 'KeyedStream')
    expect(keyed).toEqual(expect.arrayContaining(['reduce', 'aggregate', 'process', 'window', 'connect', 'join']))
    for (const internal of ['constructor', 'addKeyed', 'input', 'key']) expect(keyed).not.toContain(internal)
    for (const [file, name] of [['keyed-stream.d.ts', 'ConnectedKeyedStreams'], ['windowed-stream.d.ts', 'WindowedStream'], ['join-builder.d.ts', 'JoinBuilder'], ['join-builder.d.ts', 'WindowJoin'], ['join-builder.d.ts', 'IntervalJoin']]) {
      expect(members(file, name), `${name}'s members`).not.toContain('constructor')
    }
  }, 300_000)

  it('test helpers are in sluice/testing, not in the main surface', () => {
    const main = new Set(exportsOf.get('.')?.map((s) => s.name))
    const testing = new Set(exportsOf.get('./testing')?.map((s) => s.name))
    for (const name of TEST_HELPERS) {
      expect(main.has(name), `sluice exports ${name}`).toBe(false)
      expect(testing.has(name), `sluice/testing exports ${name}`).toBe(true)
    }
  })
})
