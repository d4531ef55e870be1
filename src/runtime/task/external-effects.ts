/**
 * Chain members whose work leaves the job — a sink's writes today, an asynchronous call later —
 * take part in the task's lifecycle through this interface: an opening that may restore to a
 * commit, a promise the task parks on while a call is in flight, a two-phase commit at
 * checkpoints, and a close that flushes or an abort that discards. The task treats every link the
 * same; a link without external effects has `external: null`.
 */
import type { ConnectionStatus, SinkCommit } from '../../connectors/spi.ts'
import type { OperatorContextImpl } from './operator-context.ts'

export interface ExternalEffects {
  /** The call in flight, if any: the task parks on it and takes it back (sets it to null). */
  pending: Promise<void> | null
  /** `recoverFrom`: undefined without checkpoints, null for a checkpointed job starting empty. */
  openWriter(ctx: OperatorContextImpl, recoverFrom?: SinkCommit | null): Promise<void>
  /** At a barrier: make the writes so far durable but invisible; what to commit later (null: nothing). */
  preCommit(checkpointId: number): Promise<SinkCommit | null>
  /** The checkpoint completed: make its pre-committed writes visible. */
  commit(c: SinkCommit): Promise<void>
  flushAndClose(): Promise<void>
  /** After a failure: release without flushing; `discard` drops what was not committed. */
  abort(discard?: boolean): Promise<void>
  connection(): ConnectionStatus | null
}

interface Member {
  readonly id: string
  readonly external: ExternalEffects | null
}

/** The first in-flight call from the tail of the chain, taken, or null. */
export function takePending(links: readonly Member[]): Promise<void> | null {
  for (let k = links.length - 1; k >= 0; k--) {
    const e = links[k].external
    if (e !== null && e.pending !== null) {
      const p = e.pending
      e.pending = null
      return p
    }
  }
  return null
}

/** Every in-flight call, taken (before the task closes its links). */
export function takeAllPending(links: readonly Member[]): Promise<void>[] {
  const out: Promise<void>[] = []
  for (const l of links) {
    const e = l.external
    if (e !== null && e.pending !== null) {
      out.push(e.pending)
      e.pending = null
    }
  }
  return out
}

export function hasExternalEffects(links: readonly Member[]): boolean {
  return links.some((l) => l.external !== null)
}

/** Pre-commits every member for checkpoint `id`: member id → what to commit (members with nothing left out). */
export async function preCommitAll(links: readonly Member[], id: number): Promise<Record<string, unknown>> {
  const members = links.filter((l) => l.external !== null)
  const commits = await Promise.all(members.map((l) => (l.external as ExternalEffects).preCommit(id)))
  const out: Record<string, unknown> = {}
  members.forEach((l, i) => {
    if (commits[i] !== null) out[l.id] = commits[i]
  })
  return out
}

/** Commits what each member pre-committed for a completed checkpoint (`commits` by member id). */
export async function commitAll(links: readonly Member[], commits: Record<string, unknown>): Promise<void> {
  const work: Promise<void>[] = []
  for (const l of links) {
    const c = commits[l.id]
    if (l.external !== null && c !== undefined) work.push(l.external.commit(c as SinkCommit))
  }
  await Promise.all(work)
}
