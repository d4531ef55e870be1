/**
 * Where a thread's time went, from a V8 .cpuprofile (SLUICE_CPU_PROFILE=<dir>, or node --cpu-prof):
 *
 *   node bin/run-ts.js bench/profile-summary.ts <file.cpuprofile>... [--top N] [--skip-ms MS] [--files N] [--inclusive]
 *
 * Prints the sampled time, the shares of (idle), (program) and (garbage collector), the time by
 * area of the engine (codec, channels, operators, ...), the top N (default 30) functions by self
 * time, and the source files by self time (--files N, default 15).
 * --inclusive adds the top functions by total time (self + callees). --skip-ms leaves out the
 * first MS milliseconds of samples (a worker's start-up: importing and compiling the job).
 *
 * A sample's time is the interval to the next sample (as DevTools counts it).
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

const SPECIAL = ['(idle)', '(program)', '(garbage collector)']

/**
 * Areas by source path, first match wins. A native frame (no url, e.g. utf8Write) counts in the
 * area of its nearest caller that has one.
 */
const AREAS: readonly [string, RegExp][] = [
  ['codec', /(^|\/)src\/runtime\/(codec\/|codec-choice)|(^|\/)node_modules\/msgpackr\//],
  ['channels (rings, waits)', /(^|\/)src\/runtime\/(channels\/|ring-channel|channel\.ts|route\.ts)/],
  ['generator (nexmark source)', /(^|\/)src\/(nexmark\/generator|connectors\/nexmark-source)/],
  ['operators, state, timers', /(^|\/)src\/(operators|state|time|api|nexmark\/queries)\/|(^|\/)src\/runtime\/fusion/],
  ['sinks', /(^|\/)src\/connectors\/|(^|\/)src\/runtime\/sink-operator/],
  ['monitoring', /(^|\/)src\/monitoring\//],
  ['scheduler, tasks', /(^|\/)src\/runtime\//],
  ['node internals, module loading', /^node:|(^|\/)node_modules\//],
]

function shortUrl(url: string): string {
  if (url === '') return ''
  if (!url.startsWith('file:')) return url
  const path = fileURLToPath(url)
  const nm = path.lastIndexOf('/node_modules/')
  return nm >= 0 ? path.slice(nm + 1) : relative(process.cwd(), path)
}

function where(f: CallFrame): string {
  const file = shortUrl(f.url)
  if (file === '') return '(native)'
  // Unmapped tsx output is one line: the column is what tells functions apart.
  return f.lineNumber === 0 && f.columnNumber > 0 ? `${file}:1:${f.columnNumber + 1}` : `${file}:${f.lineNumber + 1}`
}

function label(f: CallFrame): string {
  return f.functionName === '' ? '(anonymous)' : f.functionName
}

function keyOf(f: CallFrame): string {
  return `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber}`
}

function areaOf(node: ProfileNode, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const own = node.callFrame
  if (own.url === '' && SPECIAL.includes(own.functionName)) return own.functionName
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const url = (byId.get(id) as ProfileNode).callFrame.url
    if (url === '') continue
    const path = shortUrl(url)
    for (const [name, re] of AREAS) if (re.test(path)) return name
    return 'other'
  }
  return 'other (native)'
}

interface Row { name: string; where: string; ms: number }

function top(rows: Map<string, Row>, n: number): Row[] {
  return [...rows.values()].sort((a, b) => b.ms - a.ms).slice(0, n)
}

function fmt(ms: number, total: number): string {
  return `${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%`
}

function summarize(file: string, o: { top: number; files: number; skipMs: number; inclusive: boolean }): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of p.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  // Sample i lasts until sample i + 1; the last one gets the profile's end.
  const stamps: number[] = []
  let t = p.startTime
  for (const d of p.timeDeltas) stamps.push((t += d))
  const self = new Map<string, Row>()
  const total = new Map<string, Row>()
  const files = new Map<string, Row>()
  const areas = new Map<string, Row>()
  const special = new Map<string, number>(SPECIAL.map((s) => [s, 0]))
  const from = p.startTime + o.skipMs * 1000
  let sampled = 0
  for (let i = 0; i < p.samples.length; i++) {
    if (stamps[i] < from) continue
    const ms = ((i + 1 < stamps.length ? stamps[i + 1] : p.endTime) - stamps[i]) / 1000
    if (ms <= 0) continue
    sampled += ms
    const node = byId.get(p.samples[i]) as ProfileNode
    const f = node.callFrame
    if (special.has(f.functionName) && f.url === '') special.set(f.functionName, (special.get(f.functionName) as number) + ms)
    const add = (m: Map<string, Row>, key: string, name: string, at: string): void => {
      const r = m.get(key)
      if (r === undefined) m.set(key, { name, where: at, ms })
      else r.ms += ms
    }
    add(self, keyOf(f), label(f), where(f))
    const fileName = shortUrl(f.url) || '(native / V8)'
    add(files, fileName, fileName, '')
    const area = areaOf(node, byId, parent)
    add(areas, area, area, '')
    if (o.inclusive) {
      const seen = new Set<string>()
      for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
        const cf = (byId.get(id) as ProfileNode).callFrame
        const k = keyOf(cf)
        if (seen.has(k) || cf.functionName === '(root)') continue
        seen.add(k)
        add(total, k, label(cf), where(cf))
      }
    }
  }
  const wall = (p.endTime - from) / 1000
  console.log(`\n== ${file}`)
  console.log(`sampled ${sampled.toFixed(1)} ms over ${wall.toFixed(1)} ms${o.skipMs > 0 ? ` (first ${o.skipMs} ms skipped)` : ''}, ${p.samples.length} samples`)
  const busy = sampled - (special.get('(idle)') as number)
  console.log(SPECIAL.map((s) => `${s} ${(special.get(s) as number).toFixed(1)} ms (${((100 * (special.get(s) as number)) / sampled).toFixed(1)}%)`).join(', ') + `; busy ${busy.toFixed(1)} ms (${((100 * busy) / sampled).toFixed(1)}%)`)
  console.log('\nby area (self time; natives count with their caller):')
  for (const r of top(areas, AREAS.length + 5)) console.log(`${fmt(r.ms, sampled)}  ${r.name}`)
  console.log(`\ntop ${o.top} by self time:`)
  for (const r of top(self, o.top)) console.log(`${fmt(r.ms, sampled)}  ${r.name}  ${r.where}`)
  if (o.inclusive) {
    console.log(`\ntop ${o.top} by total time:`)
    for (const r of top(total, o.top)) console.log(`${fmt(r.ms, sampled)}  ${r.name}  ${r.where}`)
  }
  if (o.files > 0) {
    console.log(`\nself time by file (top ${o.files}):`)
    for (const r of top(files, o.files)) console.log(`${fmt(r.ms, sampled)}  ${r.name}`)
  }
}

const args = process.argv.slice(2)
const profiles: string[] = []
const opts = { top: 30, files: 15, skipMs: 0, inclusive: false }
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--top') opts.top = Number(args[++i])
  else if (a === '--files') opts.files = Number(args[++i])
  else if (a === '--skip-ms') opts.skipMs = Number(args[++i])
  else if (a === '--inclusive') opts.inclusive = true
  else profiles.push(a)
}
if (profiles.length === 0 || !Number.isFinite(opts.top + opts.files + opts.skipMs)) {
  process.stderr.write('usage: profile-summary.ts <file.cpuprofile>... [--top N] [--files N] [--skip-ms MS] [--inclusive]\n')
  process.exit(2)
}
for (const f of profiles) summarize(f, opts)
