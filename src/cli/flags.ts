/** The flags of the commands that run a job, defined apart from what uses them so that the CLI loads fast. */
import type { Command } from 'commander'

export interface ServerFlags {
  /** false with --no-server. */
  server?: boolean
  port?: string
  host?: string
  token?: string
  /** --allowed-host, repeatable. */
  allowedHost?: string[]
}

/** Adds the checkpoint, savepoint and restart flags (--checkpoint-*, --from-savepoint, --savepoint-dir, --restart-*) to a command. */
export function withCheckpointOptions(c: Command): Command {
  return c
    .option('--checkpoint-dir <dir>', 'take exactly-once checkpoints into this directory; resume from it if it holds one')
    .option('--checkpoint-interval <duration>', 'time between checkpoints: 500ms, 1s, 2m (default 1s)')
    .option('--checkpoint-timeout <duration>', 'abandon a checkpoint not complete after this long (default 10m)')
    .option('--allow-non-restored-state', 'resume even if the checkpoint has state for operators this job no longer has')
    .option('--from-savepoint <path>', 'start from this savepoint file (needs --checkpoint-dir for the checkpoints that follow)')
    .option('--savepoint-dir <dir>', 'the only directory (and those under it) the monitoring server writes savepoints to (default <checkpoint-dir>/savepoints)')
    .option('--restart-attempts <n>', 'with checkpoints: restarts from the latest checkpoint after a crash or I/O failure (default 3)')
    .option('--restart-delay <duration>', 'wait before a restart (default 1s)')
    .option('--restart-backoff <kind>', 'fixed (default) or exponential (doubles the delay each time)')
    .option('--restart-reset <duration>', 'a run this long without failing starts the count of restarts again (default 10m)')
}

/** Adds --parallelism (described by `parallelism`: what it applies to, its default) and --workers to a command that runs a job. */
export function withParallelismOptions(c: Command, parallelism: string): Command {
  return c
    .option('--parallelism <n>', parallelism)
    .option('--workers <n>', 'worker threads (default: one per core up to the parallelism; 0 = this thread)')
}

/** Adds --no-server, --port, --host, --token and --allowed-host to a command. */
export function withServerOptions(c: Command): Command {
  return c
    .option('--no-server', 'do not start the monitoring server (dashboard, /metrics, API)')
    .option('--port <n>', 'monitoring server port (default 8420, or the next free one; 0: any free port)')
    .option('--host <host>', 'monitoring server address (default 127.0.0.1; any other needs --token)')
    .option('--token <secret>', 'bearer token the monitoring server requires (default: env SLUICE_TOKEN; never empty)')
    .option('--allowed-host <name>', 'a host name the server answers to besides loopback and its address, e.g. a reverse proxy\'s (repeatable; other Host headers are refused)', (v: string, all: string[] = []) => [...all, v])
}
