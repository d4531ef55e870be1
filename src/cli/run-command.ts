/** `sluice run <job>`: imports a job module (TypeScript or JavaScript) and runs its pipeline. */
import { pathToFileURL } from 'node:url'
import { jobTotal, type Pipeline } from '../index.ts'
import { loadPipeline } from '../runtime/worker/job-module.ts'
import { jobFilePath } from './job-file.ts'
import { EXIT_OK } from './errors.ts'
import { checkpointOptions, onInterrupt, parseOption, restartOptions, type CheckpointFlags } from './options.ts'
import { defaultWorkers } from '../runtime/coordinator/threaded-attempt.ts'
import { prefetchCheckpoint } from '../runtime/checkpoint/storage.ts'
import { monitorJob, type ServerFlags } from './monitoring.ts'

/** Loads the Pipeline a job module exports: `default`, `pipeline`, or a function returning one. */
export async function loadJob(file: string): Promise<Pipeline> {
  const path = await jobFilePath(file)
  const url = pathToFileURL(path).href
  const p = (await loadPipeline({ url })) as Pipeline
  // Workers load the same module the same way (default export, then `pipeline`).
  p.module ??= { url }
  return p
}

export async function runJobCommand(file: string, o: { explain?: boolean; parallelism?: string; workers?: string } & ServerFlags & CheckpointFlags): Promise<number> {
  // The checkpoint to resume from is read while the job module loads.
  const [p] = await Promise.all([loadJob(file), o.checkpointDir === undefined ? null : prefetchCheckpoint(o.checkpointDir, o.fromSavepoint)])
  const parallelism = parseOption('--parallelism', o.parallelism)
  const effective = parallelism ?? p.parallelism
  const checkpoints = checkpointOptions(o)
  const workers = parseOption('--workers', o.workers) ?? (effective > 1 ? defaultWorkers(effective) : 0)
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
    // Counted over the whole job: a run that resumed from a checkpoint adds what it had counted.
    const restore = job.checkpoints()?.restore ?? null
    const total = (op: string, counter: 'recordsOut' | 'skipped' | 'deadLettered' | 'lateDropped'): number => jobTotal(r.metrics, restore?.counts, op, counter)
    let read = 0
    for (const n of p.graph.nodes.values()) if (n.type === 'source') read += total(n.id, 'recordsOut')
    let line = `job "${p.name}" ${r.status} in ${s.toFixed(2)} s: ${read} records read`
    for (const id of p.graph.nodes.keys()) {
      const [skipped, deadLettered, late] = [total(id, 'skipped'), total(id, 'deadLettered'), total(id, 'lateDropped')]
      if (skipped + deadLettered + late > 0) line += `; ${id}: ${skipped} skipped, ${deadLettered} dead-lettered, ${late} late`
    }
    if (restore !== null) line += ` (counted since the job first started; this run resumed from checkpoint ${restore.checkpointId})`
    process.stderr.write(`${line}\n`)
    for (const w of r.warnings) process.stderr.write(`sluice: warning: ${w.message}\n`)
    return EXIT_OK
  } finally {
    release()
    await monitoring.close()
  }
}
