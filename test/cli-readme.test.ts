/**
 * The README's "Command line" section and the CLI's help agree (issue 13 item 5): every option of
 * every command's --help is in the command's table (or a group of options the section says it
 * takes), and every option the README gives a `sluice` command exists on that command.
 */
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { sluiceProgram } from '../src/cli/main.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const program = sluiceProgram(() => {})

function leafCommands(c: Command, path: string[] = []): Map<string, Command> {
  if (c.commands.length === 0) return new Map([[path.join(' '), c]])
  return new Map(c.commands.flatMap((sub) => [...leafCommands(sub, [...path, sub.name()])]))
}
const commands = leafCommands(program)

/** The long options a command's --help lists (without --help itself). */
function helpOptions(c: Command): string[] {
  const names = [...c.helpInformation().matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1])
  return names.filter((n) => n !== '--help').sort()
}

/** README's "## Command line" section, by its "### " subsections. */
function subsections(): Map<string, string> {
  const start = readme.indexOf('\n## Command line\n')
  expect(start, 'README.md has a "## Command line" section').toBeGreaterThan(0)
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  const parts = section.split('\n### ').slice(1)
  return new Map(parts.map((p) => [p.slice(0, p.indexOf('\n')), p]))
}

const tableOptions = (text: string): string[] => [...text.matchAll(/^\| `(--[a-z][a-z-]*)/gm)].map((m) => m[1])

const GROUPS = { 'monitoring server options': 'Monitoring server options', 'checkpoint options': 'Checkpoint options' }

/** The options the README gives each command: its table, and the groups its text names. */
function readmeOptions(): Map<string, string[]> {
  const sections = subsections()
  const byCommand = new Map<string, string[]>()
  for (const [heading, text] of sections) {
    const m = /^`sluice ([a-z]+(?: [a-z]+)*)(?: [<[].*)?`$/.exec(heading)
    if (m === null) continue
    const options = tableOptions(text)
    for (const [phrase, group] of Object.entries(GROUPS)) {
      if (!text.includes(phrase)) continue
      const groupText = sections.get(group)
      expect(groupText, `README.md has "### ${group}"`).toBeDefined()
      options.push(...tableOptions(groupText as string))
    }
    byCommand.set(m[1], options.sort())
  }
  return byCommand
}

/** Every `sluice …` command line in the README: shell blocks and inline code. */
function commandLines(): string[] {
  const lines: string[] = []
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) {
      const m = /^(?:\$ )?(?:npx )?(sluice .*?)(?:\s+#.*)?$/.exec(line.trim())
      if (m !== null) lines.push(m[1])
    }
  }
  for (const code of readme.matchAll(/`((?:npx )?sluice [^`]*)`/g)) lines.push(code[1].replace(/^npx /, ''))
  return lines
}

describe('README.md and the CLI', () => {
  it('lists every command, each with exactly the options its --help shows', () => {
    const documented = readmeOptions()
    expect([...documented.keys()].sort()).toEqual([...commands.keys()].sort())
    for (const [name, command] of commands) expect(documented.get(name), `sluice ${name}`).toEqual(helpOptions(command))
  })

  it('gives no `sluice` command an option it does not have', () => {
    const lines = commandLines()
    expect(lines.length).toBeGreaterThan(10)
    const rootOptions = helpOptions(program).concat('--help')
    const unknown: string[] = []
    for (const line of lines) {
      const words = line.split(/\s+/).slice(1)
      const name = [...commands.keys()].filter((c) => words.slice(0, c.split(' ').length).join(' ') === c).sort((a, b) => b.length - a.length)[0]
      const known = name === undefined ? rootOptions : [...helpOptions(commands.get(name) as Command), '--help']
      for (const option of line.match(/(?<=^|[\s[(])--[a-z][a-z-]*/g) ?? []) if (!known.includes(option)) unknown.push(`${line}: ${option}`)
    }
    expect(unknown).toEqual([])
  })

  it('names --version and --help, which the CLI has', () => {
    expect(helpOptions(program)).toEqual(['--version'])
    expect(subsections().size).toBeGreaterThan(0)
    expect(readme).toMatch(/`sluice\s+--version`/)
    expect(readme).toMatch(/`sluice --help`/)
  })

  it('describes --job by what each command does with the job', () => {
    const job = (name: string): string => /--job <id>\s+(.*)/.exec((commands.get(name) as Command).helpInformation())?.[1] ?? ''
    expect(job('top')).toMatch(/^the job to show/)
    expect(job('doctor')).toMatch(/^the job to diagnose/)
    expect(job('savepoint')).toMatch(/^the job to take a savepoint of/)
  })
})
