/**
 * One validation and one message per option across commands (issue 13 item 5): every command that
 * takes an option refuses each bad value with the same code, exit status and message, before it
 * does anything. The CLI runs in this process (sluiceProgram), so that every command × option ×
 * value can be tried; one case goes through a real process to check what a user sees.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { Command } from 'commander'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { main, sluiceProgram } from '../src/cli/main.ts'
import { parseChoice, parseOption } from '../src/cli/options.ts'
import { QUERIES } from '../src/nexmark/queries/index.ts'
import { ERROR_CODES } from '../src/errors.ts'

const root = new URL('..', import.meta.url).pathname

/** Each option that takes a value with a rule: bad values, and the one message for all of them. */
const RULES: Record<string, { bad: string[]; message: (v: string) => string }> = {
  '--parallelism': { bad: ['0', 'abc', '-1', '1.5', ''], message: (v) => `--parallelism must be a whole number >= 1, got "${v}"` },
  '--workers': { bad: ['abc', '-1', '2x'], message: (v) => `--workers must be a whole number >= 0, got "${v}"` },
  '--port': { bad: ['65536', 'abc', '-1'], message: (v) => `--port must be a whole number from 0 to 65535, got "${v}"` },
  '--events': { bad: ['abc', '-5', '1e6'], message: (v) => `--events must be a whole number >= 0, got "${v}"` },
  '--seed': { bad: ['abc', '-1'], message: (v) => `--seed must be a whole number >= 0, got "${v}"` },
  '--rate': { bad: ['0', 'fast'], message: (v) => `--rate must be a whole number >= 1, got "${v}"` },
  '--duration': { bad: ['0', '2s'], message: (v) => `--duration must be a whole number >= 1, got "${v}"` },
  '--interval': { bad: ['50', '99ms', 'often'], message: (v) => `--interval must be a duration like 500ms, 1s, 2m or 1h, at least 100ms, got "${v}"` },
  '--checkpoint-interval': { bad: ['5ms', 'soon'], message: (v) => `--checkpoint-interval must be a duration like 500ms, 1s, 2m or 1h, at least 10ms, got "${v}"` },
  '--checkpoint-timeout': { bad: ['0s', '1d'], message: (v) => `--checkpoint-timeout must be a duration like 500ms, 1s, 2m or 1h, at least 10ms, got "${v}"` },
  '--restart-attempts': { bad: ['-1', 'many'], message: (v) => `--restart-attempts must be a whole number >= 0, got "${v}"` },
  '--restart-delay': { bad: ['-1s', 'later'], message: (v) => `--restart-delay must be a duration like 500ms, 1s, 2m or 1h, got "${v}"` },
  '--restart-reset': { bad: ['0s', 'soon'], message: (v) => `--restart-reset must be a duration like 500ms, 1s, 2m or 1h, at least 1ms, got "${v}"` },
  '--max-line-bytes': { bad: ['0', '1TB', 'big'], message: (v) => `--max-line-bytes must be a size in bytes such as 1048576, 64KiB or 16MiB, got "${v}"` },
  '--query': { bad: ['q99', 'Q1', 'q6'], message: (v) => `--query must be q0, q1, q2, q3, q4, q5, q7, q8, q9 or q11, got "${v}"` },
  '--on-error': { bad: ['ignore'], message: (v) => `--on-error must be fail, skip or dead-letter, got "${v}"` },
  '--restart-backoff': { bad: ['linear'], message: (v) => `--restart-backoff must be fixed or exponential, got "${v}"` },
}

/** Options whose value is free text (a path, a URI, a host, a secret, a name): no rule to check here. */
const FREE_TEXT = new Set(['--host', '--token', '--allowed-host', '--job', '--dir', '--out', '--input', '--dead-letter', '--checkpoint-dir', '--from-savepoint', '--savepoint-dir'])

/** What a command needs besides the option under test; nothing runs, the value is refused first. */
const REQUIRED: Record<string, string[]> = {
  run: ['no-such-job.ts'],
  'nexmark generate': ['--out', join(root, 'never-written.jsonl')],
  'nexmark run': ['--query', 'q0'],
}

function leafCommands(c: Command, path: string[] = []): { path: string[]; command: Command }[] {
  if (c.commands.length === 0) return [{ path, command: c }]
  return c.commands.flatMap((sub) => leafCommands(sub, [...path, sub.name()]))
}

const commands = leafCommands(sluiceProgram(() => {}))

/** Runs the CLI in this process and returns its exit code and what it wrote on stderr. */
async function sluice(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = ''
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk)
    return true
  })
  try {
    return { code: await main(argv), stderr }
  } finally {
    spy.mockRestore()
  }
}

afterEach(() => vi.restoreAllMocks())

describe('option values', () => {
  it('every option that takes a value has a rule here or is free text', () => {
    const unknown = commands.flatMap(({ path, command }) =>
      command.options.filter((o) => (o.required || o.optional) && o.long !== undefined && !(o.long in RULES) && !FREE_TEXT.has(o.long)).map((o) => `${path.join(' ')} ${o.long}`))
    expect(unknown).toEqual([])
  })

  const cases = commands.flatMap(({ path, command }) =>
    command.options.filter((o) => o.long !== undefined && o.long in RULES).flatMap((o) =>
      RULES[o.long as string].bad.map((value) => ({ command: path.join(' '), argv: [...path, ...(REQUIRED[path.join(' ')] ?? []), o.long as string, value], option: o.long as string, value }))))

  it('the commands that run a job all take --parallelism and --workers (the demo too)', () => {
    for (const name of ['run', 'demo', 'nexmark run']) {
      expect(cases.filter((c) => c.command === name && c.option === '--parallelism').length, name).toBeGreaterThan(0)
      expect(cases.filter((c) => c.command === name && c.option === '--workers').length, name).toBeGreaterThan(0)
    }
  })

  it.each(cases.map((c) => [c.command, c.option, c.value, c.argv] as const))('%s %s "%s": CLI_USAGE with the option\'s one message, exit 2', async (_command, option, value, argv) => {
    const r = await sluice([...argv])
    expect(r.stderr).toBe(`sluice: CLI_USAGE: ${RULES[option].message(value)}\n  what to do: ${ERROR_CODES.CLI_USAGE.hint}\n`)
    expect(r.code).toBe(2)
  })

  it('reads good values the same way on every command', () => {
    expect(parseOption('--parallelism', '1_000')).toBe(1000)
    expect(parseOption('--port', '0')).toBe(0)
    expect(parseOption('--interval', '250')).toBe(250)
    expect(parseOption('--interval', '2s')).toBe(2000)
    expect(parseOption('--restart-reset', '2h')).toBe(7_200_000)
    expect(parseOption('--max-line-bytes', '64KiB')).toBe(65536)
    expect(parseOption('--events', undefined)).toBeUndefined()
    for (const q of Object.keys(QUERIES)) expect(parseChoice('--query', q)).toBe(q)
  })

  it('regression: --parallelism 0 is the same usage error from `run` and `nexmark run` in a real process', () => {
    for (const argv of [['run', 'examples/first-job.ts'], ['nexmark', 'run', '--query', 'q0', '--events', '10']]) {
      const r = spawnSync(process.execPath, [join(root, 'bin/sluice.js'), ...argv, '--parallelism', '0', '--no-server'], { cwd: root, encoding: 'utf8', timeout: 120_000 })
      expect(r.stderr).toBe(`sluice: CLI_USAGE: --parallelism must be a whole number >= 1, got "0"\n  what to do: ${ERROR_CODES.CLI_USAGE.hint}\n`)
      expect(r.status).toBe(2)
    }
  }, 300_000)
})
