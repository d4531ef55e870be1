/** The `sluice` command line, run as a real process on real files. */
import { spawnSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PROCESS_DEADLINE_MS, root, sluice, TEST_DEADLINE_MS } from './support/cli.ts'

let dir: string

const lines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0)

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('sluice nexmark', { timeout: TEST_DEADLINE_MS }, () => {
  it('generate writes the requested events as JSON Lines', () => {
    const out = join(dir, 'events.jsonl')
    const r = sluice('nexmark', 'generate', '--events', '20000', '--seed', '3', '--out', out)
    expect(r.code).toBe(0)
    const ls = lines(out)
    expect(ls.length).toBe(20_000)
    const types = ls.map((l) => (JSON.parse(l) as { event_type: number }).event_type)
    expect(types.filter((t) => t === 2).length).toBe(18_400)
    expect(JSON.parse(ls[0])).toHaveProperty('event_type')
  })

  it('run on the generator processes exactly the events generate writes', () => {
    const events = join(dir, 'events.jsonl')
    const fromFile = join(dir, 'q2-file.jsonl')
    const fromGen = join(dir, 'q2-gen.jsonl')
    const a = sluice('nexmark', 'run', '--query', 'q2', '--input', events, '--out', fromFile)
    const b = sluice('nexmark', 'run', '--query', 'q2', '--events', '20000', '--seed', '3', '--out', fromGen)
    expect(a.code).toBe(0)
    expect(b.code).toBe(0)
    expect(lines(fromFile).length).toBeGreaterThan(0)
    expect(lines(fromGen).sort()).toEqual(lines(fromFile).sort())
    expect(a.stderr).toMatch(/q2: 20000 events in [\d.]+ s \([\d,]+ events\/s\), \d+ result rows/)
    const row = JSON.parse(lines(fromFile)[0]) as Record<string, unknown>
    expect(Object.keys(row)).toEqual(['auction', 'price'])
  })

  it('a malformed input line fails with its position, or is skipped, or dead-lettered', () => {
    const events = join(dir, 'bad.jsonl')
    writeFileSync(events, readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').slice(0, 100).join('\n') + '\n')
    appendFileSync(events, '{"event_type":2,"bid":{"auction":"x"}}\n')
    const fail = sluice('nexmark', 'run', '--query', 'q0', '--input', events, '--out', join(dir, 'o1.jsonl'))
    expect(fail.code).toBe(1)
    expect(fail.stderr).toMatch(/SOURCE_MALFORMED_RECORD: source "nexmark" rejected the record at \S*bad.jsonl line 101 \(byte \d+\): field bid.auction must be an integer/)
    const skip = sluice('nexmark', 'run', '--query', 'q0', '--input', events, '--out', join(dir, 'o2.jsonl'), '--on-error', 'skip')
    expect(skip.code).toBe(0)
    expect(lines(join(dir, 'o2.jsonl')).length).toBe(92)
    const dead = join(dir, 'dead.jsonl')
    const dl = sluice('nexmark', 'run', '--query', 'q0', '--input', events, '--out', join(dir, 'o3.jsonl'), '--on-error', 'dead-letter', '--dead-letter', dead)
    expect(dl.code).toBe(0)
    const letters = lines(dead).map((l) => JSON.parse(l) as { operator: string; position: string; reason: string; record: string })
    expect(letters).toHaveLength(1)
    expect(letters[0].operator).toBe('nexmark')
    expect(letters[0].position).toMatch(/line 101/)
    expect(letters[0].record).toContain('"auction":"x"')
  })

  it('--max-line-bytes: a longer input line is malformed under --on-error, and a bad size is a usage error', () => {
    const events = join(dir, 'long.jsonl')
    const head = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').slice(0, 50)
    writeFileSync(events, `${head.join('\n')}\n{"event_type":2,"pad":"${'p'.repeat(200_000)}"}\n${head.join('\n')}\n`)
    const fail = sluice('nexmark', 'run', '--query', 'q0', '--input', events, '--discard', '--no-server', '--max-line-bytes', '64KiB')
    expect(fail.code).toBe(1)
    expect(fail.stderr).toMatch(/SOURCE_MALFORMED_RECORD: .*long.jsonl line 51 \(byte \d+\): the line is 200\d\d\d bytes, longer than maxLineBytes \(65536\)/)
    const skip = sluice('nexmark', 'run', '--query', 'q0', '--input', events, '--discard', '--no-server', '--max-line-bytes', '64KiB', '--on-error', 'skip')
    expect(skip.code).toBe(0)
    const usage = sluice('nexmark', 'run', '--query', 'q0', '--input', events, '--discard', '--no-server', '--max-line-bytes', 'lots')
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/--max-line-bytes must be a size in bytes/)
  })

  it('an unknown query is a usage error', () => {
    const r = sluice('nexmark', 'run', '--query', 'q99', '--events', '10')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/CLI_USAGE: --query must be q0, q1, .* or q11, got "q99"/)
  })
})

describe('sluice run and demo', { timeout: TEST_DEADLINE_MS }, () => {
  it('runs a TypeScript job module without a build step', () => {
    const r = sluice('run', 'examples/first-job.ts')
    expect(r.code).toBe(0)
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { auction: number; bids: number })
    expect(rows).toContainEqual({ auction: 1, windowStart: 1767225600000, bids: 2 })
    expect(rows).toHaveLength(5)
    expect(r.stderr).toMatch(/bids: 1 skipped/)
  })

  it('regression: on worker threads, what a sink writes to stdout is not lost when the job ends', () => {
    for (let i = 0; i < 3; i++) {
      const r = sluice('run', 'examples/first-job.ts', '--parallelism', '2')
      expect(r.code).toBe(0)
      expect(r.stdout.trim().split('\n')).toHaveLength(5)
    }
  })

  it('a job reading stdin works on worker threads (stdin is forwarded to the worker running the source)', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), 'run', 'test/fixtures/stdin-job.ts'], { cwd: root, encoding: 'utf8', timeout: PROCESS_DEADLINE_MS, input: 'a b a\nc a\n' })
    expect(r.status).toBe(0)
    const last = new Map<string, string>()
    for (const l of r.stdout.trim().split('\n')) last.set(l.split(':')[0], l)
    expect([...last.values()].sort()).toEqual(['a:3', 'b:1', 'c:1'])
    expect(r.stderr).toMatch(/2 records read/)
  })

  it('explains the physical plan', () => {
    const r = sluice('run', 'examples/first-job.ts', '--explain')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/task 0 \(parallelism 1\): bids \[source file, event time\] -> valid \[filter\]/)
    expect(r.stdout).toMatch(/hash \(keyBy, by key group\) exchange/)
  })

  it('reports a missing job file clearly', () => {
    const r = sluice('run', 'no/such/job.ts')
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/job file not found/)
  })

  it('the demo runs continuously and stops cleanly', () => {
    const r = sluice('demo', '--duration', '2')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/events\/s/)
    expect(r.stdout).toMatch(/demo stopped/)
  })

  it('the demo takes --parallelism and --workers and runs on worker threads', () => {
    const r = sluice('demo', '--duration', '2', '--parallelism', '2', '--workers', '2', '--port', '0')
    expect(r.stderr).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\//)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/at full speed, parallelism 2 on 2 worker threads/)
    expect(r.stdout).toMatch(/task \d+ \(parallelism 2\)/)
    expect(r.stdout).toMatch(/events\/s .* hot-item windows \d+/)
    expect(r.stdout).toMatch(/demo stopped/)
  })
})
