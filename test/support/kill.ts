/** Helpers of the crash tests: run a command and kill it with SIGKILL at a random moment. */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import type { SeededRandom } from '../../src/testing/random.ts'

/** Ids of the complete checkpoints in `chk`. */
export function checkpointIds(chk: string): number[] {
  if (!existsSync(chk)) return []
  return readdirSync(chk).flatMap((n) => {
    const m = /^checkpoint-(\d+)\.sluice$/.exec(n)
    return m === null ? [] : [Number(m[1])]
  })
}

/** How a run of runAndKill ended: killed, or by itself with an exit code; with what it wrote to stderr. */
export type RunEnd = ({ readonly killed: true } | { readonly killed: false; readonly code: number | null }) & { readonly stderr: string }

/** How runAndKill picks its moment. */
export interface KillOptions {
  readonly cwd: string
  readonly env?: Record<string, string>
  /** The run's checkpoint directory, watched for the checkpoints it writes. */
  readonly chk: string
  readonly rnd: SeededRandom
  /**
   * Kill at a random moment of start-up or restore instead of after the run's own checkpoints: up to
   * 1.6 s after the start, and at the latest when the run writes its first checkpoint (so an early
   * kill on a fast machine does not let the run get far into its input).
   */
  readonly early: boolean
  /** How many checkpoints newer than any before it the run must have written (and kept) before the kill; 1 unless told. */
  readonly afterCheckpoints?: number
  /** The kill lands up to this long (random) after those checkpoints; 600 ms unless told. */
  readonly maxDelayMs?: number
}

/**
 * Starts `node args` and kills it with SIGKILL: `early` kills land at a random moment of start-up
 * or restore; the others once the run has written `afterCheckpoints` checkpoints newer than any
 * before it, plus a random delay (waiting for that event, not for a time, keeps the kills inside
 * the job on a loaded machine). A run that finishes first is the trial's last run: the caller must
 * not run the job again (it would start afresh, checkpoints cleared, and prove nothing).
 */
export function runAndKill(args: string[], o: KillOptions): Promise<RunEnd> {
  const before = Math.max(0, ...checkpointIds(o.chk))
  const want = o.afterCheckpoints ?? 1
  const maxDelayMs = o.maxDelayMs ?? 600
  const child = spawn(process.execPath, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (s: string) => (stderr += s))
  return new Promise((resolve) => {
    let exited = false
    child.on('exit', () => {
      exited = true
    })
    // 'close', not 'exit': stderr has been read to its end. Killed is what the signal says, so a
    // run that finished just before its kill is reported as finished.
    child.on('close', (code, signal) => resolve(code === null && signal === 'SIGKILL' ? { killed: true, stderr } : { killed: false, code, stderr }))
    const kill = (): void => {
      if (!exited) child.kill('SIGKILL')
    }
    const early = o.early ? setTimeout(kill, 100 + Math.floor(o.rnd.float() * 1500)) : undefined
    const poll = setInterval(() => {
      if (exited) return clearInterval(poll)
      if (checkpointIds(o.chk).filter((id) => id > before).length >= (o.early ? 1 : want)) {
        clearInterval(poll)
        if (early === undefined) setTimeout(kill, Math.floor(o.rnd.float() * maxDelayMs))
        else {
          clearTimeout(early)
          kill()
        }
      }
    }, 20)
  })
}
