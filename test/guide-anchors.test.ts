/**
 * Links into docs/GUIDE.md lead somewhere (issue 13 item 2: error hints point at the guide). Every
 * `GUIDE.md#anchor` in src/ (error messages and hints), README.md and docs/, and every `#anchor`
 * link inside the guide, names a heading of the guide under GitHub's anchor rules; the sections the
 * brief fixed for everyone's hints exist with exactly their headings; and the guide's links to
 * other documents' sections name headings there.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { root } from './support/typescript.ts'

const GUIDE = join(root, 'docs/GUIDE.md')

/**
 * The sections error hints may point at, fixed in issue 13's brief: the heading (level and text)
 * and its anchor.
 */
const FIXED_SECTIONS: readonly (readonly [heading: string, anchor: string])[] = [
  ['## Concepts', 'concepts'],
  ['### Event time and watermarks', 'event-time-and-watermarks'],
  ['### Checkpoints and guarantees', 'checkpoints-and-guarantees'],
  ['## Sources and sinks', 'sources-and-sinks'],
  ['### CSV columns', 'csv-columns'],
  ['## Operators', 'operators'],
  ['## Windows', 'windows'],
  ['## Joins', 'joins'],
  ['## Keyed state and timers', 'keyed-state-and-timers'],
  ['### Aggregate functions', 'aggregate-functions'],
  ['### Process functions', 'process-functions'],
  ['## Errors and dead letters', 'errors-and-dead-letters'],
  ['## Parallelism and workers', 'parallelism-and-workers'],
  ['## Job files and the CLI', 'job-files-and-the-cli'],
  ['## The dashboard and the diagnosis', 'the-dashboard-and-the-diagnosis'],
  ['## Running from code', 'running-from-code'],
]

/** The ATX headings of a Markdown text, outside fenced code blocks. */
function headings(text: string): string[] {
  const out: string[] = []
  let fence: string | null = null
  for (const line of text.split('\n')) {
    const f = /^(`{3,}|~{3,})/.exec(line)
    if (f !== null) {
      if (fence === null) fence = f[1]
      else if (line.trim() === fence) fence = null
      continue
    }
    if (fence === null && /^#{1,6} /.test(line)) out.push(line.trimEnd())
  }
  return out
}

/**
 * GitHub's anchor for a heading's text: the rendered text (no Markdown: code spans, links,
 * emphasis and images reduced to their text), lowercased, without characters other than letters,
 * marks, digits, connector punctuation, spaces and hyphens, with spaces made hyphens.
 */
function slug(headingText: string): string {
  const text = headingText
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/(\*\*|__|\*|_)(.*?)\1/g, '$2')
  return text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

/** The anchors of a Markdown text's headings; a repeated anchor gets -1, -2, … as on GitHub. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const h of headings(text)) {
    const base = slug(h.replace(/^#+ /, ''))
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Files under `dir` (relative to the repository) whose names match `pattern`. */
function filesUnder(dir: string, pattern: RegExp): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (pattern.test(e.name)) out.push(p)
    }
  }
  walk(join(root, dir))
  return out
}

interface Reference {
  /** file:line of the reference. */
  readonly at: string
  readonly anchor: string
}

/** Every `GUIDE.md#anchor` in `files`, with where it is. */
function guideReferences(files: readonly string[]): Reference[] {
  const refs: Reference[] = []
  for (const file of files) {
    if (file === GUIDE) continue
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      for (const m of line.matchAll(/GUIDE\.md#([\p{L}\p{N}_-]+)/gu)) refs.push({ at: `${relative(root, file)}:${i + 1}`, anchor: m[1] })
    })
  }
  return refs
}

/** The guide's Markdown links outside code: `[text](target#anchor)`, with their lines. */
function guideLinks(): { at: string; target: string; anchor: string }[] {
  const links: { at: string; target: string; anchor: string }[] = []
  let fence: string | null = null
  readFileSync(GUIDE, 'utf8').split('\n').forEach((line, i) => {
    const f = /^(`{3,}|~{3,})/.exec(line)
    if (f !== null) {
      if (fence === null) fence = f[1]
      else if (line.trim() === fence) fence = null
      return
    }
    if (fence !== null) return
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s#]*)#([^)\s]+)\)/g)) links.push({ at: `docs/GUIDE.md:${i + 1}`, target: m[1], anchor: m[2] })
  })
  return links
}

describe('docs/GUIDE.md anchors', () => {
  const guide = readFileSync(GUIDE, 'utf8')
  const guideAnchors = anchors(guide)

  it('follows GitHub rules for anchors', () => {
    expect(slug('Interval join (between(lowerMs, upperMs))')).toBe('interval-join-betweenlowerms-upperms')
    expect(slug('collectSink, callbackSink and batchCallbackSink')).toBe('collectsink-callbacksink-and-batchcallbacksink')
    expect(slug('Count windows (`globalWindow`)')).toBe('count-windows-globalwindow')
    expect(slug('Late data: allowedLateness and sideOutputLateData')).toBe('late-data-allowedlateness-and-sideoutputlatedata')
    expect([...anchors('# A\n## A\n```\n# B\n```\n### a')]).toEqual(['a', 'a-1', 'a-2'])
  })

  it('has every section the brief fixed for error hints, with exactly its heading', () => {
    const hs = new Set(headings(guide))
    const missing = FIXED_SECTIONS.filter(([heading, anchor]) => !hs.has(heading) || !guideAnchors.has(anchor)).map(([heading, anchor]) => `${heading} (#${anchor})`)
    expect(missing).toEqual([])
  })

  it('every GUIDE.md#anchor in src/, README.md and docs/ names a heading of the guide', () => {
    const files = [...filesUnder('src', /\.(ts|js|html)$/), join(root, 'README.md'), ...filesUnder('docs', /\.md$/)]
    const refs = guideReferences(files)
    // README.md links the guide's sections, so this can never pass by finding nothing.
    expect(refs.some((r) => r.at.startsWith('README.md:'))).toBe(true)
    expect(refs.filter((r) => !guideAnchors.has(r.anchor)).map((r) => `${r.at}: docs/GUIDE.md#${r.anchor} names no heading of the guide`)).toEqual([])
  })

  it('every link of the guide to a section names a heading there', () => {
    const links = guideLinks()
    expect(links.filter((l) => l.target === '').length).toBeGreaterThan(20)
    const broken: string[] = []
    for (const l of links) {
      const file = l.target === '' ? GUIDE : join(dirname(GUIDE), l.target)
      if (!/\.md$/.test(file) || !existsSync(file)) {
        broken.push(`${l.at}: ${l.target}#${l.anchor}: no such document`)
        continue
      }
      const there = file === GUIDE ? guideAnchors : anchors(readFileSync(file, 'utf8'))
      if (!there.has(l.anchor)) broken.push(`${l.at}: ${l.target || 'GUIDE.md'}#${l.anchor} names no heading there`)
    }
    expect(broken).toEqual([])
  })
})
