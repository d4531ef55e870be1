import { randomBytes } from 'node:crypto'
import { SluiceError } from '../../errors.ts'

/** `savepoint-<id>-<UTC time>-<random>.sluice`: unique even when ids repeat after a resume. */
export function savepointName(id: number, triggeredAt: number): string {
  const time = new Date(triggeredAt).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `savepoint-${id}-${time}-${randomBytes(3).toString('hex')}.sluice`
}

/** Why a job without checkpoints cannot take a savepoint, and what to do. */
export function noCheckpointsError(job: string): SluiceError {
  return new SluiceError('CHECKPOINTS_DISABLED', `job "${job}" takes no checkpoints, so it cannot take a savepoint; run it with checkpoints (CLI: --checkpoint-dir <dir>)`)
}
