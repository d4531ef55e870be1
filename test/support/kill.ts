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

/** How a run of runAndKill ended: killed, or by itself with an exit code. */
export type RunEnd = { readonly killed: true } | { readonly killed: false; readonly code: number | null }

/**
 * Starts `node args` and kills it with SIGKILL: `early` kills land at a random moment of start-up
 * or restore; the others once the run has written a checkpoint newer than any before it, plus a
 * random delay (waiting for that event, not for a time, keeps the kills inside the job on a
 * loaded machine). A run that finishes first is the trial's last run: the caller must not run the
 * job again (it would start afresh, checkpoints cleared, and prove nothing).
 */
export function runAndKill(args: string[], o: { cwd: string; env?: Record<string, string>; chk: string; rnd: SeededRandom; early: boolean }): Promise<RunEnd> {
  const before = Math.max(0, ...checkpointIds(o.chk))
  const child = spawn(process.execPath, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: 'ignore' })
  return new Promise((resolve) => {
    let exited = false
    let killed = false
    child.on('exit', (code) => {
      exited = true
      resolve(killed ? { killed } : { killed, code })
    })
    const kill = (): void => {
      if (exited) return
      killed = true
      child.kill('SIGKILL')
    }
    if (o.early) {
      setTimeout(kill, 100 + Math.floor(o.rnd.float() * 1500))
      return
    }
    const poll = setInterval(() => {
      if (exited) return clearInterval(poll)
      if (Math.max(0, ...checkpointIds(o.chk)) > before) {
        clearInterval(poll)
        setTimeout(kill, Math.floor(o.rnd.float() * 600))
      }
    }, 20)
  })
}
