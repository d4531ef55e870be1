/**
 * Rule 1b, a saturated thread. Tasks share threads (one per worker), so a slow operator need not
 * fill its input queue: the thread it shares with its upstream is simply always busy, mostly with
 * it. Then that operator (or chain) is the bottleneck even without backpressure.
 */
import type { Evidence } from '../evidence.ts'
import type { OperatorView } from '../types.ts'
import { series, type Context, type Scored } from './context.ts'
import { mean, scaledParallelism, sum } from './measure.ts'
import { jobParallelism, names, onWorkers, parallelismOf } from './text.ts'

export function saturatedThreads(ctx: Context): Scored[] {
  if (ctx.window.length < ctx.o.minSamples) return []
  // Per thread: each task subtask's mean busy time over the window (chained operators share it).
  const perThread = new Map<number, Map<string, { busy: number; ops: OperatorView[]; subtask: number }>>()
  for (const op of ctx.view.operators) {
    const s = series(ctx.window, op.id)
    if (s.length < ctx.o.minSamples) continue
    op.subtasks.forEach((sub, i) => {
      const key = `${op.task}#${i}`
      const tasks = perThread.get(sub.worker) ?? (perThread.set(sub.worker, new Map()).get(sub.worker) as Map<string, { busy: number; ops: OperatorView[]; subtask: number }>)
      const t = tasks.get(key)
      if (t !== undefined) {
        t.ops.push(op)
        return
      }
      tasks.set(key, { busy: mean(s.map((x) => x.m.subtasks[i]?.busyMsPerSecond ?? x.m.busyMsPerSecond)), ops: [op], subtask: i })
    })
  }
  const out: Scored[] = []
  for (const [worker, tasks] of perThread) {
    const list = [...tasks.values()]
    const total = sum(list.map((t) => t.busy))
    if (total < ctx.o.threadSaturatedMsPerSecond) continue
    const top = list.sort((a, b) => b.busy - a.busy)[0]
    if (top.busy < total * ctx.o.threadDominantShare) continue
    const where = worker === -1 ? 'the main thread' : `worker ${worker}`
    const work = top.ops.filter((o) => o.kind === 'operator')
    // A task of sources alone is the source-bound rule's case.
    if (top.ops.every((o) => o.kind === 'source')) continue
    const op = work.length === 1 ? work[0] : (work[work.length - 1] ?? top.ops[0])
    const evidence: Evidence = { worker, threadBusyMsPerSecond: Math.round(total), taskBusyMsPerSecond: Math.round(top.busy), task: top.ops.map((o) => o.id).join(' -> '), parallelism: op.parallelism }
    // The thread's own CPU time tells computing from blocking: busy time is wall time in the
    // tasks' steps, which a synchronous call (or another process taking the core) also fills.
    const cpu = threadCpu(ctx, worker)
    if (cpu !== null) evidence.threadCpuMsPerSecond = Math.round(cpu)
    const offCpu = cpu !== null && cpu < total * ctx.o.threadCpuShare
      ? `; only ${Math.round(cpu)} ms/s of it on the CPU, so synchronous calls block the thread or other processes take its core` : ''
    const score = total / ctx.o.threadSaturatedMsPerSecond
    if (work.length === 1 && top.ops.length === 1) {
      const q = scaledParallelism(ctx, op.parallelism, top.busy)
      const oneThread = ctx.view.workerCount === 0 ? ` ${onWorkers(q)}` : ''
      evidence.recommendedParallelism = q
      out.push({ score, covers: top.ops.map((o) => o.id), finding: {
        kind: 'bottleneck', severity: 'critical', operator: op.id, evidence,
        title: `\`${op.id}\` is the bottleneck: it takes ${Math.round(top.busy)} of the ${Math.round(total)} busy ms/s of ${where}, which has no time left${offCpu}`,
        recommendation: `raise parallelism of \`${op.id}\` from ${op.parallelism} to ${q} (${parallelismOf(op, q)})${oneThread}, so its work spreads over more threads`,
        action: { kind: 'set-parallelism', operator: op.id, parallelism: q },
      } })
    } else {
      out.push({ score, covers: top.ops.map((o) => o.id), finding: {
        kind: 'bottleneck', severity: 'warning', operator: op.id, evidence,
        title: `${where} is saturated (${Math.round(total)} busy ms/s), ${Math.round(top.busy)} of them in the chain ${names(top.ops.map((o) => o.id))}${offCpu}`,
        recommendation: ctx.view.workerCount === 0
          ? `the job is CPU-bound on one thread: run it with ${jobParallelism(Math.max(2, op.parallelism * 2))}, which puts it on worker threads, or call \`.disableChaining()\` on the stream of its heaviest operator so that one gets its own task and its own busy time`
          : `raise the job's parallelism to ${jobParallelism(op.parallelism * 2)} (the chain runs at ${op.parallelism}), or call \`.disableChaining()\` on the stream of its heaviest operator so that one gets its own task and its own busy time`,
        action: null,
      } })
    }
  }
  return out
}

/** A thread's CPU ms/s over the window (samples without it: the current view's), or null when unknown. */
function threadCpu(ctx: Context, worker: number): number | null {
  const xs = ctx.window.flatMap((s) => s.workers?.find((w) => w.worker === worker)?.cpuMsPerSecond ?? [])
  if (xs.length > 0) return mean(xs)
  return ctx.view.workers.find((w) => w.worker === worker)?.cpuMsPerSecond ?? null
}
