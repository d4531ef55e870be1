/**
 * The final checkpoint (FINAL_CHECKPOINT): a job taking checkpoints makes the output written after
 * its last periodic checkpoint visible only with a checkpoint that records it. The sink here
 * behaves like Kafka's transactional producer: what a writer stages is invisible until committed,
 * a commit cannot be undone, and a recovering writer commits the transactions its checkpoint names
 * and aborts the rest. Before the final checkpoint existed, a bounded job committed its tail when
 * its sinks closed, after the last checkpoint: a process killed between that commit and the
 * clearing of the checkpoints resumed from the last periodic one and wrote the tail twice (seen as
 * duplicates in the Kafka crash test).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Pipeline } from '../../api/pipeline.ts'
import { fromArray } from '../../connectors/array-source.ts'
import type { Sink, SinkCommit, SinkContext, SinkWriter } from '../../connectors/spi.ts'
import { CheckpointStorage } from '../checkpoint/storage.ts'

interface TxnCommit extends SinkCommit {
  readonly txns: readonly number[]
}

/** Transactions by id (global to the sink, like transactional ids with epochs), visible once committed. */
class TransactionalLog implements Sink<number> {
  readonly kind = 'transactional-log'
  readonly exactlyOnce = true
  readonly parallel = true
  readonly visible: number[] = []
  /** Records of each transaction not yet committed or aborted. */
  readonly txns = new Map<number, number[]>()
  nextTxn = 1
  /** Throws on the commit that would make `failOnCommitOf` visible: the process "dies" there. */
  failOnCommitOf: number | null = null
  /** Records still uncommitted when a writer closed (close commits them: they escaped every checkpoint). */
  committedByClose = 0
  readonly commits: number[][] = []

  open(_ctx: SinkContext, recoverFrom?: SinkCommit | null): SinkWriter<number> {
    if (recoverFrom !== undefined && recoverFrom !== null) for (const t of (recoverFrom as TxnCommit).txns) this.commitTxn(t)
    // Fencing: everything else a previous writer left open is aborted.
    this.txns.clear()
    return new LogWriter(this)
  }

  commitTxn(t: number): void {
    const records = this.txns.get(t)
    if (records === undefined) return
    if (this.failOnCommitOf !== null && records.includes(this.failOnCommitOf)) throw new Error(`killed while committing transaction ${t}`)
    this.txns.delete(t)
    this.visible.push(...records)
  }
}

class LogWriter implements SinkWriter<number> {
  private current: number | null = null
  private pending: number[] = []

  constructor(private readonly log: TransactionalLog) {}

  write(batch: readonly number[]): void {
    if (this.current === null) {
      this.current = this.log.nextTxn++
      this.log.txns.set(this.current, [])
    }
    ;(this.log.txns.get(this.current) as number[]).push(...batch)
  }

  preCommit(): TxnCommit {
    if (this.current !== null) this.pending.push(this.current)
    this.current = null
    return { txns: [...this.pending] }
  }

  commit(c: SinkCommit): void {
    const txns = (c as TxnCommit).txns
    this.log.commits.push([...txns])
    for (const t of txns) this.log.commitTxn(t)
    this.pending = this.pending.filter((t) => !txns.includes(t))
  }

  close(): void {
    for (const t of [...this.pending, ...(this.current === null ? [] : [this.current])]) {
      this.log.committedByClose += this.log.txns.get(t)?.length ?? 0
      this.log.commitTxn(t)
    }
  }
}

const N = 20_000
const input = Array.from({ length: N }, (_, i) => i)
let dir: string

function job(sink: TransactionalLog, parallelism: number): Pipeline {
  const p = new Pipeline('final-checkpoint')
  p.source('numbers', fromArray(input), { batchSize: 64 })
    .map('same', (n) => n)
    .to('log', sink, { parallelism })
  return p
}

afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe('the final checkpoint at the end of the input', () => {
  it.each([1, 2])('commits the output after the last periodic checkpoint only with a checkpoint that records it (sink parallelism %i)', async (parallelism) => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-final-'))
    const sink = new TransactionalLog()
    const result = await job(sink, parallelism).run({ checkpoints: { dir, intervalMs: 10 }, restart: false }).done
    expect(result.status).toBe('finished')
    expect(sink.committedByClose).toBe(0)
    expect([...sink.visible].sort((a, b) => a - b)).toEqual(input)
    expect(sink.txns.size).toBe(0)
    // A finished job clears its checkpoints, the final one too.
    expect(new CheckpointStorage(dir, 3, () => {}).latest()).toBeNull()
  })

  it('a run killed while committing the final checkpoint resumes from it and writes nothing twice', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-final-'))
    const sink = new TransactionalLog()
    sink.failOnCommitOf = N - 1
    await expect(job(sink, 1).run({ checkpoints: { dir, intervalMs: 10 }, restart: false }).done).rejects.toThrow(/killed while committing/)
    expect(sink.visible).not.toContain(N - 1)
    const final = new CheckpointStorage(dir, 3, () => {}).latest()
    expect(final?.final).toBe(true)

    sink.failOnCommitOf = null
    const lines: string[] = []
    const write = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stderr.write
    let status: string
    try {
      status = (await job(sink, 1).run({ checkpoints: { dir, intervalMs: 10 }, restart: false }).done).status
    } finally {
      process.stderr.write = write
    }
    expect(status).toBe('finished')
    expect(lines.join('')).toMatch(new RegExp(`resuming from checkpoint ${final?.id} .*the final one, taken at the end of the input`))
    expect([...sink.visible].sort((a, b) => a - b)).toEqual(input)
  })
})
