import type { Checkpoint } from '../checkpoint/storage.ts'
import type { Task, TaskRestore } from './task.ts'

/** What task `t` restores from checkpoint `c` (null: a fresh start, sinks begin empty). */
export function restoreFor(t: Task, c: Checkpoint | null): TaskRestore {
  const operators = new Map<string, Uint8Array[]>()
  const sources = new Map<string, unknown>()
  const sinks = new Map<string, unknown>()
  let watermark = Number.NEGATIVE_INFINITY
  const ids = new Set<string>([t.id, ...t.operatorLinks.map((l) => l.id)])
  for (const l of t.operatorLinks) if (l.external !== null) sinks.set(l.id, null)
  if (c === null) return { operators, sources, sinks, watermark }
  let lowest = Number.POSITIVE_INFINITY
  for (const s of c.tasks) {
    let mine = false
    for (const [op, bytes] of Object.entries(s.operators)) {
      if (!ids.has(op)) continue
      mine = true
      const list = operators.get(op) ?? []
      list.push(bytes.length === 1 ? bytes[0] : Buffer.concat(bytes))
      operators.set(op, list)
    }
    if (s.subtask === t.subtask) {
      for (const [src, pos] of Object.entries(s.sources)) if (src === t.id) sources.set(src, pos)
      for (const [sink, commit] of Object.entries(s.sinks)) if (ids.has(sink)) sinks.set(sink, commit)
    }
    if ((mine || ids.has(s.task)) && s.watermark !== null && s.watermark < lowest) lowest = s.watermark
  }
  if (Number.isFinite(lowest)) watermark = lowest
  return { operators, sources, sinks, watermark }
}
