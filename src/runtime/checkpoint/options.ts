/** How a job takes checkpoints: the `checkpoints` run option. */

export interface CheckpointOptions {
  /** Directory of the checkpoint files. */
  readonly dir: string
  /** Time between checkpoints, ms. */
  readonly intervalMs: number
  /** A checkpoint not complete after this long is abandoned (and the next one tried), ms. Default 10 minutes. */
  readonly timeoutMs?: number
  /** Completed checkpoints kept. Default 3. */
  readonly retain?: number
  /** Restore even if some operator state in the checkpoint has no operator to go to. */
  readonly allowNonRestoredState?: boolean
  /** Start from this savepoint file (instead of the newest checkpoint in `dir`). */
  readonly fromSavepoint?: string
  /**
   * The savepoint root: the only place the monitoring server's savepoint route writes (a request's
   * directory is taken relative to it). Default `<dir>/savepoints`. `handle.savepoint(dir)` itself
   * writes wherever it is told.
   */
  readonly savepointDir?: string
  /**
   * A savepoint asked for while the job is not running — its tasks still opening, or the job
   * restarting after a failure — waits this long for it to run, then fails with SAVEPOINT_FAILED, ms.
   * Default 1 minute.
   */
  readonly savepointWaitMs?: number
}

export const DEFAULT_CHECKPOINT_TIMEOUT_MS = 10 * 60_000
export const DEFAULT_SAVEPOINT_WAIT_MS = 60_000
