/**
 * Outputs a user reaches for (issue 13 item 4): /dev/null, a FIFO, and stdout and stderr
 * redirected to one file, through a spawned `sluice`.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = new URL('..', import.meta.url).pathname
const PROCESS_DEADLINE_MS = 180_000
const TEST_DEADLINE_MS = 400_000
const RUN = ['nexmark', 'run', '--query', 'q0', '--events', '2000']
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-outputs-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** Runs `sluice ARGS > file 2>&1` through the shell and returns the file's lines. */
function sluiceInto(file: string, ...args: string[]): { code: number; lines: string[] } {
  const command = `${quote(process.execPath)} ${quote(join(root, 'bin/sluice.js'))} ${args.map(quote).join(' ')} > ${quote(file)} 2>&1`
  const r = spawnSync('sh', ['-c', command], { cwd: root, timeout: PROCESS_DEADLINE_MS })
  return { code: r.status ?? -1, lines: readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') }
}

/** Every line is a whole record or a whole line the CLI wrote on stderr; returns the records and the summary's row count. */
function split(lines: string[]): { records: number; rows: number; other: string[] } {
  let records = 0
  let rows = -1
  const other: string[] = []
  for (const line of lines) {
    if (line.startsWith('{')) {
      expect(() => JSON.parse(line), line).not.toThrow()
      records++
      continue
    }
    const m = /^q0: 2000 events in [\d.]+ s \([\d,]+ events\/s\), (\d+) result rows$/.exec(line)
    if (m !== null) rows = Number(m[1])
    else other.push(line)
  }
  return { records, rows, other }
}

describe('sluice outputs', { timeout: TEST_DEADLINE_MS }, () => {
  it('regression: --out /dev/null runs (no fsync of a character device: EINVAL)', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), ...RUN, '--no-server', '--out', '/dev/null'], { cwd: root, encoding: 'utf8', timeout: PROCESS_DEADLINE_MS })
    expect(r.stderr).toMatch(/q0: 2000 events in .* result rows/)
    expect(r.status).toBe(0)
  })

  it('regression: with > file 2>&1 the run summary never overwrites records, to stdout or to --out /dev/stdout', () => {
    for (const out of [[], ['--out', '/dev/stdout']]) {
      const file = join(dir, `both-${out.length}.txt`)
      const r = sluiceInto(file, ...RUN, '--port', '0', ...out)
      expect(r.code).toBe(0)
      const { records, rows, other } = split(r.lines)
      expect(rows).toBeGreaterThan(0)
      expect(records).toBe(rows)
      expect(other).toEqual([expect.stringMatching(/^Dashboard: http:\/\/127\.0\.0\.1:\d+\/ {2}\(metrics: /)])
    }
  })

  it('regression: --out /dev/stdout into a pipe writes every record (no positional write: ESPIPE)', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), ...RUN, '--no-server', '--out', '/dev/stdout'], { cwd: root, encoding: 'utf8', timeout: PROCESS_DEADLINE_MS })
    expect(r.status, r.stderr).toBe(0)
    const rows = Number(/(\d+) result rows/.exec(r.stderr)?.[1])
    expect(rows).toBeGreaterThan(0)
    const lines = r.stdout.split('\n').filter((l) => l !== '')
    expect(lines).toHaveLength(rows)
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow()
  })

  it('--out to a FIFO streams every record to its reader', async () => {
    const fifo = join(dir, 'results.fifo')
    execFileSync('mkfifo', [fifo])
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] })
    const chunks: Buffer[] = []
    reader.stdout.on('data', (c: Buffer) => chunks.push(c))
    const ended = once(reader, 'close')
    const sluice = spawn(process.execPath, [join(root, 'bin/sluice.js'), ...RUN, '--no-server', '--out', fifo], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    sluice.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const [code] = (await once(sluice, 'close')) as [number]
    await ended
    expect(code, stderr).toBe(0)
    const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l !== '')
    const rows = Number(/(\d+) result rows/.exec(stderr)?.[1])
    expect(rows).toBeGreaterThan(0)
    expect(lines).toHaveLength(rows)
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow()
  })
})
