/**
 * The `sluice` command line. A command's module is imported when that command runs, so that
 * `sluice --version`, `sluice top` or `sluice run job.mjs` load only what they use (the engine,
 * the server, the Nexmark generator, connector clients are each loaded on demand).
 */
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { DOCTOR_EXIT_HELP, type DoctorOptions } from './doctor.ts'
import type { SavepointOptions } from './savepoint.ts'
import { EXIT_USAGE, reportError } from './errors.ts'
import type { RunQueryCommandOptions } from './nexmark-command.ts'
import { withCheckpointOptions, withParallelismOptions, withServerOptions, type ServerFlags } from './flags.ts'
import { checkOptionValues, type CheckpointFlags } from './options.ts'
import { withClientOptions } from './monitor-client.ts'
import { TOP_HELP, type TopOptions } from './top.ts'
import type { DemoFlags } from './demo.ts'

export async function main(argv: string[]): Promise<number> {
  let code = 0
  const program = sluiceProgram((c) => {
    code = c
  })
  try {
    await program.parseAsync(argv, { from: 'user' })
    return code
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE
    return reportError(e)
  }
}

/**
 * The command line's commands and options (README.md's "Command line" lists the same; a test
 * keeps them in step). Every option value is checked by its one rule (options.ts) before a
 * command runs; an action hands its exit code to `exit`.
 */
export function sluiceProgram(exit: (code: number) => void): Command {
  const program = new Command('sluice')
    .description('Sluice: a stream-processing engine for TypeScript')
    .version(packageVersion(), '-V, --version', 'print the version of Sluice')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .hook('preAction', (_program, command) => checkOptionValues(command))

  withCheckpointOptions(withServerOptions(withParallelismOptions(program
    .command('run')
    .description('run a job module (.ts or .js) that exports a Pipeline')
    .argument('<job>', 'job file')
    .option('--explain', 'print the physical plan instead of running'), 'subtasks of each operator that declares none (default: the pipeline\'s parallelism)')))
    .action(async (job: string, o: { explain?: boolean; parallelism?: string; workers?: string } & ServerFlags & CheckpointFlags) => {
      // A missing file is refused before the engine loads.
      await (await import('./job-file.ts')).jobFilePath(job)
      exit(await (await import('./run-command.ts')).runJobCommand(job, o))
    })

  withServerOptions(withParallelismOptions(program
    .command('demo')
    .description('a continuous Nexmark job at full speed with the live dashboard, and a status line every second')
    .option('--duration <seconds>', 'stop after this many seconds (a whole number)')
    .option('--events <n>', 'stop after this many events (default: never; 0: never)'), 'subtasks of each operator (default 1)'))
    .action(async (o: DemoFlags) => {
      exit(await (await import('./demo.ts')).demoCommand(o))
    })

  const nexmark = program.command('nexmark').description('the Nexmark benchmark: generator and queries')
  nexmark
    .command('generate')
    .description('write Nexmark events as JSON Lines')
    .option('--events <n>', 'number of events', '1000000')
    .option('--seed <s>', 'random seed', '0')
    .option('--rate <eventsPerSecond>', 'event-time rate (spaces timestamps; never sleeps)')
    .requiredOption('--out <file|uri>', 'output file, or a broker: kafka://HOST:PORT/TOPIC, nats://HOST:PORT/STREAM, redis://HOST:PORT/KEY (?partitions=N, default 8, created when missing)')
    .action(async (o: { events?: string; seed?: string; rate?: string; out: string }) => {
      exit(await (await import('./nexmark-command.ts')).generateCommand(o))
    })
  withCheckpointOptions(withServerOptions(withParallelismOptions(nexmark
    .command('run')
    .description('run a Nexmark query and write its result rows as JSON Lines')
    .requiredOption('--query <qN>', 'q0, q1, q2, q3, q4, q5, q7, q8, q9 or q11')
    .option('--events <n>', 'number of generated events (0: unbounded)', '1000000')
    .option('--seed <s>', 'random seed', '0')
    .option('--rate <eventsPerSecond>', 'event-time rate of the generator')
    .option('--input <file|uri>', 'read events from a JSON Lines file or a broker (kafka://, nats://, redis:// URI, e.g. ?bounded=true) instead of the generator')
    .option('--out <file|uri>', 'write results to a file or a connector URI (kafka://, nats://, redis://, postgres://USER@HOST:PORT/DB?table=NAME; default: stdout)')
    .option('--discard', 'count results without writing them (benchmarking)')
    .option('--on-error <policy>', 'malformed input lines: fail, skip or dead-letter', 'fail')
    .option('--dead-letter <file|uri>', 'where dead-lettered lines go (a JSON Lines file or a connector URI)')
    .option('--max-line-bytes <size>', 'with --input: longer lines are malformed (--on-error), never read whole, e.g. 64KiB (default 16MiB)'), 'subtasks of each operator (default 1)')))
    .action(async (o: RunQueryCommandOptions) => {
      exit(await (await import('./nexmark-command.ts')).runQueryCommand(o))
    })

  withClientOptions(program
    .command('top'), 'the job to show')
    .description('a running job\'s operators, live: records/s, busy/waiting/backpressured/idle ms per second, p99, watermark lag, state; and its top finding')
    .option('--interval <duration>', 'redraw at most this often: 250ms, 2s (bare numbers are ms; at least 100ms; the server samples every second)', '1s')
    .option('--once', 'print one frame and exit (1 if the server cannot be reached)')
    .addHelpText('after', TOP_HELP)
    .action(async (url: string, o: TopOptions) => {
      exit(await (await import('./top.ts')).topCommand(url, o))
    })

  withClientOptions(program
    .command('doctor'), 'the job to diagnose')
    .description('a running job\'s diagnosis: each finding with its evidence and what to do')
    .option('--json', 'print the findings as JSON')
    .addHelpText('after', DOCTOR_EXIT_HELP)
    .action(async (url: string, o: DoctorOptions) => {
      exit(await (await import('./doctor.ts')).doctorCommand(url, o))
    })

  withClientOptions(program
    .command('savepoint'), 'the job to take a savepoint of')
    .description('take a savepoint of a running job (started with --checkpoint-dir); prints its path')
    .option('--dir <directory>', 'where to write it, under the job\'s savepoint root (--savepoint-dir of the job; default <checkpoint-dir>/savepoints): relative to the root, or absolute inside it (default: the root)')
    .option('--stop', 'stop the job once the savepoint is written (stop-with-savepoint)')
    .action(async (url: string, o: SavepointOptions) => {
      exit(await (await import('./savepoint.ts')).savepointCommand(url, o))
    })
  return program
}

/** Sluice's version, from its package.json (two levels up from src/cli/ and from dist/cli/). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}
