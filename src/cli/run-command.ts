/** `sluice run <job>`: imports a job module (TypeScript or JavaScript) and runs its pipeline. */
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { access } from 'node:fs/promises'
import { operatorTotal, type Pipeline } from '../index.ts'
import { loadPipeline } from '../runtime/job-module.ts'
import { SluiceError } from '../errors.ts'
import { EXIT_OK } from './errors.ts'
import { checkpointOptions, onInterrupt, parseCount, restartOptions, type CheckpointFlags } from './options.ts'
import { defaultWorkers } from '../runtime/coordinator/threaded-job.ts'
import { prefetchCheckpoint } from '../runtime/checkpoint/storage.ts'
import { monitorJob, type ServerFlags } from './monitoring.ts'

/** Loads the Pipeline a job module exports: `default`, `pipeline`, or a function returning one. */
export async function loadJob(file: string): Promise<Pipeline> {
  const path = resolve(file)
  try {
    await access(path)
  } catch {
    throw new SluiceError('CLI_USAGE', `job file not found: ${path}`)
  }
  const url = pathToFileURL(path).href
  const p = (await loadPipeline({ url })) as Pipeline
  // Workers load the same module the same way (default export, then `pipeline`).
  p.module ??= { url }
  return p
}

export async function runJobCommand(file: string, o: { explain?: boolean; parallelism?: string; workers?: string } & ServerFlags & CheckpointFlags): Promise<number> {
  // The checkpoint to resume from is read while the job module loads.
  const [p] = await Promise.all([loadJob(file), o.checkpointDir === undefined ? null : prefetchCheckpoint(o.checkpointDir, o.fromSavepoint)])
  const parallelism = parseCount('--parallelism', o.parallelism)
  if (parallelism === 0) throw new SluiceError('CLI_USAGE', '--parallelism must be at least 1')
  const effective = parallelism ?? p.parallelism
  const checkpoints = checkpointOptions(o)
  const workers = parseCount('--workers', o.workers) ?? (effective > 1 ? defaultWorkers(effective) : 0)
  const restart = restartOptions(o)
  const runOptions = { ...(parallelism === undefined ? {} : { parallelism }), workers, ...(checkpoints === undefined ? {} : { checkpoints }), ...(restart === undefined ? {} : { restart }) }
  if (o.explain) {
    process.stdout.write(`${p.explain(parallelism === undefined ? {} : { parallelism })}\n`)
    return EXIT_OK
  }
  const t0 = performance.now()
  const job = p.run(runOptions)
  const release = onInterrupt(() => void job.stop())
  const monitoring = await monitorJob(p, job, o)
  try {
    const r = await job.done
    const s = (performance.now() - t0) / 1000
    let read = 0
    for (const n of p.graph.nodes.values()) if (n.type === 'source') read += operatorTotal(r.metrics, n.id, 'recordsOut')
    const problems = r.metrics.operators.filter((m) => m.skipped + m.deadLettered + m.lateDropped > 0)
    let line = `job "${p.name}" ${r.status} in ${s.toFixed(2)} s: ${read} records read`
    for (const m of problems) line += `; ${m.operator}: ${m.skipped} skipped, ${m.deadLettered} dead-lettered, ${m.lateDropped} late`
    process.stderr.write(`${line}\n`)
    return EXIT_OK
  } finally {
    release()
    await monitoring.close()
  }
}
