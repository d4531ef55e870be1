import { describe, expect, it } from 'vitest'
import { diagnose } from '../diagnosis.ts'
import type { JobView } from '../types.ts'
import { job, kinds, T0 } from './test-support.ts'

describe('diagnose: checkpoints', () => {
  const checkpoints = (o: Partial<NonNullable<JobView['checkpoints']>>): JobView['checkpoints'] => ({
    intervalMs: 1000, timeoutMs: 600_000, completed: 10, failed: 0, lastId: 10, lastFailure: null,
    lastDurationMs: 120, lastSizeBytes: 200_000, lastAlignmentMs: 0, lastStartDelayMs: 5, lastSyncMs: 10,
    restarts: 0, restoredFrom: null, restore: null, ...o,
  })
  const withCheckpoints = (c: JobView['checkpoints'], status: JobView['status'] = 'running'): JobView => ({ ...job().view(), checkpoints: c, status })

  it('stays silent for checkpoints that complete quickly', () => {
    expect(kinds(diagnose(withCheckpoints(checkpoints({})), job().history()))).toEqual(['healthy'])
  })

  it('reports checkpoints timing out under backpressure, with what to do', () => {
    const reason = 'timed out after 30000 ms with 1 of 2 tasks acknowledged: a barrier waits behind the records queued before it'
    const findings = diagnose(withCheckpoints(checkpoints({ failed: 3, lastFailure: { id: 13, triggeredAt: T0, reason } })), job().history())
    const f = findings.find((x) => x.kind === 'checkpoints')
    expect(f?.severity).toBe('warning')
    expect(f?.title).toBe('checkpoints are failing: checkpoint 13 failed (timed out after 30000 ms with 1 of 2 tasks acknowledged); 3 failed, 10 completed')
    expect(f?.recommendation).toMatch(/remove the bottleneck .*lower `run\(\{ channelCapacity \}\)` .*, or raise `--checkpoint-timeout` \(from code, `checkpoints: \{ timeoutMs \}`\)/)
    // None completed yet: critical, since a failure would replay from the start.
    const none = diagnose(withCheckpoints(checkpoints({ completed: 0, lastId: 0, failed: 2, lastFailure: { id: 2, triggeredAt: T0, reason } })), job().history())
    expect(none[0]).toMatchObject({ kind: 'checkpoints', severity: 'critical' })
  })

  it('ignores a checkpoint that failed because the job was ending, and failures of a job that is not running', () => {
    const ended = checkpoints({ failed: 1, lastFailure: { id: 11, triggeredAt: T0, reason: 'a task ended before acknowledging' } })
    expect(kinds(diagnose(withCheckpoints(ended), job().history()))).toEqual(['healthy'])
    const io = checkpoints({ failed: 1, lastFailure: { id: 11, triggeredAt: T0, reason: 'CHECKPOINT_IO: cannot write checkpoint 11 to /x: ENOSPC' } })
    expect(kinds(diagnose(withCheckpoints(io), job().history()))).toEqual(['checkpoints'])
    expect(kinds(diagnose(withCheckpoints(io, 'finished'), job().history()))).toEqual(['healthy'])
  })

  it('reports snapshots that stop a task for a large share of the interval, and the interval that fixes it', () => {
    const findings = diagnose(withCheckpoints(checkpoints({ lastSyncMs: 400, lastSizeBytes: 120e6 })), job().history())
    const f = findings.find((x) => x.kind === 'checkpoints')
    expect(f?.title).toBe('checkpoint snapshots stop a task for 400 ms every 1 s (40 % of its time)')
    expect(f?.recommendation).toMatch(/`--checkpoint-interval 4s`, from code `checkpoints: \{ intervalMs: 4000 \}`, keeps it under 10 %/)
  })
})
